"""The tuned settings of the benchmarks, read from ``benchmarks/settings.toml``.

Every model and training setting, seed, K and peer setting a benchmark uses comes from that
file, one table a script. How the settings were chosen is in ``results/history.md``.
"""

from __future__ import annotations

import copy
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

from .paths import BENCHMARKS

SETTINGS_FILE = BENCHMARKS / "settings.toml"


@lru_cache(maxsize=None)
def _read(path: Path) -> Dict[str, Any]:
    with open(path, "rb") as f:
        return tomllib.load(f)


def settings(script: str, path: Path = SETTINGS_FILE) -> Dict[str, Any]:
    """The settings table of one script (a copy: callers may change it)."""
    tables = _read(Path(path))
    if script not in tables:
        raise KeyError(f"{path} has no [{script}] table (tables: {', '.join(tables)})")
    return copy.deepcopy(tables[script])


def package_model_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """``config`` as the installed package's model configs spell it.

    The settings name the SAE encoder's input ``encoder_input`` ("linear", "centered",
    "nonneg"); until the package's configs have that field, it becomes the two booleans
    ``pre_encoder_bias`` / ``nonneg_encoder`` they had. Remove once ``SAEConfig`` has it.
    """
    from dataclasses import fields

    from spacy_sparsecode.models.sae import SAEConfig

    if "encoder_input" not in config or any(f.name == "encoder_input" for f in fields(SAEConfig)):
        return dict(config)
    out = {key: value for key, value in config.items() if key != "encoder_input"}
    return {**out, "pre_encoder_bias": config["encoder_input"] == "centered", "nonneg_encoder": config["encoder_input"] == "nonneg"}
