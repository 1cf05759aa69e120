"""CLI commands for the tasks: ``compress``, ``decompress``, ``summarize``, ``generate``.

Each reads a trained pipeline folder (``spacy.load``), streams a corpus with
``read_corpus``, shows rich progress and writes its output atomically.
``register(app)`` adds them to the ``sparsecode`` typer app.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

import typer
from rich.console import Console

console = Console()


def _load(model: Path) -> Tuple[Any, Any]:
    from ..jobs.pipelines import load_pipeline

    return load_pipeline(model)


def _records(corpus: str, text_field: str, limit: Optional[int]) -> List[Any]:
    from ..text.corpora import read_corpus

    return list(read_corpus(corpus, text_field=text_field, limit=limit))


def _pipe_with_progress(nlp: Any, texts: List[str], what: str, batch_size: int = 64) -> Iterator[Any]:
    from ..progress import progress_bar

    with progress_bar() as bar:
        task = bar.add_task(what, total=len(texts), info="")
        for doc in nlp.pipe(texts, batch_size=batch_size):
            bar.advance(task)
            yield doc


def _write_jsonl(path: Path, rows: List[dict]) -> None:
    from ..io import write_bytes_atomic

    write_bytes_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf8"))


def compress(
    model: Path = typer.Argument(..., help="Trained pipeline folder."),
    corpus: str = typer.Argument(..., help="'bbc' or a corpus file/folder."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the packed codes."),
    values: str = typer.Option("fp16", help="Value quantisation: fp16 or int8."),
    text_field: str = typer.Option("text", help="Field holding the text."),
    limit: Optional[int] = typer.Option(None, help="Read at most this many documents."),
) -> None:
    """Encode a corpus and pack its codes into bytes (delta + varint ids, quantised values)."""
    from ..io import write_bytes_atomic
    from ..tasks.compress import compress as compress_codes

    nlp, component = _load(model)
    records = _records(corpus, text_field, limit)
    texts = [r.text for r in records]
    docs = list(_pipe_with_progress(nlp, texts, "Encoding"))
    blob = compress_codes(component, docs, values)
    write_bytes_atomic(output, blob)
    gz = sum(len(gzip.compress(t.encode("utf8"))) for t in texts)
    n = len(texts)
    console.print(f"Packed {n:,} documents into {len(blob):,} bytes ({len(blob) / n:.1f} bytes/doc; gzip'd text "
                  f"{gz / n:.0f} bytes/doc, {gz / max(len(blob), 1):.0f}x larger) -> {output}")


def decompress(
    model: Path = typer.Argument(..., help="The pipeline that compressed the codes."),
    packed: Path = typer.Argument(..., help="Bytes written by `sparsecode compress`."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the codes (jsonl)."),
    top_n: int = typer.Option(10, help="Decoded top words per document."),
) -> None:
    """Unpack codes (checking the model fingerprint) and decode each document's top words."""
    from ..tasks.compress import decompress as decompress_codes
    from ..tasks.topics import decoded_keywords

    _, component = _load(model)
    codes = decompress_codes(component, packed.read_bytes())
    words = decoded_keywords(component.torch_model, codes, component.bow_vocab.strings, top_n) if len(codes) else []
    rows = [{"latents": [[j, round(w, 5)] for j, w in code.top_latents()], "words": [w for w, _ in kw]}
            for code, kw in zip(codes, words)]
    _write_jsonl(output, rows)
    console.print(f"Decompressed {len(codes):,} codes -> {output}")


