"""Saved models of older formats load through ``upgrade_saved`` and give the codes they gave.

``format3/`` holds models written in format 3 (spacy_sparsecode at commit db005e6): each
``<name>.json`` has the family, the saved config, a small probe matrix and the codes that
version gave it; ``<name>.safetensors`` the saved tensors.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from spacy_sparsecode.io import FORMAT_VERSION, load_tensors
from spacy_sparsecode.models import build_model, upgrade_saved, weights_fingerprint

FORMAT3 = Path(__file__).parent / "format3"
FORMAT4 = Path(__file__).parent / "format4"


def load_format3(name: str, encoder_input: str | None = None):
    """The upgraded model of ``format3/<name>``, its probe matrix and the codes format 3 gave it."""
    record = json.loads((FORMAT3 / f"{name}.json").read_text())
    config, tensors = upgrade_saved(record["family"], record["config"], load_tensors(FORMAT3 / f"{name}.safetensors"), 3)
    if encoder_input is not None:
        config["encoder_input"] = encoder_input
    model = build_model(record["family"], config, record["probe"]["shape"][1])
    model.load_state_dict(tensors)
    probe = record["probe"]
    matrix = sp.csr_matrix((probe["data"], probe["indices"], probe["indptr"]), shape=probe["shape"], dtype=np.float32)
    return model.eval(), matrix, np.array(record["codes"], dtype=np.float32)


@pytest.mark.parametrize("name, encoder_input", [
    ("topk_nonneg_encoder", "nonneg"),
    ("l1_no_pre_encoder_bias", "linear"),
    ("kl_pre_encoder_bias", "centered"),
])
def test_format_3_sae_flags_become_its_encoder_input(name, encoder_input):
    model, matrix, codes = load_format3(name)
    assert model.config.encoder_input == encoder_input
    assert not hasattr(model.config, "pre_encoder_bias") and not hasattr(model.config, "nonneg_encoder")
    with torch.no_grad():
        assert np.allclose(model.encode(matrix).matrix.toarray(), codes, atol=1e-6)


def test_another_encoder_input_gives_other_codes():
    """The probes tell the choices apart, so the test above checks the mapping."""
    model, matrix, codes = load_format3("kl_pre_encoder_bias", encoder_input="linear")
    with torch.no_grad():
        assert not np.allclose(model.encode(matrix).matrix.toarray(), codes, atol=1e-6)


#: The fingerprint format 3 gave ``gaussian_beta_tensor`` with the strings w0, w1, ... (computed
#: with spacy_sparsecode at commit f99c5c4: ``tasks.compress.model_fingerprint``).
FORMAT3_GAUSSIAN_FINGERPRINT = "7ab6449640fc434f"


def test_format_3_vae_beta_tensor_becomes_topic_word():
    model, matrix, codes = load_format3("gaussian_beta_tensor")
    assert "topic_word" in model.weight_tensors() and "beta" not in model.weight_tensors()
    strings = [f"w{i}" for i in range(matrix.shape[1])]
    assert weights_fingerprint(model, strings).hex() == FORMAT3_GAUSSIAN_FINGERPRINT  # packed codes stay valid
    assert model.config.beta == 1.0  # the KL weight keeps its name
    with torch.no_grad():
        assert np.allclose(model.encode(matrix).matrix.toarray(), codes, atol=1e-6)


@pytest.mark.parametrize("format_version, flags, encoder_input", [
    (1, {}, "centered"),  # format 1 always subtracted the decoder bias
    (2, {"pre_encoder_bias": False}, "linear"),
    (2, {"pre_encoder_bias": True}, "centered"),
    (3, {"pre_encoder_bias": False, "nonneg_encoder": True}, "nonneg"),
])
def test_legacy_flags_map_to_encoder_input(format_version, flags, encoder_input):
    config, _ = upgrade_saved("topk", {"n_latents": 8, "k": 3, **flags}, {}, format_version)
    assert config == {"n_latents": 8, "k": 3, "encoder_input": encoder_input, "fill_empty": False}


def test_current_format_is_left_as_is():
    config = {"n_latents": 8, "k": 3, "encoder_input": "nonneg"}
    tensors = {"beta": torch.zeros(1)}  # not a renamed tensor since format 4
    assert upgrade_saved("topk", config, tensors, FORMAT_VERSION) == (config, tensors)


# --- format 4 -> 5 (issue 19: no empty codes) ----------------------------------------------
# ``format4/`` holds models written in format 4 (spacy_sparsecode at commit 6109137) by
# ``Trainer.fit`` at each family's defaults then (K=16, k=4; dictionary K=8, k=3) on documents
# of 1-6 words: ``<name>.json`` has the saved config, a probe matrix and the codes that version
# gave it, including an empty code (the probe's row 12, two words of two topics).


def load_format4(name: str):
    record = json.loads((FORMAT4 / f"{name}.json").read_text())
    config, tensors = upgrade_saved(record["family"], record["config"], load_tensors(FORMAT4 / f"{name}.safetensors"), 4)
    model = build_model(record["family"], config, record["probe"]["shape"][1], np.array(record["idf"], dtype=np.float32))
    model.load_state_dict(tensors)
    probe = record["probe"]
    matrix = sp.csr_matrix((probe["data"], probe["indices"], probe["indptr"]), shape=probe["shape"], dtype=np.float32)
    return model.eval(), matrix, np.array(record["codes"], dtype=np.float32)


@pytest.mark.parametrize("name", ["topk_default", "l1_default", "threshold_default", "dictionary_default"])
def test_format_4_models_give_the_codes_they_gave(name):
    model, matrix, codes = load_format4(name)
    assert model.config.fill_empty is False
    with torch.no_grad():
        assert np.allclose(model.encode(matrix).matrix.toarray(), codes, atol=1e-6)


def test_format_4_keeps_its_empty_codes_and_the_new_setting_fills_them():
    model, matrix, codes = load_format4("topk_default")
    assert (codes[12] == 0).all()  # an empty code then, and still
    model.config.fill_empty = True
    with torch.no_grad():
        filled = model.encode(matrix).matrix.toarray()
    assert (filled[12] != 0).sum() == 1 and np.allclose(filled[:12], codes[:12], atol=1e-6)


def test_format_4_threshold_model_has_no_calibrated_scale():
    model, _, _ = load_format4("threshold_default")
    assert model.config.calibrate_to_k is False and model.config.encoder_input == "centered"
    assert "log_threshold_scale" not in model.weight_tensors()


@pytest.mark.parametrize("family, field, old_default", [
    ("topk", "encoder_input", "linear"), ("l1", "encoder_input", "linear"),
    ("threshold", "encoder_input", "centered"), ("dictionary", "coding", "lasso"),
])
def test_changed_defaults_keep_their_old_value_in_older_configs(family, field, old_default):
    """A format-4 config that leaves a field out meant that field's default then."""
    config, _ = upgrade_saved(family, {"n_latents": 8, "k": 3}, {}, 4)
    assert config[field] == old_default
    assert field not in upgrade_saved(family, {"n_latents": 8, "k": 3}, {}, FORMAT_VERSION)[0]
