"""jobs/pipelines.py: the model block a family and options give, and finding the component."""

from __future__ import annotations

import pytest
from thinc.api import Config

from spacy_sparsecode.jobs.pipelines import FAMILY_ARCHITECTURES, build_pipeline, model_block, sparsecode_components
from spacy_sparsecode.models import MODEL_FAMILIES
from spacy_sparsecode.pipeline.architectures import ARCHITECTURES, LEGACY_ARCHITECTURES


def test_every_family_has_its_current_architecture():
    assert set(FAMILY_ARCHITECTURES) == set(MODEL_FAMILIES)
    assert set(FAMILY_ARCHITECTURES.values()) == set(ARCHITECTURES)
    assert not set(FAMILY_ARCHITECTURES.values()) & set(LEGACY_ARCHITECTURES)
    assert FAMILY_ARCHITECTURES["topk"] == "spacy-sparsecode.TopKSAE.v2"


def test_model_block_for_a_family_and_options():
    block = model_block({"@architectures": "ignored"}, "kl", {"n_latents": 32})
    assert block == {"@architectures": "spacy-sparsecode.KLSAE.v2", "n_latents": 32}
    base = {"@architectures": "spacy-sparsecode.TopKSAE.v2", "k": 4}
    assert model_block(base, None, {"k": 8}) == {"@architectures": "spacy-sparsecode.TopKSAE.v2", "k": 8}


def test_model_block_names_an_unknown_family_and_option():
    with pytest.raises(ValueError, match=r"\[E505\].*'nope'.*dictionary, gaussian"):
        model_block({}, "nope", {})
    with pytest.raises(ValueError, match=r"\[E506\].*'gaussian'.*'knob'"):
        model_block({}, "gaussian", {"knob": 1})
    with pytest.raises(ValueError, match=r"\[E506\].*TopKSAE.*'knob'"):
        model_block({"@architectures": "spacy-sparsecode.TopKSAE.v2"}, None, {"knob": 1})


def test_build_pipeline_uses_the_family_architecture():
    nlp, name = build_pipeline(None, "en", "dictionary", {"n_latents": 8, "k": 2})
    assert name == "sparsecode"
    assert nlp.config["components"]["sparsecode"]["model"]["@architectures"] == "spacy-sparsecode.Dictionary.v1"
    assert nlp.get_pipe(name).model.attrs["family"] == "dictionary"


def test_sparsecode_components_reads_factories():
    config = Config({"components": {"tok2vec": {"factory": "tok2vec"}, "codes": {"factory": "sparsecode"}}})
    assert sparsecode_components(config) == ["codes"]
    assert sparsecode_components(Config({})) == []