def summarize(
    model: Path = typer.Argument(..., help="Trained pipeline folder."),
    corpus: str = typer.Argument(..., help="'bbc' or a corpus file/folder."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the summaries (jsonl)."),
    sentences: Optional[int] = typer.Option(None, help="Sentences per summary (default 3)."),
    ratio: Optional[float] = typer.Option(None, help="Share of each document's sentences instead."),
    coverage: float = typer.Option(0.25, help="Weight of the document-code coverage gain."),
    redundancy: float = typer.Option(0.1, help="Weight of the MMR redundancy penalty (code space)."),
    text_field: str = typer.Option("text", help="Field holding the text."),
    limit: Optional[int] = typer.Option(None, help="Read at most this many documents."),
) -> None:
    """Extractive summaries: sentences whose combined code best covers the document's code."""
    import warnings

    from ..tasks.summarize import budget, summarize as summarize_doc

    budget(1, sentences, ratio)  # fail on a bad budget before any work
    nlp, component = _load(model)
    if not any(name in nlp.pipe_names for name in ("parser", "senter", "sentencizer")):
        console.print("[yellow]No parser/senter/sentencizer in the pipeline: sentences come from spaCy's rule-based sentencizer.")
    records = _records(corpus, text_field, limit)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for record, doc in zip(records, _pipe_with_progress(nlp, [r.text for r in records], "Summarizing")):
            spans = summarize_doc(component, doc, sentences=sentences, ratio=ratio, coverage=coverage, redundancy=redundancy)
            rows.append({"id": record.id, "summary": [s.text for s in spans]})
    _write_jsonl(output, rows)
    console.print(f"Summarized {len(rows):,} documents -> {output}")


def _doc_ref(value: str, docs: List[Any], nlp: Any, option: str) -> Tuple[str, Any]:
    """A document named on the command line: a corpus index (digits) or a text to process."""
    if value.strip().lstrip("-").isdigit():
        i = int(value)
        if not 0 <= i < len(docs):
            raise typer.BadParameter(f"{option} index must be in [0, {len(docs)}), got {i}", param_hint=option)
        return f"document {i}", docs[i]
    if not value.strip():
        raise typer.BadParameter("pass a corpus document index or a non-empty text", param_hint=option)
    return "text", nlp(value)


def generate(
    model: Path = typer.Argument(..., help="Trained pipeline folder."),
    corpus: str = typer.Argument(..., help="Corpus for the sentence index (and the real L0 distribution)."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the generated items (jsonl)."),
    n: int = typer.Option(5, help="Codes to sample from the prior, or around --near (VAE models)."),
    doc: Optional[int] = typer.Option(None, help="Steer the code of this corpus document (index) instead of sampling."),
    on: List[int] = typer.Option([], help="Latent to switch on (repeatable; with --doc)."),
    off: List[int] = typer.Option([], help="Latent to switch off (repeatable; with --doc)."),
    near: Optional[str] = typer.Option(None, "--near", metavar="DOC_INDEX_OR_TEXT",
                                       help="Sample --n codes around this document's posterior (VAE models): a corpus index or a text."),
    temperature: float = typer.Option(1.0, help="With --near: scale of the posterior spread (0: the document's own code)."),
    between: Optional[Tuple[str, str]] = typer.Option(
        None, "--between", metavar="A B",
        help="Interpolate from document A to B (corpus indices or texts): VAE through the posterior, SAE in code space."),
    steps: int = typer.Option(5, help="With --between: codes on the path, both ends included."),
    sentences: int = typer.Option(3, help="Retrieved sentences per generated code."),
    text_field: str = typer.Option("text", help="Field holding the text."),
    limit: Optional[int] = typer.Option(None, help="Read at most this many documents."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Generate codes (VAE: sample, near a document, interpolate; SAE: steer, interpolate) as bags, keywords and real sentences."""
    import warnings

    import scipy.sparse as sp

    from ..codes import SparseCodes
    from ..errors import Errors
    from ..tasks import generate as gen
    from ..tasks.summarize import sentence_spans

    modes = [name for name, value in (("--doc", doc), ("--near", near), ("--between", between)) if value is not None]
    if len(modes) > 1:
        raise typer.BadParameter(f"pass one of --doc, --near, --between, not {' and '.join(modes)}")
    if temperature < 0:
        raise typer.BadParameter(Errors.E411.format(name="temperature", expected="a finite float >= 0", value=temperature),
                                 param_hint="--temperature")
    if steps < 2:
        raise typer.BadParameter(Errors.E411.format(name="steps", expected="an int >= 2", value=steps), param_hint="--steps")
    nlp, component = _load(model)
    torch_model = component.torch_model
    if doc is None and between is None:
        gen.require_sampler(torch_model, "sparsecode generate --near" if near is not None else "sparsecode generate")
    records = _records(corpus, text_field, limit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        docs = list(_pipe_with_progress(nlp, [r.text for r in records], "Indexing"))
        sents = [s for d in docs for s in sentence_spans(d, warn=False)]
    index = gen.SentenceIndex.build(component.featurize(s.as_doc() for s in sents), [s.text for s in sents],
                                    component.bow_vocab.idf())
    real = component.codes(docs)
    extra: List[dict]
    if near is not None:
        label, source = _doc_ref(near, docs, nlp, "--near")
        own = component.codes([source])
        drawn = gen.near(torch_model, component.featurize([source]), temperature, n, seed, real.l0)
        codes = SparseCodes.stack([own, drawn])
        extra = [{"kind": "document", "source": label}] + [{"kind": "near", "temperature": temperature}] * n
    elif between is not None:
        (label_a, doc_a), (label_b, doc_b) = (_doc_ref(v, docs, nlp, "--between") for v in between)
        codes = gen.interpolate(component.featurize([doc_a]), component.featurize([doc_b]), steps, model=torch_model)
        how = "posterior" if gen.can_encode_posterior(torch_model) else "code space"
        extra = [{"kind": "interpolate", "step": i, "t": round(i / (steps - 1), 4), "from": label_a, "to": label_b,
                  "through": how} for i in range(steps)]
    elif doc is None:
        if gen.ensure_prior(torch_model, component.featurize(docs)):
            console.print("[yellow]The model's ex-post prior was not fitted (a spacy train model?): "
                          f"fitted it on {len(docs)} documents of {corpus} for this run (not saved).[/yellow]")
        codes = gen.sample(torch_model, n, real.l0, seed)
        extra = [{"kind": "sample"}] * n
    else:
        if not 0 <= doc < len(docs):
            raise typer.BadParameter(f"--doc must be in [0, {len(docs)}), got {doc}")
        base = real[doc]
        steered = gen.steer(base, on=on, off=off)
        codes = SparseCodes(sp.vstack([sp.csr_matrix(c.to_dense()[None]) for c in (base, steered)], format="csr"))
        extra = [{"kind": "document", "source": f"document {doc}"}, {"kind": "steered", "on": list(on), "off": list(off)}]
    rows = [info | row for info, row in zip(extra, gen.describe(torch_model, codes, component.bow_vocab.strings, index,
                                                                 n_sentences=sentences))]
    _write_jsonl(output, rows)
    for row in rows:
        console.print(f"[dim]{row['kind']}[/dim] [bold]{' '.join(row['keywords'])}[/bold]: " + " ".join(row["sentences"])[:300])
    console.print(f"Wrote {len(rows)} generated items -> {output}")


def register(app: typer.Typer) -> None:
    """Add the task commands to the ``sparsecode`` app."""
    for command in (compress, decompress, summarize, generate):
        app.command()(command)
