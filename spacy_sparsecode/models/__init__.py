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
import hashlib
from typing import Any, Dict, Optional, Sequence, Tuple, Type

import numpy as np
import torch

from ..errors import Errors
from .base import DATA_SAMPLE_ROWS, CodeModel, CsrBatch, LossParts, ModelConfig
from .dictionary import DictionaryCoder, DictionaryConfig
from .sae import ENCODER_INPUTS, KLSAE, L1SAE, KLSAEConfig, L1SAEConfig, SAEConfig, ThresholdSAE, ThresholdSAEConfig, TopKSAE
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


#: Training documents (with in-vocabulary words) a latent needs on average. A latent fitted to
#: one document learns that document's bag by heart (the exemplar initialisation even starts each
#: latent at one document), so with K near the number of documents every document can get a latent
#: of its own: codes become document ids and latents' top words one document's words. Two
#: documents a latent is the least that lets a latent be a pattern that recurs, as ``min_df=2``
#: asks of a word.
DOCS_PER_LATENT = 2
#: Config fields that must not exceed ``n_latents``.
_BOUNDED_BY_N_LATENTS = ("k", "latents_per_word")


def fit_to_corpus(config: Dict[str, Any], n_docs: int) -> Dict[str, Any]:
    """``config`` with ``n_latents`` lowered to the ``n_docs // DOCS_PER_LATENT`` latents that
    ``n_docs`` training documents support (and ``k``, ``latents_per_word`` to at most that); the
    same dict when it already fits. ``n_docs`` < ``DOCS_PER_LATENT`` support no latent: the caller
    refuses them (E012)."""
    supported = max(n_docs // DOCS_PER_LATENT, 1)
    if config["n_latents"] <= supported:
        return config
    bounded = {name: min(config[name], supported) for name in _BOUNDED_BY_N_LATENTS if name in config}
    return {**config, "n_latents": supported, **bounded}


#: Model-config fields added by a format version, with the value that reproduces how older
#: files behaved: format 1 SAEs always subtracted the decoder bias before encoding; formats
#: 1-2 VAEs had no ex-post prior buffers.
_ADDED_FIELDS = {"encoder_input": (2, "centered"), "prior_components": (3, 0)}
#: Format 5 (issue 19, no empty codes): codes that would be empty get a latent (``fill_empty``),
#: threshold SAEs keep the mean L0 at k (``calibrate_to_k``); older files did neither.
_ADDED_FIELDS.update(fill_empty=(5, False), calibrate_to_k=(5, False))
#: Defaults changed by a format version, per family, with the value older files meant when a
#: config left the field out (format 5: non-negative encoders and OMP codes keep k latents).
_CHANGED_DEFAULTS = {
    ("topk", "encoder_input"): (5, "linear"), ("l1", "encoder_input"): (5, "linear"),
    ("threshold", "encoder_input"): (5, "centered"), ("dictionary", "coding"): (5, "lasso"),
}
#: Format 4 replaced the SAE flags ``nonneg_encoder`` and ``pre_encoder_bias`` by ``encoder_input``:
#: the value of the first flag that is true (all false: "linear").
_ENCODER_INPUT_FLAGS = {"nonneg_encoder": "nonneg", "pre_encoder_bias": "centered"}
#: Tensors renamed by format 4: the VAEs' topic-word matrix (``beta`` was also the KL weight).
_RENAMED_TENSORS = {"beta": "topic_word"}


#: Bytes of a model fingerprint (sha256, truncated).
FINGERPRINT_BYTES = 8
#: Tensor names as the fingerprint hashes them: the names before format 4, so that a saved
#: model keeps its fingerprint (and its packed codes and stored Docs stay valid) across the upgrade.
_FINGERPRINT_NAMES = {new: old for old, new in _RENAMED_TENSORS.items()}


def weights_fingerprint(model: CodeModel, strings: Sequence[str]) -> bytes:
    """The identity of a trained model: sha256 over its family, its vocabulary strings and every
    weight tensor, truncated to ``FINGERPRINT_BYTES``."""
    tensors = {_FINGERPRINT_NAMES.get(name, name): tensor for name, tensor in model.weight_tensors().items()}
    h = hashlib.sha256(model.family.encode("utf8") + b"\0")
    h.update("\n".join(strings).encode("utf8"))
    for name in sorted(tensors):
        h.update(name.encode("utf8") + b"\0")
        h.update(tensors[name].detach().float().cpu().contiguous().numpy().tobytes())
    return h.digest()[:FINGERPRINT_BYTES]


def encoder_input_of(nonneg_encoder: bool = False, pre_encoder_bias: bool = False) -> str:
    """The ``encoder_input`` of the SAE flags it replaced (format 3 files, ``*SAE.v1`` configs)."""
    flags = {"nonneg_encoder": nonneg_encoder, "pre_encoder_bias": pre_encoder_bias}
    return next((value for name, value in _ENCODER_INPUT_FLAGS.items() if flags[name]), "linear")


def upgrade_saved(family: str, config: Dict[str, Any], tensors: Dict[str, torch.Tensor],
                  format_version: int) -> Tuple[Dict[str, Any], Dict[str, torch.Tensor]]:
    """A saved model's config and tensors, written in ``format_version``, in the current format."""
    config = dict(config)
    if format_version < 4:
        flags = {name: config.pop(name) for name in _ENCODER_INPUT_FLAGS if name in config}
        if flags:
            config["encoder_input"] = encoder_input_of(**flags)
        tensors = {_RENAMED_TENSORS.get(name, name): tensor for name, tensor in tensors.items()}
    fields = {f.name for f in dataclasses.fields(model_class(family).config_class)}
    for name, (added_in, legacy_value) in _ADDED_FIELDS.items():
        if format_version < added_in and name in fields:
            config.setdefault(name, legacy_value)
    for (owner, name), (changed_in, legacy_value) in _CHANGED_DEFAULTS.items():
        if format_version < changed_in and owner == family:
            config.setdefault(name, legacy_value)
    return config, tensors


__all__ = [
    "DATA_SAMPLE_ROWS", "CodeModel", "CsrBatch", "LossParts", "ModelConfig", "MODEL_FAMILIES", "build_model", "model_class",
    "DOCS_PER_LATENT", "fit_to_corpus",
    "FINGERPRINT_BYTES", "encoder_input_of", "upgrade_saved", "weights_fingerprint",
    "ENCODER_INPUTS", "SAEConfig", "L1SAEConfig", "KLSAEConfig", "ThresholdSAEConfig", "TopKSAE", "L1SAE", "KLSAE", "ThresholdSAE",
    "VAEConfig", "LogisticNormalConfig", "GaussianVAE", "LogisticNormalVAE", "DictionaryConfig", "DictionaryCoder",
]
