"""The ``sparsecode`` command line (typer + rich)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Learn sparse document codes with spaCy: train, encode, inspect.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
console = Console()


@app.callback()
def _main() -> None:
    """spacy-sparsecode: sparse document codes for spaCy pipelines."""


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

    from .corpora import iter_bbc
    from .training import TrainConfig

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
    words = component.topic_words(8)
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
