"""Registered thinc architectures: each builds a lazily-sized sparse code model.

The vocabulary size is only known after ``initialize`` has built the bag-of-words
vocabulary, so the returned thinc ``Model`` creates its torch module in its ``init`` (from
the ``nV`` dim and the ``idf`` attr the component sets) and wraps it once with thinc's
``PyTorchWrapper_v3``. Input: a CSR matrix of counts. Output: per-document losses when
training, ``SparseCodes`` when predicting.

The builders' signatures are the config schema: their constrained types make spaCy's config
validation name a bad field (``k = 0``) instead of failing with a traceback.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, Dict, Tuple

import scipy.sparse as sp
import torch
from spacy.util import registry
from thinc.api import ArgsKwargs, ConfigValidationError, Model, PyTorchWrapper_v3, torch2xp, xp2torch

from ..codes import SparseCodes
from ..errors import BOOL, Check, Errors, setting_check
from ..models import CodeModel, CsrBatch, build_model, encoder_input_of, model_class


class _ConfigType(type):
    """Metaclass of the config types: each shows as what it expects, so spaCy's config error
    reads "sparsecode.model -> k   at root: 0 is not an int > 0"."""

    def __repr__(cls) -> str:
        return cls.__doc__ or cls.__name__


def config_type(check: Check) -> type:
    """The type hint that makes thinc's config validation enforce ``check`` (a setting's constraint).

    thinc's config (confection) checks a registered function's arguments against their type
    hints. It ignores ``Annotated`` bounds, hence no pydantic ``PositiveInt``, but runs the
    validator of a type's pydantic hooks: ``__get_pydantic_core_schema__`` (confection >= 1.0,
    which spaCy 3.8.12+ requires) or ``__get_validators__`` (confection 0.1, through
    ``pydantic.v1``: what spaCy 3.8.0-3.8.11 install).

    The type is named after the check (``k: PositiveInt``, ``scaling: OneOf['tfidf', ...]``); a
    config error shows ``check.expected``.
    """

    def validate(value: Any) -> Any:
        if not check.ok(value):
            raise ValueError(f"expected {check.expected}, got {value!r}")
        return value

    hooks = {
        "__get_pydantic_core_schema__": classmethod(
            lambda cls, source, handler: {"type": "function-plain", "function": {"type": "no-info", "function": validate}}),
        "__get_validators__": classmethod(lambda cls: iter((validate,))),
    }
    return _ConfigType(check.name, (), {"__doc__": check.expected, "__module__": __name__, "__qualname__": check.name,
                                        **hooks})


def _field_type(owner: type, spec: dataclasses.Field) -> type:
    """The config type of the settings field ``spec`` of the dataclass ``owner`` (E004 if it has none)."""
    check = setting_check(spec)
    if check is None or not check.name:
        what = "constraint" if check is None else "constraint name"
        raise TypeError(Errors.E004.format(field=spec.name, owner=owner.__name__, what=what))
    return config_type(check)


def sparse_code_model(family: str, config: Dict[str, Any]) -> Model:
    """A thinc Model for ``family`` with a validated ``config``; sized at initialize.

    The registered builders pass their arguments (``locals()``), named as the family's config
    fields. A value the signature's types cannot rule out (such as ``k`` > ``n_latents``) fails
    here as a config error naming the fields, as spaCy shows a type error.
    """
    try:
        model_class(family).config_class.from_dict(config)
    except ValueError as err:
        raise ConfigValidationError(errors=[{"loc": ["model"], "msg": str(err)}],
                                    title=f"Config error for the {family} model") from err
    return Model(
        f"sparsecode_{family}", _forward, init=_init, dims={"nV": None},
        attrs={"family": family, "config": dict(config), "idf": None},
    )


def get_torch_model(model: Model) -> CodeModel:
    """The torch ``CodeModel`` inside an initialized sparse code model."""
    return model.layers[0].shims[0]._model


def get_device(model: Model) -> torch.device:
    """The device thinc runs an initialized sparse code model on (the training device may differ)."""
    return model.layers[0].shims[0].device


def _init(model: Model, X: Any = None, Y: Any = None) -> None:
    torch_model = build_model(model.attrs["family"], model.attrs["config"], model.get_dim("nV"), model.attrs["idf"])
    wrapper = PyTorchWrapper_v3(torch_model, convert_inputs=_convert_inputs, convert_outputs=_convert_outputs)
    torch_model.to(wrapper.shims[0].device)
    model.layers[:] = [wrapper]


def _forward(model: Model, X: sp.csr_matrix, is_train: bool) -> Tuple[Any, Callable]:
    return model.layers[0](X, is_train)


def _convert_inputs(model: Model, X: sp.csr_matrix, is_train: bool) -> Tuple[ArgsKwargs, Callable]:
    batch = CsrBatch.from_csr(X, model.shims[0].device)
    return ArgsKwargs(args=(batch,), kwargs={"mode": "loss" if is_train else "encode"}), lambda d: None


def _convert_outputs(model: Model, inputs_outputs: Tuple[Any, Any], is_train: bool) -> Tuple[Any, Callable]:
    X, Ytorch = inputs_outputs
    if not is_train:
        indices, values = Ytorch
        codes = SparseCodes.from_padded(indices.cpu().numpy(), values.detach().float().cpu().numpy(), model.shims[0]._model.config.n_latents)
        return codes, lambda dY: None
    per_doc_loss = torch2xp(Ytorch.detach())

    def backprop(d_loss: Any) -> ArgsKwargs:
        return ArgsKwargs(args=(Ytorch,), kwargs={"grad_tensors": (xp2torch(d_loss, device=Ytorch.device),)})

    return per_doc_loss, backprop


def _architecture(family: str, legacy_flags: bool = False) -> Callable[..., Model]:
    """The registered builder of ``family``: its keyword arguments are the family's config fields,
    with their defaults and their constraints as config types (the config schema).

    ``legacy_flags``: the ``*SAE.v1`` schema, which has the two flags ``encoder_input`` replaced
    (``pre_encoder_bias``, ``nonneg_encoder``) instead of it, so pipelines saved before keep loading.
    """
    config_class = model_class(family).config_class
    params = [inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=spec.default,
                                annotation=_field_type(config_class, spec))
              for spec in dataclasses.fields(config_class) if not (legacy_flags and spec.name == "encoder_input")]
    if legacy_flags:
        centered = LEGACY_PRE_ENCODER_BIAS[family]
        params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=config_type(BOOL))
                   for name, default in (("pre_encoder_bias", centered), ("nonneg_encoder", False))]

    def build(**config: Any) -> Model[sp.csr_matrix, Any]:
        if legacy_flags:
            flags = {name: config.pop(name) for name in ("pre_encoder_bias", "nonneg_encoder") if name in config}
            config["encoder_input"] = encoder_input_of(**{"pre_encoder_bias": centered, **flags})
        return sparse_code_model(family, config)

    build.__signature__ = inspect.Signature(params, return_annotation=Model)  # type: ignore[attr-defined]
    build.__name__ = build.__qualname__ = f"build_{family}" + ("_v1" if legacy_flags else "")
    build.__doc__ = model_class(family).__doc__
    return build


#: The registered name of each family's architecture. A family's options, defaults and
#: constraints are the fields of its config dataclass (models/).
ARCHITECTURES = {
    "spacy-sparsecode.TopKSAE.v2": "topk",
    "spacy-sparsecode.L1SAE.v2": "l1",
    "spacy-sparsecode.KLSAE.v2": "kl",
    "spacy-sparsecode.ThresholdSAE.v2": "threshold",
    "spacy-sparsecode.GaussianVAE.v1": "gaussian",
    "spacy-sparsecode.LogisticNormalVAE.v1": "logistic_normal",
    "spacy-sparsecode.Dictionary.v1": "dictionary",
}
#: The sparse autoencoders' v1 schemas (before ``encoder_input``), kept for saved pipelines.
LEGACY_ARCHITECTURES = {name.replace(".v2", ".v1"): family for name, family in ARCHITECTURES.items() if name.endswith(".v2")}
#: The v1 schemas' ``pre_encoder_bias`` default per family: what a v1 config without the flag
#: means, fixed here so that a later change of a v2 default does not change it.
LEGACY_PRE_ENCODER_BIAS = {"topk": False, "l1": False, "kl": True, "threshold": True}
# Module-level names for the package's spacy_architectures entry points.
(build_topk_sae, build_l1_sae, build_kl_sae, build_threshold_sae, build_gaussian_vae, build_logistic_normal_vae,
 build_dictionary) = (registry.architectures(name)(_architecture(family)) for name, family in ARCHITECTURES.items())
(build_topk_sae_v1, build_l1_sae_v1, build_kl_sae_v1, build_threshold_sae_v1) = (
    registry.architectures(name)(_architecture(family, legacy_flags=True)) for name, family in LEGACY_ARCHITECTURES.items())
