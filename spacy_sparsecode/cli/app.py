"""The ``sparsecode`` command line (typer + rich).

Commands: ``demo`` (BBC in one go), ``train`` (the fast trainer: corpus → spaCy pipeline
folder), ``encode`` (stream a corpus into codes on disk), ``topics`` and ``evaluate``. The
work is done in ``fast_train``, ``encoding`` and ``evaluation``; this module parses
options, shows progress and results, and turns errors into one clear message and exit code 1.
"""

from __future__ import annotations

import contextlib
import json
import time
from enum import Enum
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(help="Learn sparse document codes with spaCy: train, encode, inspect.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
console = Console()
err_console = Console(stderr=True)


class OnError(str, Enum):
    fail = "fail"
    skip = "skip"


@app.callback()
def _main() -> None:
    """spacy-sparsecode: sparse document codes for spaCy pipelines."""


@contextlib.contextmanager
def _clear_errors() -> Iterator[None]:
    """Print our errors as one message (no traceback) and exit 1; Ctrl-C exits 130."""
    from ..text.corpora import CorpusError
    from ..jobs.train import TrainingInterrupted

    try:
        yield
    except TrainingInterrupted as err:
        err_console.print(f"[yellow]{escape(str(err))}", soft_wrap=True)
        raise typer.Exit(130)
    except KeyboardInterrupt:
        err_console.print("[yellow]Interrupted: finished chunks are kept; rerun the same command with --resume.", soft_wrap=True)
        raise typer.Exit(130)
    except (CorpusError, ValueError, FileExistsError, FileNotFoundError) as err:
        message = str(err).replace("on_error='skip'", "--on-error skip")  # the library's wording, as a CLI option
        err_console.print(f"[red]{escape(message)}", soft_wrap=True)
        raise typer.Exit(1)


def _set_threads(threads: int) -> None:
    """``torch.set_num_threads`` when asked (0 keeps torch's default)."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def _report_skipped(n_skipped: int, skipped: List[str]) -> None:
    if n_skipped:
        err_console.print(f"[yellow]Skipped {n_skipped:,} bad records (--on-error skip). First ones:", soft_wrap=True)
        for message in skipped[:5]:
            err_console.print(f"  {escape(message)}", soft_wrap=True)


@app.command()
def demo(
    output_dir: Path = typer.Option(Path("sparsecode-bbc"), "--output", "-o", help="Where to save the trained pipeline."),
    n_latents: int = typer.Option(256, help="Number of latents K."),
    k: int = typer.Option(16, help="Active latents per document."),
    epochs: int = typer.Option(30, help="Training epochs."),
    gpu_id: int = typer.Option(-1, help="GPU id, -1 for CPU."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Train a TopK sparse autoencoder on the built-in BBC News corpus and show what it learned."""
    import spacy

    from ..models.trainer import TrainConfig
    from ..tasks.topics import topic_words
    from ..text.corpora import iter_bbc

    start = time.perf_counter()
    records = list(iter_bbc())
    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode", config={"model": {"n_latents": n_latents, "k": k, "seed": seed}})
    with console.status(f"Tokenising {len(records):,} BBC articles"):
        docs = list(nlp.tokenizer.pipe((r.text for r in records), batch_size=256))
    console.print(f"Tokenised {len(docs):,} articles in {time.perf_counter() - start:.1f}s")
    history = component.fit(docs, TrainConfig(epochs=epochs, gpu_id=gpu_id, seed=seed))
    last = history[-1]
    console.print(f"Trained in {sum(h['seconds'] for h in history):.1f}s: loss {last['loss']:.4f}, "
                  f"L0 {last['l0']:.1f}, dead latents {100 * last['dead']:.1f}%, vocabulary {len(component.bow_vocab):,} words")

    codes = component.predict(docs)
    usage = codes.matrix.getnnz(axis=0)
    table = Table(title="Most used latents and their top words")
    table.add_column("latent", justify="right")
    table.add_column("docs", justify="right")
    table.add_column("top words")
    words = topic_words(component, 8)
    for latent in usage.argsort()[::-1][:15]:
        table.add_row(str(latent), str(usage[latent]), " ".join(words[latent]))
    console.print(table)

    table = Table(title="Codes of a few articles")
    for column in ("article", "label", "top latents (id: weight, words)"):
        table.add_column(column)
    for i in range(0, len(records), len(records) // 5):
        code = codes[i]
        top = "; ".join(f"{j}: {w:.2f} ({' '.join(words[j][:3])})" for j, w in code.top_latents(3))
        table.add_row(records[i].text.splitlines()[0][:40], str(records[i].label), top)
    console.print(table)

    text_bytes = sum(len(r.text.encode("utf8")) for r in records) / len(records)
    code_bytes = 4 * float(codes.l0.mean())  # uint16 latent id + float16 value per active latent
    console.print(f"Size per article: text {text_bytes:,.0f} bytes, code {code_bytes:.0f} bytes "
                  f"({text_bytes / code_bytes:.0f}x smaller; {codes.l0.mean():.1f} active of {codes.dim} latents)")
    nlp.to_disk(output_dir)
    console.print(f"Saved the pipeline to {output_dir}/ — open it with spacy.load({str(output_dir)!r}). "
                  f"Total {time.perf_counter() - start:.0f}s.")


from .tasks import register as _register_tasks
_register_tasks(app)



@app.command()
def train(
    corpus: str = typer.Argument(..., help="Corpus: .jsonl(.gz), .json, .csv, .parquet, .txt, a folder of .txt files, or 'bbc'."),
    output_dir: Path = typer.Argument(..., help="Pipeline folder to write (spacy.load opens it)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model family (e.g. topk); default: the config's, else topk."),
    n_latents: Optional[int] = typer.Option(None, min=1, help="Number of latents K."),
    k: Optional[int] = typer.Option(None, min=1, help="Active latents per document (families that have k)."),
    epochs: int = typer.Option(30, min=1, help="Training epochs."),
    min_steps: int = typer.Option(0, min=0, help="Train at least this many steps (more epochs on a small corpus; 0: off)."),
    constrain_from: float = typer.Option(0.0, min=0.0, max=0.99, help="Share of the steps before the topic constraints "
                                         "(latents_per_word, exclusivity) apply (0: from the start)."),
    batch_size: int = typer.Option(128, min=1, help="Documents per training minibatch."),
    lr: float = typer.Option(3e-3, min=0.0, help="Peak learning rate (Adam, warmup + cosine decay)."),
    seed: Optional[int] = typer.Option(None, help="Random seed of the model and the shuffling (default: the config's, else 0)."),
    gpu_id: int = typer.Option(-1, help="GPU id (-1: CPU). On a GPU, training uses bfloat16 autocast."),
    amp: bool = typer.Option(True, help="Mixed precision on GPU."),
    n_process: int = typer.Option(1, min=1, help="Processes for tokenising."),
    chunk_size: int = typer.Option(1000, min=1, help="Documents per tokenising chunk (the unit of resuming)."),
    text_field: str = typer.Option("text", help="Field holding the text (.jsonl/.json/.csv/.parquet)."),
    on_error: OnError = typer.Option(OnError.fail, help="Bad records: fail (stop with file and line) or skip (count them)."),
    max_chars: int = typer.Option(1_000_000, min=1, help="Longer documents are bad records."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", exists=True, dir_okay=False,
                                          help="A spacy train config: its \\[nlp] and \\[components] sections build the pipeline."),
    lang: str = typer.Option("en", help="Language of spacy.blank when no --config is given."),
    checkpoint_every: int = typer.Option(500, min=0, help="Checkpoint every N steps (and at every epoch end)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an OUTPUT_DIR not written by sparsecode train; discard interrupted runs."),
    keep_checkpoints: bool = typer.Option(False, "--keep-checkpoints", help="Keep the checkpoints after a successful run."),
    cache_dir: Optional[Path] = typer.Option(None, help="Work folder (corpus cache, checkpoints); default OUTPUT_DIR.cache next to it."),
    threads: int = typer.Option(0, min=0, help="Torch CPU threads in this process (0: torch's default); workers use 1."),
) -> None:
    """Train on a corpus with the fast trainer and write a spaCy pipeline folder.

    Tokenises once (cached next to the output and reused while the corpus and the
    tokenizer/vocabulary settings are unchanged), trains over CSR minibatches, checkpoints,
    and resumes with --resume to the same result as an uninterrupted run.
    """
    from ..jobs.train import TrainJob, train_corpus
    from ..models.trainer import TrainConfig

    options: Dict[str, Any] = {key: value for key, value in (("n_latents", n_latents), ("k", k), ("seed", seed)) if value is not None}
    _set_threads(threads)
    with _clear_errors():
        train_config = TrainConfig(lr=lr, batch_size=batch_size, epochs=epochs, min_steps=min_steps, constrain_from=constrain_from,
                                   seed=seed or 0, gpu_id=gpu_id, amp=amp, checkpoint_every=checkpoint_every)
        job = TrainJob(corpus=corpus, output_dir=output_dir, train=train_config, family=model, model_options=options,
                       config_path=config, lang=lang, text_field=text_field, on_error=on_error.value, max_chars=max_chars,
                       n_process=n_process, chunk_size=chunk_size, resume=resume, overwrite=overwrite,
                       keep_checkpoints=keep_checkpoints, cache_dir=cache_dir)
        summary = train_corpus(job)
    _report_skipped(summary["n_skipped"], summary["skipped"])
    history = summary["history"]
    last = history[-1] if history else {}
    rates = [h["docs_per_s"] for h in history if "docs_per_s" in h]
    cache = "reused the cached corpus" if summary["cache_reused"] else f"tokenised in {summary['tokenise_seconds']:.1f}s"
    console.print(f"{summary['n_docs']:,} documents ({cache}), vocabulary {summary['n_vocab']:,} words; "
                  f"trained in {summary['train_seconds']:.1f}s"
                  + (f" ({sum(rates) / len(rates):,.0f} docs/s per epoch)" if rates else ""), soft_wrap=True)
    parts = [f"{label} {fmt.format(last[key])}" for key, label, fmt in
             (("loss", "loss", "{:.4f}"), ("l0", "L0", "{:.1f}"), ("dead", "dead latents", "{:.1%}")) if key in last]
    if parts:
        console.print("Last epoch: " + ", ".join(parts), soft_wrap=True)
    console.print(f"Saved the pipeline to {output_dir} (spacy.load({str(output_dir)!r})).", soft_wrap=True)


@app.command()
def encode(
    model: Path = typer.Argument(..., help="A trained pipeline folder."),
    corpus: str = typer.Argument(..., help="Corpus to encode (any format `train` reads)."),
    output: Path = typer.Argument(..., help="Output file: .npz (scipy CSR + ids), .parquet (id, indices, values) or .spacy (DocBin)."),
    n_process: int = typer.Option(1, min=1, help="Worker processes (tokenising + featurising + encoding)."),
    batch_size: int = typer.Option(1000, min=1, help="Documents per chunk (the unit of work and of resuming)."),
    text_field: str = typer.Option("text", help="Field holding the text."),
    on_error: OnError = typer.Option(OnError.fail, help="Bad records: fail (stop with file and line) or skip (count them)."),
    max_chars: int = typer.Option(1_000_000, min=1, help="Longer documents are bad records."),
    gpu_id: int = typer.Option(-1, help="GPU id for the model (-1: CPU)."),
    resume: bool = typer.Option(False, "--resume", help="Skip the chunks an interrupted run finished."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUTPUT; discard an interrupted run."),
    threads: int = typer.Option(0, min=0, help="Torch CPU threads in this process (0: torch's default); workers use 1."),
) -> None:
    """Encode a corpus into sparse codes, streaming (memory does not grow with the corpus).

    The output is written under a temporary name and renamed when complete; finished
    chunks are kept next to it (OUTPUT.partial) until then, so --resume loses no work.
    """
    from ..jobs.encode import EncodeJob, encode_corpus
    from ..progress import progress_bar

    _set_threads(threads)
    job = EncodeJob(model=model, corpus=corpus, output=output, n_process=n_process, batch_size=batch_size,
                    text_field=text_field, on_error=on_error.value, max_chars=max_chars, gpu_id=gpu_id, resume=resume,
                    overwrite=overwrite)
    with _clear_errors(), progress_bar() as bar:
        task = bar.add_task("encoding", total=None, info="")
        summary = encode_corpus(job, on_chunk=lambda n: bar.update(task, advance=n))
    _report_skipped(summary["n_skipped"], summary["skipped"])
    resumed = f" ({summary['n_resumed']:,} from the interrupted run)" if summary["n_resumed"] else ""
    console.print(f"Encoded {summary['n_docs']:,} documents{resumed} in {summary['seconds']:.1f}s "
                  f"({summary['docs_per_s']:,.0f} docs/s) → {output}", soft_wrap=True)


@app.command()
def topics(
    model: Path = typer.Argument(..., help="A trained pipeline folder."),
    top_n: int = typer.Option(10, min=1, help="Words per latent."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show the top words of every latent."""
    from ..jobs.pipelines import load_pipeline
    from ..tasks.topics import topic_words

    with _clear_errors():
        _, component = load_pipeline(model)
        words = topic_words(component, top_n)
    if as_json:
        print(json.dumps({"model": str(model), "top_n": top_n, "topics": {str(i): w for i, w in enumerate(words)}}, ensure_ascii=False))
        return
    table = Table(title=f"Top {top_n} words per latent ({model})")
    table.add_column("latent", justify="right")
    table.add_column("top words")
    for i, row in enumerate(words):
        table.add_row(str(i), " ".join(row))
    console.print(table)


@app.command()
def evaluate(
    model: Path = typer.Argument(..., help="A trained pipeline folder."),
    corpus: str = typer.Argument(..., help="Evaluation corpus (held-out documents; labels are used when present)."),
    text_field: str = typer.Option("text", help="Field holding the text."),
    label_field: str = typer.Option("label", help="Field holding the label (probe accuracy, cluster NMI)."),
    on_error: OnError = typer.Option(OnError.fail, help="Bad records: fail or skip."),
    max_chars: int = typer.Option(1_000_000, min=1, help="Longer documents are bad records."),
    n_process: int = typer.Option(1, min=1, help="Worker processes."),
    batch_size: int = typer.Option(1000, min=1, help="Documents per chunk."),
    seed: int = typer.Option(0, help="Seed of the probe's train/test split."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the metrics as JSON here."),
    threads: int = typer.Option(0, min=0, help="Torch CPU threads in this process (0: torch's default); workers use 1."),
) -> None:
    """Score a model on a corpus: NPMI, TD, L0, dead share, reconstruction fit, probe accuracy, NMI."""
    from ..jobs.evaluate import evaluate_corpus
    from ..io import write_json_atomic
    from ..progress import progress_bar

    _set_threads(threads)
    with _clear_errors():
        with progress_bar(enabled=not as_json) as bar:
            task = bar.add_task("evaluating", total=None, info="")
            result = evaluate_corpus(model, corpus, text_field=text_field, label_field=label_field,
                                     on_error=on_error.value, max_chars=max_chars, n_process=n_process,
                                     batch_size=batch_size, seed=seed, on_chunk=lambda n: bar.update(task, advance=n))
        if output is not None:
            write_json_atomic(output, result)
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    table = Table(title=f"{model} on {corpus} ({result['n_docs']:,} documents)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("npmi_heldout", "td", "mean_l0", "dead_share", "reconstruction_fit", "probe_accuracy", "cluster_nmi"):
        value = result[key]
        table.add_row(key, "n/a (no labels)" if value is None else f"{value:.4f}")
    console.print(table)


from .report import register as _register_report
_register_report(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
