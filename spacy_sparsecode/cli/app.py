"""The ``sparsecode`` command line (typer + rich): the app, ``--version``, ``encode``, ``evaluate``.

One grammar: the model (where a command needs one), then the corpus, then the output, all
positional (``demo``'s corpus and output are optional, with defaults); ``evaluate``, which
prints its result, also writes it where ``--output/-o`` says. Options with one meaning have
one name, defined once in ``options``. Every corpus-reading command takes the
corpus options of ``options.reads_corpus``; every command refuses to replace an output
without --overwrite and prints our errors as one line, exiting 1 (``options.handle_errors``).
The commands live in ``train`` (train, demo), ``tasks`` (topics, compress, decompress,
summarize, generate) and ``report``; the work is done in ``jobs`` and ``tasks``.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..io import check_output_file, write_json_atomic
from ..jobs.chunks import CorpusOptions
from ..jobs.encode import EncodeJob, encode_corpus
from ..jobs.evaluate import evaluate_corpus
from ..progress import progress_bar
from . import report, tasks, train
from .options import (RESUME_HINT, AsJson, CorpusArg, GpuId, ModelArg, Overwrite, Resume, Threads, console,
                      handle_errors, reads_corpus, report_skipped, set_threads)

app = typer.Typer(help="Learn sparse document codes with spaCy: train, encode, inspect.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"spacy-sparsecode {importlib.metadata.version('spacy-sparsecode')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """spacy-sparsecode: sparse document codes for spaCy pipelines."""


@handle_errors(interrupted=RESUME_HINT)
@reads_corpus
def encode(
    model: ModelArg,
    corpus: CorpusArg,
    output: Annotated[Path, typer.Argument(help="Output file: .npz (scipy CSR + ids), .parquet (id, indices, values) "
                                                "or .spacy (DocBin).", show_default=False)],
    gpu_id: GpuId = -1,
    resume: Resume = False,
    overwrite: Overwrite = False,
    threads: Threads = 0,
    *,
    reading: CorpusOptions,
) -> None:
    """Encode a corpus into sparse codes, streaming (memory does not grow with the corpus).

    The output is written under a temporary name and renamed when complete; finished
    chunks are kept next to it (OUTPUT.partial) until then, so --resume loses no work.
    """
    set_threads(threads)
    job = EncodeJob(model=model, corpus=corpus, output=output, reading=reading, gpu_id=gpu_id, resume=resume,
                    overwrite=overwrite)
    with progress_bar() as bar:
        task = bar.add_task("encoding", total=None, info="")
        summary = encode_corpus(job, on_chunk=lambda n: bar.update(task, advance=n))
    report_skipped(summary["n_skipped"], summary["skipped"])
    resumed = f" ({summary['n_resumed']:,} from the interrupted run)" if summary["n_resumed"] else ""
    console.print(f"Encoded {summary['n_docs']:,} documents{resumed} in {summary['seconds']:.1f}s "
                  f"({summary['docs_per_s']:,.0f} docs/s) → {output}", soft_wrap=True)


@handle_errors()
@reads_corpus
def evaluate(
    model: ModelArg,
    corpus: CorpusArg,
    label_field: Annotated[str, typer.Option(help="Field holding the label (probe accuracy, cluster NMI).")] = "label",
    probe_seed: Annotated[int, typer.Option(help="Seed of the probe's train/test split.")] = 0,
    as_json: AsJson = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Also write the metrics as JSON here.")] = None,
    overwrite: Overwrite = False,
    threads: Threads = 0,
    *,
    reading: CorpusOptions,
) -> None:
    """Score a model on a corpus (held-out documents; labels are used when present): NPMI, TD, L0, dead
    share, reconstruction fit, probe accuracy, NMI."""
    set_threads(threads)
    if output is not None:
        check_output_file(output, overwrite)
    with progress_bar(enabled=not as_json) as bar:
        task = bar.add_task("evaluating", total=None, info="")
        result = evaluate_corpus(model, corpus, reading, label_field=label_field, seed=probe_seed,
                                 on_chunk=lambda n: bar.update(task, advance=n))
    if output is not None:
        write_json_atomic(output, result)
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    table = Table(title=f"{model} on {corpus} ({result['n_docs']:,} documents)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("npmi_heldout", "td", "unsupported_share", "mean_l0", "dead_share", "reconstruction_fit",
                "probe_accuracy", "cluster_nmi"):
        value = result[key]
        table.add_row(key, "n/a (no labels)" if value is None else f"{value:.4f}")
    console.print(table)
    weakest = sorted(result["latents"], key=lambda row: row["npmi_heldout"])[:10]
    table = Table(title="The 10 latents with the least coherent top words (all of them: --json)")
    for column, justify in (("latent", "right"), ("docs", "right"), ("NPMI", "right"), ("median df", "right"),
                            ("top words", "left")):
        table.add_column(column, justify=justify)
    for row in weakest:
        table.add_row(str(row["latent"]), str(row["docs_served"]), f"{row['npmi_heldout']:.3f}",
                      f"{row['top_df_median']:.0f}", " ".join(row["top_words"]))
    console.print(table)


for command in (train.train, encode, evaluate, tasks.topics, tasks.compress, tasks.decompress, tasks.summarize,
                tasks.generate, report.report, train.demo):
    app.command()(command)
