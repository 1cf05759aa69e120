"""``sparsecode report MODEL CORPUS OUTPUT_DIR``: the visual report (PNG plots + one HTML page)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..jobs.chunks import CorpusOptions
from ..jobs.report import build_report
from .options import CorpusArg, ModelArg, Overwrite, console, handle_errors, reads_corpus


@handle_errors()
@reads_corpus
def report(
    model: ModelArg,
    corpus: CorpusArg,
    output_dir: Annotated[Path, typer.Argument(help="Folder for the PNG plots and report.html.", show_default=False)],
    max_docs: Annotated[int, typer.Option(min=1, help="Documents sampled from the corpus for the map and the L0 "
                                                      "histogram.")] = 1500,
    peers: Annotated[Optional[Path], typer.Option(help="peers.json of the peer benchmark (benchmarks/results/"
                                                       "peers.json) for the peers plot.")] = None,
    overwrite: Overwrite = False,
    *,
    reading: CorpusOptions,
) -> None:
    """Write the visual report: PNG plots and one self-contained HTML page embedding them.

    The plots: training curves, top words per latent, a document map, the L0 histogram and,
    with --peers, the peer benchmark. The map and the histogram encode documents sampled
    from CORPUS (usually the one the model was trained on).
    """
    page = build_report(model, output_dir, corpus=corpus, reading=reading, max_docs=max_docs, peers_json=peers,
                        overwrite=overwrite)
    console.print(f"Wrote {page} and {len(list(output_dir.glob('*.png')))} PNG plots to {output_dir}/", soft_wrap=True)
