"""Model families. ``build_model`` picks one by name; each is a ``CodeModel``.

| family            | module        | codes                                                   |
|-------------------|---------------|---------------------------------------------------------|
| ``topk``          | sae.py        | k largest ReLU activations (+ AuxK)                     |
| ``l1``            | sae.py        | ReLU + L1 penalty; top k at inference                   |
| ``kl``            | sae.py        | sigmoid/ReLU + KL(rho ‖ rho_hat); top k at inference    |
| ``threshold``     | sae.py        | JumpReLU (learned thresholds) + L0; top k at inference  |
| ``gaussian``      | vae.py        | beta-VAE, top k of softmax(mu)                          |
| ``logistic_normal`` | vae.py      | ProdLDA-style VAE, top k of softmax(mu)                 |
| ``dictionary``    | dictionary.py | k-means / learned dictionary, OMP or lasso codes        |
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Tuple, Type

import numpy as np
import torch

from ..errors import Errors
from .base import DATA_SAMPLE_ROWS, CodeModel, CsrBatch, LossParts, ModelConfig
from .dictionary import DictionaryCoder, DictionaryConfig
from .sae import KLSAE, L1SAE, KLSAEConfig, L1SAEConfig, SAEConfig, ThresholdSAE, ThresholdSAEConfig, TopKSAE
from .vae import GaussianVAE, LogisticNormalConfig, LogisticNormalVAE, VAEConfig

MODEL_FAMILIES: Dict[str, Type[CodeModel]] = {
    cls.family: cls for cls in (TopKSAE, L1SAE, KLSAE, ThresholdSAE, GaussianVAE, LogisticNormalVAE, DictionaryCoder)
}


def model_class(family: str) -> Type[CodeModel]:
    """The class of a family name, with an error listing the valid names."""
    if family not in MODEL_FAMILIES:
        raise ValueError(Errors.E002.format(what="model family", value=family, valid=", ".join(MODEL_FAMILIES)))
    return MODEL_FAMILIES[family]


def build_model(family: str, config: Dict[str, Any], n_vocab: int, idf: Optional[np.ndarray] = None) -> CodeModel:
    """Construct a model of ``family`` from a plain config dict (validated)."""
    cls = model_class(family)
    return cls(cls.config_class.from_dict(config), n_vocab, idf)


#: Model-config fields added by a format version, with the value that reproduces how older
#: formats behaved: format 1 always subtracted the SAE decoder bias before encoding; formats
#: 1-2 had no ex-post prior buffers in the VAEs.
_ADDED_FIELDS = {"pre_encoder_bias": (2, True), "prior_components": (3, 0)}


def upgrade_saved(family: str, config: Dict[str, Any], tensors: Dict[str, torch.Tensor],
                  format_version: int) -> Tuple[Dict[str, Any], Dict[str, torch.Tensor]]:
    """A saved model's config and tensors, written in ``format_version``, in the current format."""
    config = dict(config)
    fields = {f.name for f in dataclasses.fields(model_class(family).config_class)}
    for name, (added_in, legacy_value) in _ADDED_FIELDS.items():
        if format_version < added_in and name in fields:
            config.setdefault(name, legacy_value)
    return config, tensors


__all__ = [
    "DATA_SAMPLE_ROWS", "CodeModel", "CsrBatch", "LossParts", "ModelConfig", "MODEL_FAMILIES", "build_model", "model_class",
    "upgrade_saved",
    "SAEConfig", "L1SAEConfig", "KLSAEConfig", "ThresholdSAEConfig", "TopKSAE", "L1SAE", "KLSAE", "ThresholdSAE",
    "VAEConfig", "LogisticNormalConfig", "GaussianVAE", "LogisticNormalVAE", "DictionaryConfig", "DictionaryCoder",
]
