"""``sparsecode report MODEL OUT_DIR``: the visual report (PNG plots + one HTML page)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def report(
    model: Path = typer.Argument(..., help="Pipeline folder with a 'sparsecode' component."),
    out_dir: Path = typer.Argument(..., help="Folder for the PNG plots and report.html."),
    corpus: str = typer.Option("bbc", help="Documents for the map and L0 histogram: 'bbc' or a corpus path."),
    max_docs: int = typer.Option(1500, min=1, help="Documents sampled from the corpus."),
    peers: Optional[Path] = typer.Option(None, help="peers.json of the benchmark (default: benchmarks/results/peers.json)."),
) -> None:
    """Write training curves, top words per latent, a document map, the L0 histogram and the
    peer benchmark plot as PNGs, plus one self-contained HTML page embedding them."""
    from ..jobs.report import build_report

    try:
        page = build_report(model, out_dir, corpus=corpus, max_docs=max_docs, peers_json=peers)
    except (ImportError, ValueError, OSError) as error:
        err_console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=1)
    console.print(f"Wrote {page} and {len(list(Path(out_dir).glob('*.png')))} PNG plots to {out_dir}/")


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to the ``sparsecode`` app."""
    app.command("report")(report)
