"""Shared fixtures: the sample corpus and a small trained pipeline (built once per session)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pytest
import spacy
import torch

from spacy_sparsecode import fit_component
import spacy_sparsecode  # noqa: F401  (registers the factory)
from spacy_sparsecode.models.trainer import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "corpora" / "sample.jsonl"
SHARED_CORPORA = ROOT.parent / "shared" / "corpora"

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def sample_texts() -> List[str]:
    return [json.loads(line)["text"] for line in SAMPLE.read_text(encoding="utf8").splitlines() if line.strip()]


def small_pipeline(texts: List[str], n_latents: int = 32, k: int = 4, epochs: int = 20, seed: int = 0):
    """A blank English pipeline with a ``sparsecode`` component trained on ``texts``."""
    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode", config={"model": {"n_latents": n_latents, "k": k, "seed": seed}})
    docs = [nlp.make_doc(t) for t in texts]
    fit_component(component, docs, TrainConfig(epochs=epochs, batch_size=32, seed=seed), progress=False)
    return nlp


@pytest.fixture(scope="session")
def make_pipeline():
    return small_pipeline


@pytest.fixture(scope="session")
def trained_nlp(sample_texts):
    return small_pipeline(sample_texts)


@pytest.fixture(scope="session")
def saved_pipeline(trained_nlp, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pipeline") / "nlp"
    trained_nlp.to_disk(path)
    return path
