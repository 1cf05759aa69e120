"""No empty codes (issue 19 §6): with every family's default settings, every document with
in-vocabulary words gets a non-empty code, and the mean L0 is within 30% of the family's k.

Each family is trained as a user gets it (``sparsecode train``'s path, default model and
TrainConfig) on 120 documents of ``corpora/sample.jsonl`` and checked on them and on the 30
held out. 120 documents support 60 latents (``models.fit_to_corpus``), so the SAEs and the
dictionary train at K=60 with their default k=16; the VAEs keep K=50, k=8.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from spacy_sparsecode import fit_component
from spacy_sparsecode.jobs.pipelines import build_pipeline
from spacy_sparsecode.models import MODEL_FAMILIES, upgrade_saved
from spacy_sparsecode.models.trainer import TrainConfig

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample.jsonl"
N_TRAIN = 120
#: The rule: the mean L0 within this share of k.
L0_TOLERANCE = 0.3


@pytest.fixture(scope="module")
def texts():
    return [json.loads(line)["text"] for line in SAMPLE.read_text(encoding="utf8").splitlines() if line.strip()]


def train_family(family: str, texts, options=None):
    """The component of ``family`` at its defaults (plus ``options``) trained on the first texts;
    RETURNS it and the code L0 of the training and the held-out documents that have words."""
    nlp, name = build_pipeline(None, "en", family, options or {})
    component = nlp.get_pipe(name)
    docs = [nlp.make_doc(text) for text in texts]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # W003: 120 documents lower K to 60, as expected here
        fit_component(component, docs[:N_TRAIN], TrainConfig(), progress=False)
    l0 = {}
    for part, rows in (("train", docs[:N_TRAIN]), ("held-out", docs[N_TRAIN:])):
        matrix = component.featurize(rows)
        l0[part] = component.torch_model.encode(matrix).l0[np.diff(matrix.indptr) > 0]
    return component, l0


@pytest.mark.parametrize("family", list(MODEL_FAMILIES))
def test_defaults_give_every_document_with_words_a_code_of_about_k_latents(family, texts):
    component, l0 = train_family(family, texts)
    k = component.torch_model.config.k
    for part, counts in l0.items():
        assert counts.size > 0
        assert (counts > 0).all(), f"{family}: {(counts == 0).sum()} {part} documents with words got an empty code"
        assert abs(counts.mean() - k) <= L0_TOLERANCE * k, f"{family}: mean {part} L0 {counts.mean():.1f}, k={k}"


def test_the_settings_before_format_5_miss_the_rule(texts):
    """The check has teeth: the threshold SAE at its format-4 defaults keeps far fewer than k."""
    legacy, _ = upgrade_saved("threshold", {}, {}, 4)
    component, l0 = train_family("threshold", texts, legacy)
    assert l0["train"].mean() < (1 - L0_TOLERANCE) * component.torch_model.config.k
