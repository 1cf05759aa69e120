"""``sparsecode summarize --lead-prior``: a large prior picks each document's first sentences."""

from __future__ import annotations

import json
from pathlib import Path

import spacy
from clitools import SAMPLE, run

from spacy_sparsecode.text.corpora import read_corpus


def test_lead_prior_picks_the_first_sentences(cli_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "summaries.jsonl"
    run("summarize", cli_model, SAMPLE, out, "--limit", "5", "--sentences", "2", "--lead-prior", "100")
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    rows = [json.loads(line) for line in out.read_text(encoding="utf8").splitlines()]
    for row, record in zip(rows, read_corpus(SAMPLE, limit=5)):
        first = [s.text for s in nlp(record.text).sents][:2]
        assert row["summary"] == first
    assert "--lead-prior" in run("summarize", cli_model, SAMPLE, out, "--lead-prior", "-1", "--overwrite", code=2).output
