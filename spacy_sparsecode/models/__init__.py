"""Model families. ``build_model`` picks one by name; each is a ``CodeModel``."""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

import numpy as np

from ..errors import Errors
from .base import CodeModel, CsrBatch, LossParts, ModelConfig
from .sae import SAEConfig, TopKSAE

MODEL_FAMILIES: Dict[str, Type[CodeModel]] = {cls.family: cls for cls in (TopKSAE,)}


def model_class(family: str) -> Type[CodeModel]:
    """The class of a family name, with an error listing the valid names."""
    if family not in MODEL_FAMILIES:
        raise ValueError(Errors.E002.format(what="model family", value=family, valid=", ".join(MODEL_FAMILIES)))
    return MODEL_FAMILIES[family]


def build_model(family: str, config: Dict[str, Any], n_vocab: int, idf: Optional[np.ndarray] = None) -> CodeModel:
    """Construct a model of ``family`` from a plain config dict (validated)."""
    cls = model_class(family)
    return cls(cls.config_class.from_dict(config), n_vocab, idf)


__all__ = ["CodeModel", "CsrBatch", "LossParts", "ModelConfig", "SAEConfig", "TopKSAE", "MODEL_FAMILIES", "build_model", "model_class"]
