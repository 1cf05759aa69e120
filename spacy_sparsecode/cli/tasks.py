"""The task commands: ``topics``, ``compress``, ``decompress``, ``summarize``, ``generate``.

Each loads a trained pipeline folder, reads a corpus as the corpus options say, calls the
``tasks`` functions, shows rich progress and writes its output atomically (never over an
existing one without --overwrite).
"""

from __future__ import annotations

import gzip
import json
import warnings
from pathlib import Path
from typing import Annotated, Any, List, Literal, Optional, Tuple

import typer
from rich.table import Table

from ..io import check_output_file, write_bytes_atomic
from ..jobs.chunks import CorpusOptions
from ..jobs.pipelines import load_pipeline
from ..tasks import generate as gen
from ..tasks.compress import compress as compress_codes
from ..tasks.compress import decompress as decompress_codes
from ..tasks.summarize import budget
from ..tasks.summarize import summarize as summarize_doc
from ..tasks.topics import decoded_keywords, topic_words
from .options import (AsJson, CorpusArg, ModelArg, Overwrite, Seed, TopN, console, handle_errors, reads_corpus,
                      with_progress)

Output = Annotated[Path, typer.Argument(help="Output file (jsonl).", show_default=False)]


def _corpus_docs(nlp: Any, component: Any, corpus: str, reading: CorpusOptions) -> Tuple[List[Any], List[Any]]:
    """The corpus' records and their Docs (the ``sparsecode`` component leaves them to the tasks)."""
    records = list(reading.read(corpus))
    docs = reading.tokenise(nlp, (r.text for r in records), component.name)
    return records, list(with_progress(docs, len(records), "Tokenising"))


def _write_jsonl(path: Path, rows: List[dict]) -> None:
    write_bytes_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf8"))


@handle_errors()
def topics(
    model: ModelArg,
    top_n: TopN = 10,
    as_json: AsJson = False,
) -> None:
    """Show the top words of every latent."""
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


@handle_errors()
@reads_corpus
def compress(
    model: ModelArg,
    corpus: CorpusArg,
    output: Annotated[Path, typer.Argument(help="Where to write the packed codes.", show_default=False)],
    values: Annotated[Literal["fp16", "int8"], typer.Option(help="Value quantisation.")] = "fp16",
    overwrite: Overwrite = False,
    *,
    reading: CorpusOptions,
) -> None:
    """Encode a corpus and pack its codes into bytes (delta + varint ids, quantised values)."""
    check_output_file(output, overwrite)
    nlp, component = load_pipeline(model)
    records, docs = _corpus_docs(nlp, component, corpus, reading)
    blob = compress_codes(component, docs, values)
    write_bytes_atomic(output, blob)
    gz = sum(len(gzip.compress(r.text.encode("utf8"))) for r in records)
    n = len(records)
    console.print(f"Packed {n:,} documents into {len(blob):,} bytes ({len(blob) / n:.1f} bytes/doc; gzip'd text "
                  f"{gz / n:.0f} bytes/doc, {gz / max(len(blob), 1):.0f}x larger) -> {output}", soft_wrap=True)


@handle_errors()
def decompress(
    model: ModelArg,
    packed: Annotated[Path, typer.Argument(exists=True, dir_okay=False, show_default=False,
                                           help="Bytes written by `sparsecode compress` with this pipeline.")],
    output: Output,
    top_n: TopN = 10,
    overwrite: Overwrite = False,
) -> None:
    """Unpack codes (checking the model fingerprint) and decode each document's top words."""
    check_output_file(output, overwrite)
    _, component = load_pipeline(model)
    codes = decompress_codes(component, packed.read_bytes())
    words = decoded_keywords(component.torch_model, codes, component.bow_vocab.strings, top_n) if len(codes) else []
    rows = [{"latents": [[j, round(w, 5)] for j, w in code.top_latents()], "words": [w for w, _ in kw]}
            for code, kw in zip(codes, words)]
    _write_jsonl(output, rows)
    console.print(f"Decompressed {len(codes):,} codes -> {output}", soft_wrap=True)


