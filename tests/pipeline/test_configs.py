"""The shipped configs pass ``spacy debug config`` as they are; bad values give spaCy's config
error naming the field, not a traceback. spaCy's ``debug_config`` runs in-process (what the CLI
command calls), with the repository root as the working directory, as the configs expect."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
from spacy.cli.debug_config import debug_config
from spacy.util import registry
from thinc.api import Config, ConfigValidationError

from spacy_sparsecode.errors import POSITIVE_INT, Check, setting
from spacy_sparsecode.pipeline.architectures import (LEGACY_ARCHITECTURES, LEGACY_PRE_ENCODER_BIAS, _field_type,
                                                     config_type)

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("*.cfg"))


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_configs_are_found():
    assert len(CONFIGS) >= 7  # an empty glob would skip the tests below


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.stem)
def test_shipped_config_passes_debug_config(path, capsys):
    debug_config(path)
    assert "Config is valid" in capsys.readouterr().out


def _debug_config_error(path: Path, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        debug_config(path)
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "Traceback" not in out
    return out


def test_k_0_fails_with_spacys_config_error_naming_k(tmp_path, capsys):
    text = (ROOT / "configs" / "sae_topk.cfg").read_text()
    assert "\nk = 16\n" in text
    (tmp_path / "bad.cfg").write_text(text.replace("\nk = 16\n", "\nk = 0\n"))
    out = _debug_config_error(tmp_path / "bad.cfg", capsys)
    assert "Config error for 'spacy-sparsecode.TopKSAE.v2'" in out
    assert "sparsecode.model -> k\tat root: 0 is not an int > 0" in out


def test_k_above_n_latents_fails_with_one_line_naming_both(tmp_path, capsys):
    text = (ROOT / "configs" / "sae_topk.cfg").read_text()
    (tmp_path / "bad.cfg").write_text(text.replace("\nk = 16\n", "\nk = 300\n"))
    out = _debug_config_error(tmp_path / "bad.cfg", capsys)
    assert "Config error for the topk model" in out
    assert "model\t[E003] Config field 'k' (300) must be <= 'n_latents' (256)." in out


@pytest.mark.parametrize("architecture, setting, message", [
    ("TopKSAE", "n_latents = -3", "n_latents\tat root: -3 is not an int > 0"),
    ("TopKSAE", 'scaling = "bogus"', "scaling\tat root: 'bogus' is not one of tfidf, log1p-tfidf, log1p, count"),
    ("L1SAE", 'encoder_input = "x"', "encoder_input\tat root: 'x' is not one of linear, centered, nonneg"),
    ("KLSAE", "rho = 1.0", "rho\tat root: 1.0 is not a float in (0, 1)"),
    ("ThresholdSAE", "denoise_rate = 1", "denoise_rate\tat root: 1 is not a float in [0, 1)"),
    ("GaussianVAE", "hidden = true", "hidden\tat root: True is not an int > 0"),
    ("Dictionary", 'coding = "lars"', "coding\tat root: 'lars' is not one of omp, lasso"),
])
def test_bad_architecture_value_names_the_field(architecture, setting, message):
    version = "v2" if architecture.endswith("SAE") else "v1"
    config = Config().from_str(f'[model]\n@architectures = "spacy-sparsecode.{architecture}.{version}"\n{setting}\n')
    with pytest.raises(ConfigValidationError) as error:
        registry.resolve(config)
    assert f"model -> {message}" in str(error.value)


@pytest.mark.parametrize("flags, encoder_input", [({}, "linear"), ({"pre_encoder_bias": True}, "centered"),
                                                  ({"nonneg_encoder": True}, "nonneg")])
def test_v1_sae_schema_maps_the_old_flags(flags, encoder_input):
    config = Config({"model": {"@architectures": "spacy-sparsecode.TopKSAE.v1", **flags}})
    assert registry.resolve(config)["model"].attrs["config"]["encoder_input"] == encoder_input
    kl = registry.resolve(Config({"model": {"@architectures": "spacy-sparsecode.KLSAE.v1"}}))["model"]
    assert kl.attrs["config"]["encoder_input"] == "centered"  # the KL family's default, as in v1


def test_v1_sae_defaults_are_fixed_not_read_from_v2():
    assert LEGACY_PRE_ENCODER_BIAS == {"topk": False, "l1": False, "kl": True, "threshold": True}
    assert set(LEGACY_PRE_ENCODER_BIAS) == set(LEGACY_ARCHITECTURES.values())
    for name, family in LEGACY_ARCHITECTURES.items():
        default = inspect.signature(registry.architectures.get(name)).parameters["pre_encoder_bias"].default
        assert default is LEGACY_PRE_ENCODER_BIAS[family], name


def test_config_types_are_named_after_their_check():
    params = inspect.signature(registry.architectures.get("spacy-sparsecode.TopKSAE.v2")).parameters
    assert params["k"].annotation.__name__ == "PositiveInt"
    assert params["exclusivity"].annotation.__name__ == "Share"
    assert params["scaling"].annotation.__name__ == "OneOf['tfidf', 'log1p-tfidf', 'log1p', 'count']"
    assert params["k"].annotation is not int and params["k"].annotation.__module__ != "builtins"
    assert str(params["k"].annotation) == "an int > 0"  # what confection's error shows


@pytest.mark.parametrize("module", ["pydantic.v1", "pydantic"])
def test_config_type_validates_through_pydantic_models(module):
    """Older confections check arguments with a pydantic model: confection 0.1 (what spaCy
    3.8.0-3.8.11 install) a ``pydantic.v1`` one, confection 1.0 a pydantic 2 one."""
    pydantic = pytest.importorskip(module)
    schema = pydantic.create_model("Schema", k=(config_type(POSITIVE_INT), ...))
    assert schema(k=3).k == 3
    with pytest.raises(pydantic.ValidationError, match="expected an int > 0, got 0"):
        schema(k=0)


def test_a_field_without_a_named_check_is_a_clear_error():
    @dataclasses.dataclass
    class Settings:
        plain: int = 3
        unnamed: float = setting(0.5, Check(float, "a float", lambda v: True))

    plain, unnamed = dataclasses.fields(Settings)
    with pytest.raises(TypeError, match=r"\[E004\] Field 'plain' of Settings declares no constraint"):
        _field_type(Settings, plain)
    with pytest.raises(TypeError, match=r"\[E004\] Field 'unnamed' of Settings declares no constraint name"):
        _field_type(Settings, unnamed)
