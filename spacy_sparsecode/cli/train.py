"""``sparsecode train`` (the fast trainer: corpus → spaCy pipeline folder) and ``sparsecode demo``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Dict, Optional

import typer
from rich.table import Table

from ..jobs.chunks import CorpusOptions
from ..jobs.pipelines import META_KEY, build_pipeline, check_output_dir, write_pipeline
from ..jobs.train import TrainJob, fit_component, train_corpus
from ..models.trainer import TrainConfig
from ..tasks.topics import topic_words
from .options import (CORPUS_HELP, RESUME_HINT, K, CorpusArg, Epochs, GpuId, NLatents, Overwrite, Resume, Seed,
                      Threads, console, err_console, handle_errors, reads_corpus, report_skipped, set_threads)

_OUTPUT_DIR_HELP = "Pipeline folder to write (spacy.load opens it)."
OutputDirArg = Annotated[Path, typer.Argument(help=_OUTPUT_DIR_HELP, show_default=False)]
#: ``demo``'s corpus and output: optional, with defaults (``sparsecode demo`` alone runs on BBC News).
DemoCorpus = Annotated[str, typer.Argument(help=CORPUS_HELP)]
DemoOutputDir = Annotated[Path, typer.Argument(help=_OUTPUT_DIR_HELP)]


def _family(family: Optional[str], model: Optional[str]) -> Optional[str]:
    """``--family``, or the family given by its deprecated name ``--model/-m`` (with a warning)."""
    if model is None:
        return family
    if family is not None and family != model:
        raise typer.BadParameter(f"--model is the deprecated name of --family: pass one, not --family {family} "
                                 f"and --model {model}", param_hint="--family")
    err_console.print("[yellow]--model/-m is deprecated: pass the model family as --family.", soft_wrap=True)
    return model


@handle_errors(interrupted=RESUME_HINT)
@reads_corpus
def train(
    corpus: CorpusArg,
    output_dir: OutputDirArg,
    family: Annotated[Optional[str], typer.Option(help="Model family (e.g. topk); default: the config's, else "
                                                       "topk.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", hidden=True,
                                                 help="Deprecated name of --family.")] = None,
    n_latents: NLatents = None,
    k: K = None,
    epochs: Epochs = 30,
    min_steps: Annotated[int, typer.Option(min=0, help="Train at least this many steps (more epochs on a small "
                                                       "corpus; 0: off).")] = 0,
    constrain_from: Annotated[float, typer.Option(min=0.0, max=0.99, help="Share of the steps before the topic "
                                                  "constraints (latents_per_word, exclusivity) apply (0: from the "
                                                  "start).")] = 0.0,
    batch_size: Annotated[int, typer.Option(min=1, help="Documents per training minibatch.")] = 128,
    lr: Annotated[float, typer.Option(min=0.0, help="Peak learning rate (Adam, warmup + cosine decay).")] = 3e-3,
    seed: Seed = None,
    gpu_id: GpuId = -1,
    amp: Annotated[bool, typer.Option(help="Mixed precision (bfloat16 autocast) on GPU.")] = True,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", exists=True, dir_okay=False,
                                                   help="A spacy train config: its \\[nlp] and \\[components] sections "
                                                        "build the pipeline.")] = None,
    lang: Annotated[str, typer.Option(help="Language of spacy.blank when no --config is given.")] = "en",
    checkpoint_every: Annotated[int, typer.Option(min=0, help="Checkpoint every N steps (and at every epoch end).")] = 500,
    resume: Resume = False,
    overwrite: Overwrite = False,
    keep_checkpoints: Annotated[bool, typer.Option("--keep-checkpoints", help="Keep the checkpoints after a "
                                                                              "successful run.")] = False,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Work folder (corpus cache, checkpoints); default "
                                                           "OUTPUT_DIR.cache next to it.")] = None,
    threads: Threads = 0,
    *,
    reading: CorpusOptions,
) -> None:
    """Train on a corpus with the fast trainer and write a spaCy pipeline folder.

    Tokenises once (cached next to the output and reused while the corpus and the
    tokenizer/vocabulary settings are unchanged), trains over CSR minibatches, checkpoints,
    and resumes with --resume to the same result as an uninterrupted run. An existing
    OUTPUT_DIR that sparsecode did not write is replaced only with --overwrite.
    """
    family = _family(family, model)
    options: Dict[str, Any] = {key: value for key, value in (("n_latents", n_latents), ("k", k), ("seed", seed)) if value is not None}
    set_threads(threads)
    train_config = TrainConfig(lr=lr, batch_size=batch_size, epochs=epochs, min_steps=min_steps, constrain_from=constrain_from,
                               seed=seed or 0, gpu_id=gpu_id, amp=amp, checkpoint_every=checkpoint_every)
    job = TrainJob(corpus=corpus, output_dir=output_dir, train=train_config, reading=reading, family=family,
                   model_options=options, config_path=config, lang=lang, resume=resume, overwrite=overwrite,
                   keep_checkpoints=keep_checkpoints, cache_dir=cache_dir)
    summary = train_corpus(job)
    report_skipped(summary["n_skipped"], summary["skipped"])
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


@handle_errors()
@reads_corpus
def demo(
    corpus: DemoCorpus = "bbc",
    output_dir: DemoOutputDir = Path("sparsecode-bbc"),
    n_latents: NLatents = 256,
    k: K = 16,
    epochs: Epochs = 30,
    gpu_id: GpuId = -1,
    seed: Seed = 0,
    overwrite: Overwrite = False,
    *,
    reading: CorpusOptions,
) -> None:
    """Train a TopK sparse autoencoder on a corpus (the built-in BBC News articles) and show what it learned."""
    start = time.perf_counter()
    check_output_dir(output_dir, overwrite)
    records = list(reading.read(corpus))
    nlp, name = build_pipeline(None, "en", None, {"n_latents": n_latents, "k": k, "seed": seed})
    component = nlp.get_pipe(name)
    with console.status(f"Tokenising {len(records):,} documents"):
        docs = list(reading.tokenise(nlp, (r.text for r in records), name))
    console.print(f"Tokenised {len(docs):,} documents in {time.perf_counter() - start:.1f}s")
    history = fit_component(component, docs, TrainConfig(epochs=epochs, gpu_id=gpu_id, seed=seed))
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

    table = Table(title="Codes of a few documents")
    for column in ("document", "label", "top latents (id: weight, words)"):
        table.add_column(column)
    for i in range(0, len(records), max(1, len(records) // 5)):
        top = "; ".join(f"{j}: {w:.2f} ({' '.join(words[j][:3])})" for j, w in codes[i].top_latents(3))
        table.add_row(records[i].text[:40].split("\n")[0], str(records[i].label), top)
    console.print(table)

    text_bytes = sum(len(r.text.encode("utf8")) for r in records) / len(records)
    code_bytes = max(4 * float(codes.l0.mean()), 1.0)  # uint16 latent id + float16 value per active latent
    console.print(f"Size per document: text {text_bytes:,.0f} bytes, code {code_bytes:.0f} bytes "
                  f"({text_bytes / code_bytes:.0f}x smaller; {codes.l0.mean():.1f} active of {codes.dim} latents)")
    nlp.meta[META_KEY] = {"corpus": str(corpus), "n_docs": len(docs), "history": history}
    write_pipeline(nlp, output_dir)
    console.print(f"Saved the pipeline to {output_dir}/ — open it with spacy.load({str(output_dir)!r}). "
                  f"Total {time.perf_counter() - start:.0f}s.", soft_wrap=True)
