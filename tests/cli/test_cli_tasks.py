"""The task commands end to end through the CLI: compress → decompress, summarize, generate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np
import spacy
from clitools import SAMPLE, run

from spacy_sparsecode.text.corpora import read_corpus


def rows_of(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


def test_compress_then_decompress_gives_the_pipelines_codes(cli_model: Path, tmp_path: Path) -> None:
    packed, unpacked = tmp_path / "codes.bin", tmp_path / "codes.jsonl"
    result = run("compress", cli_model, SAMPLE, packed, "--limit", "40", "--values", "int8", "--chunk-size", "16")
    assert "Packed 40 documents" in result.output
    run("decompress", cli_model, packed, unpacked, "--top-n", "5")
    rows = rows_of(unpacked)
    nlp = spacy.load(cli_model)
    texts = [r.text for r in read_corpus(SAMPLE, limit=40)]
    assert len(rows) == 40
    for row, doc in zip(rows, nlp.pipe(texts)):
        code = doc._.sparse_code
        assert sorted(j for j, _ in row["latents"]) == sorted(code.indices.tolist())
        values = dict(row["latents"])
        np.testing.assert_allclose([values[j] for j in code.indices.tolist()], code.values, atol=0.02 * code.values.max())
        assert 0 < len(row["words"]) <= 5
    run("compress", cli_model, SAMPLE, packed, "--limit", "10", "--overwrite")
    run("decompress", cli_model, packed, unpacked, "--overwrite")
    assert len(rows_of(unpacked)) == 10


def test_summarize_picks_sentences_of_each_document(cli_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "summaries.jsonl"
    run("summarize", cli_model, SAMPLE, out, "--limit", "12", "--sentences", "2", "--n-process", "2", "--chunk-size", "5")
    records = list(read_corpus(SAMPLE, limit=12))
    rows = rows_of(out)
    assert [row["id"] for row in rows] == [r.id for r in records]
    for row, record in zip(rows, records):
        assert 1 <= len(row["summary"]) <= 2 and all(sentence in record.text for sentence in row["summary"])
    run("summarize", cli_model, SAMPLE, out, "--limit", "3", "--ratio", "0.5", "--overwrite")
    assert len(rows_of(out)) == 3


def test_generate_steers_an_sae_code_and_interpolates(cli_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "steered.jsonl"
    run("generate", cli_model, SAMPLE, out, "--doc", "2", "--on", "5", "--off", "0", "--limit", "20")
    document, steered = rows_of(out)
    assert document["kind"] == "document" and document["source"] == "document 2"
    assert (steered["kind"], steered["on"], steered["off"]) == ("steered", [5], [0])
    run("generate", cli_model, SAMPLE, out, "--between", "0", "the election and the vote", "--steps", "3",
        "--limit", "20", "--overwrite")
    assert [(row["step"], row["through"]) for row in rows_of(out)] == [(0, "code space"), (1, "code space"), (2, "code space")]
    assert "--doc" in run("generate", cli_model, SAMPLE, out, "--doc", "0", "--near", "1", code=2).output


def test_generate_samples_from_a_vae(tmp_path: Path) -> None:
    vae = tmp_path / "vae"
    run("train", SAMPLE, vae, "--family", "logistic_normal", "--n-latents", "16", "--epochs", "4", "--threads", "1")
    out = tmp_path / "generated.jsonl"
    run("generate", vae, SAMPLE, out, "--n", "3", "--limit", "30")
    assert [row["kind"] for row in rows_of(out)] == ["sample"] * 3
    run("generate", vae, SAMPLE, out, "--near", "3", "--temperature", "0.5", "--n", "2", "--limit", "30", "--overwrite")
    rows = rows_of(out)
    assert [row["kind"] for row in rows] == ["document", "near", "near"]
    assert all(row["keywords"] and row["sentences"] for row in rows)