@handle_errors()
@reads_corpus
def summarize(
    model: ModelArg,
    corpus: CorpusArg,
    output: Output,
    sentences: Annotated[Optional[int], typer.Option(help="Sentences per summary (default 3).")] = None,
    ratio: Annotated[Optional[float], typer.Option(help="Share of each document's sentences instead.")] = None,
    coverage: Annotated[float, typer.Option(help="Weight of the document-code coverage gain.")] = 0.25,
    redundancy: Annotated[float, typer.Option(help="Weight of the MMR redundancy penalty (code space).")] = 0.1,
    lead_prior: Annotated[float, typer.Option(
        help="Position prior W: sentence i (0-based) gains W / (1 + i), for news-like text (0: none).")] = 0.0,
    overwrite: Overwrite = False,
    *,
    reading: CorpusOptions,
) -> None:
    """Extractive summaries: sentences whose combined code best covers the document's code."""
    budget(1, sentences, ratio)  # fail on a bad budget before any work
    if lead_prior < 0:
        raise typer.BadParameter(f"must be >= 0, got {lead_prior}", param_hint="--lead-prior")
    check_output_file(output, overwrite)
    nlp, component = load_pipeline(model)
    records, docs = _corpus_docs(nlp, component, corpus, reading)
    if not any(name in nlp.pipe_names for name in ("parser", "senter", "sentencizer")):
        console.print("[yellow]No parser/senter/sentencizer in the pipeline: sentences come from spaCy's rule-based sentencizer.")
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for record, doc in with_progress(zip(records, docs), len(docs), "Summarizing"):
            spans = summarize_doc(component, doc, sentences=sentences, ratio=ratio, coverage=coverage, redundancy=redundancy,
                                 lead_prior=lead_prior)
            rows.append({"id": record.id, "summary": [span.text for span in spans]})
    _write_jsonl(output, rows)
    console.print(f"Summarized {len(rows):,} documents -> {output}", soft_wrap=True)


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


@handle_errors()
@reads_corpus
def generate(
    model: ModelArg,
    corpus: CorpusArg,
    output: Output,
    n: Annotated[int, typer.Option(min=1, help="Codes to sample from the prior, or around --near (VAE models).")] = 5,
    doc: Annotated[Optional[int], typer.Option(help="Steer the code of this corpus document (index) instead of "
                                                    "sampling.")] = None,
    on: Annotated[Optional[List[int]], typer.Option(help="Latent to switch on (repeatable; with --doc).")] = None,
    off: Annotated[Optional[List[int]], typer.Option(help="Latent to switch off (repeatable; with --doc).")] = None,
    near: Annotated[Optional[str], typer.Option("--near", metavar="DOC_INDEX_OR_TEXT",
                                                help="Sample --n codes around this document's posterior (VAE "
                                                     "models): a corpus index or a text.")] = None,
    temperature: Annotated[float, typer.Option(min=0.0, help="With --near: scale of the posterior spread (0: the "
                                                             "document's own code).")] = 1.0,
    between: Annotated[Optional[Tuple[str, str]], typer.Option(
        "--between", metavar="A B",
        help="Interpolate from document A to B (corpus indices or texts): VAE through the posterior, SAE in code "
             "space.")] = None,
    steps: Annotated[int, typer.Option(min=2, help="With --between: codes on the path, both ends included.")] = 5,
    sentences: Annotated[int, typer.Option(min=1, help="Retrieved sentences per generated code.")] = 3,
    seed: Seed = 0,
    overwrite: Overwrite = False,
    *,
    reading: CorpusOptions,
) -> None:
    """Generate codes (VAE: sample, near a document, interpolate; SAE: steer, interpolate) as bags, keywords and
    real sentences; the corpus gives the sentences to retrieve and the real L0 distribution."""
    modes = [name for name, value in (("--doc", doc), ("--near", near), ("--between", between)) if value is not None]
    if len(modes) > 1:
        raise typer.BadParameter(f"pass one of --doc, --near, --between, not {' and '.join(modes)}")
    check_output_file(output, overwrite)
    nlp, component = load_pipeline(model)
    if doc is None and between is None:
        gen.require_sampler(component.torch_model, "sparsecode generate --near" if near is not None else "sparsecode generate")
    _, docs = _corpus_docs(nlp, component, corpus, reading)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = gen.sentence_index(component, docs)
    if near is not None:
        generated = gen.near_document(component, _doc_ref(near, docs, nlp, "--near"), docs, temperature, n, seed)
    elif between is not None:
        generated = gen.between_documents(component, *(_doc_ref(v, docs, nlp, "--between") for v in between), steps)
    elif doc is None:
        generated, fitted_now = gen.sampled(component, docs, n, seed)
        if fitted_now:
            console.print("[yellow]The model's ex-post prior was not fitted (a spacy train model?): "
                          f"fitted it on {len(docs)} documents of {corpus} for this run (not saved).[/yellow]")
    else:
        generated = gen.steered_document(component, _doc_ref(str(doc), docs, nlp, "--doc"), on or [], off or [])
    rows = generated.describe(component, index, n_sentences=sentences)
    _write_jsonl(output, rows)
    for row in rows:
        console.print(f"[dim]{row['kind']}[/dim] [bold]{' '.join(row['keywords'])}[/bold]: " + " ".join(row["sentences"])[:300])
    console.print(f"Wrote {len(rows)} generated items -> {output}", soft_wrap=True)
