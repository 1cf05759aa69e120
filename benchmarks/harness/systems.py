"""What a benchmark compares: ``System`` records, and what a trained topic model hands back.

A system is a name, a kind (``"ours"`` for spacy-sparsecode's models, ``"peer"`` for the
others), a fit function and its settings (from ``settings.toml``). A script calls
``system.run(*data)``: the fit function gets the script's data arguments, then ``settings``.
Its ``check`` says why it cannot run here (a package missing), or None.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

import numpy as np
import scipy.sparse as sp

KINDS = ("ours", "peer")


def needs_module(module: str, install: str = "") -> Callable[[], Optional[str]]:
    """A ``check`` that fails when ``module`` is not importable; ``install`` is added to the pip hint."""

    def check() -> Optional[str]:
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install spacy-sparsecode[bench]{install})"
        return None

    return check


def needs_family(family: str) -> Callable[[], Optional[str]]:
    """A ``check`` that fails when spacy-sparsecode has no model family ``family``."""

    def check() -> Optional[str]:
        from spacy_sparsecode.models import MODEL_FAMILIES

        if family not in MODEL_FAMILIES:
            return f"model family {family!r} is not in spacy_sparsecode.models.MODEL_FAMILIES yet ({', '.join(MODEL_FAMILIES)})"
        return None

    return check


@dataclass(frozen=True)
class System:
    """One compared system: ``fit(*data, settings)`` trains it."""

    name: str
    kind: str
    fit: Callable[..., Any]
    settings: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    check: Optional[Callable[[], Optional[str]]] = None  # None: runs wherever the benchmark runs

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"System {self.name!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}")

    @property
    def ours(self) -> bool:
        return self.kind == "ours"

    def run(self, *data: Any) -> Any:
        """Train this system on ``data`` with its settings."""
        return self.fit(*data, self.settings)

    def unavailable(self) -> Optional[str]:
        """Why this system cannot run here, or None; a broken install is a reason, not a crash."""
        try:
            return self.check() if self.check is not None else None
        except Exception as error:
            return f"{type(error).__name__}: {error}"


def unavailable(systems: Mapping[str, System], names: Optional[List[str]] = None) -> Dict[str, Optional[str]]:
    """Map each requested name to None (it runs) or the reason it is skipped."""
    return {name: (systems[name].unavailable() if name in systems else f"unknown system (known: {', '.join(systems)})")
            for name in names or list(systems)}


@dataclass
class Fitted:
    """What a trained topic model hands back: topic-word weights and document representations."""

    topic_word: np.ndarray  # (K, V)
    train_seconds: float
    encode: Callable[[sp.csr_matrix], Any]  # counts -> (n, K) representation
    train_repr: Optional[Any] = None  # representation of the training docs, if cheap to get
    settings: Optional[Dict[str, Any]] = None
