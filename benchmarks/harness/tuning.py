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

