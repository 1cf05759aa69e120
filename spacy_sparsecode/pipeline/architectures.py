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

from typing import Any, Callable, Dict, Literal, Tuple

import scipy.sparse as sp
from spacy.util import registry
from thinc.api import ArgsKwargs, ConfigValidationError, Model, PyTorchWrapper_v3, torch2xp, xp2torch

from ..codes import SparseCodes
from ..models import CodeModel, CsrBatch, build_model, model_class
from ..models.dictionary import CODINGS, METHODS
from ..models.sae import ENCODER_INPUTS, KL_ACTIVATIONS, LOSSES
from ..text.featurize import SCALINGS


class _ConfigType(type):
    """Metaclass of the constrained config types: each shows as what it expects, so spaCy's
    config error reads "sparsecode.model -> k   at root: 0 is not an int > 0"."""

    def __repr__(cls) -> str:
        return cls.__doc__ or cls.__name__


def _constrained(kind: type, expected: str, ok: Callable[[Any], bool]) -> type:
    """The type of config values of ``kind`` (an int is a float too; a bool is neither) for which ``ok`` holds.

    thinc's config (confection) checks a registered function's arguments against their type
    hints. It ignores ``Annotated`` bounds, hence no pydantic ``PositiveInt``, but runs the
    validator of a type's pydantic hooks: ``__get_pydantic_core_schema__`` (confection 1.3, as
    pydantic 2) or ``__get_validators__`` (older confection, through ``pydantic.v1``).
    """
    kinds = (int,) if kind is int else (int, float)

    def validate(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, kinds) or not ok(value):
            raise ValueError(f"expected {expected}, got {value!r}")
        return value

    hooks = {
        "__get_pydantic_core_schema__": classmethod(
            lambda cls, source, handler: {"type": "function-plain", "function": {"type": "no-info", "function": validate}}),
        "__get_validators__": classmethod(lambda cls: iter((validate,))),
    }
    return _ConfigType(kind.__name__, (), {"__doc__": expected, **hooks})


PositiveInt = _constrained(int, "an int > 0", lambda v: v > 0)
NonNegativeInt = _constrained(int, "an int >= 0", lambda v: v >= 0)
PositiveFloat = _constrained(float, "a float > 0", lambda v: v > 0)
NonNegativeFloat = _constrained(float, "a float >= 0", lambda v: v >= 0)
Rate = _constrained(float, "a float in [0, 1)", lambda v: 0 <= v < 1)
Share = _constrained(float, "a float in [0, 1]", lambda v: 0 <= v <= 1)
Probability = _constrained(float, "a float in (0, 1)", lambda v: 0 < v < 1)
# The Literal of a tuple is the Literal of its items: each list of choices is written once, by the code using it.
Scaling = Literal[SCALINGS]
Loss = Literal[LOSSES]
EncoderInput = Literal[ENCODER_INPUTS]
KLActivation = Literal[KL_ACTIVATIONS]
Method = Literal[METHODS]
Coding = Literal[CODINGS]


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


# Options shared by the sparse autoencoder architectures, after their family's own:
#   denoise_rate: share of each bag's words dropped from the encoder input while training
#   diversity_coef: weight of the decoder-overlap penalty (mean cosine between latents)
#   latents_per_word: each word is kept by at most this many latents' decoders (0: no limit)
#   exclusivity: a word keeps a latent's weight only if >= this share of its largest (0: off)
#   init_neighbours: latents start at the mean of this many similar documents (1: one)
#   encoder_input: "linear" (x W_enc + b_enc), "centered" (W_enc (x - b_dec) + b_enc; default
#     for KL and threshold) or "nonneg" (non-negative W_enc, no bias: TopK codes always use
#     their k latents)


@registry.architectures("spacy-sparsecode.TopKSAE.v1")
def build_topk_sae(
    n_latents: PositiveInt = 256,
    k: PositiveInt = 16,
    scaling: Scaling = "tfidf",
    loss: Loss = "mse",
    aux_k: NonNegativeInt = 64,
    aux_coef: NonNegativeFloat = 0.125,
    dead_after_docs: PositiveInt = 2000,
    seed: int = 0,
    denoise_rate: Rate = 0.0,
    diversity_coef: NonNegativeFloat = 0.0,
    latents_per_word: NonNegativeInt = 0,
    exclusivity: Share = 0.0,
    init_neighbours: PositiveInt = 1,
    encoder_input: EncoderInput = "linear",
) -> Model[sp.csr_matrix, Any]:
    """TopK sparse autoencoder (non-negative decoder, AuxK dead-latent revival)."""
    return sparse_code_model("topk", locals())


@registry.architectures("spacy-sparsecode.L1SAE.v1")
def build_l1_sae(
    n_latents: PositiveInt = 256,
    k: PositiveInt = 16,
    scaling: Scaling = "tfidf",
    loss: Loss = "mse",
    l1_coef: NonNegativeFloat = 0.001,
    aux_k: NonNegativeInt = 64,
    aux_coef: NonNegativeFloat = 0.125,
    dead_after_docs: PositiveInt = 2000,
    seed: int = 0,
    denoise_rate: Rate = 0.0,
    diversity_coef: NonNegativeFloat = 0.0,
    latents_per_word: NonNegativeInt = 0,
    exclusivity: Share = 0.0,
    init_neighbours: PositiveInt = 1,
    encoder_input: EncoderInput = "linear",
) -> Model[sp.csr_matrix, Any]:
    """ReLU sparse autoencoder with an L1 penalty; inference codes keep the top ``k``."""
    return sparse_code_model("l1", locals())


@registry.architectures("spacy-sparsecode.KLSAE.v1")
def build_kl_sae(
    n_latents: PositiveInt = 256,
    k: PositiveInt = 16,
    scaling: Scaling = "tfidf",
    loss: Loss = "mse",
    rho: Probability = 0.05,
    beta: NonNegativeFloat = 0.1,
    activation: KLActivation = "sigmoid",
    aux_k: NonNegativeInt = 64,
    aux_coef: NonNegativeFloat = 0.125,
    dead_after_docs: PositiveInt = 2000,
    seed: int = 0,
    denoise_rate: Rate = 0.0,
    diversity_coef: NonNegativeFloat = 0.0,
    latents_per_word: NonNegativeInt = 0,
    exclusivity: Share = 0.0,
    init_neighbours: PositiveInt = 1,
    encoder_input: EncoderInput = "centered",
) -> Model[sp.csr_matrix, Any]:
    """Sparse autoencoder with the KL(rho || rho_hat) sparsity penalty (weight ``beta``); top ``k`` at inference."""
    return sparse_code_model("kl", locals())


@registry.architectures("spacy-sparsecode.ThresholdSAE.v1")
def build_threshold_sae(
    n_latents: PositiveInt = 256,
    k: PositiveInt = 16,
    scaling: Scaling = "tfidf",
    loss: Loss = "mse",
    l0_coef: NonNegativeFloat = 0.0001,
    threshold_init: PositiveFloat = 0.05,
    bandwidth: PositiveFloat = 0.01,
    aux_k: NonNegativeInt = 64,
    aux_coef: NonNegativeFloat = 0.125,
    dead_after_docs: PositiveInt = 2000,
    seed: int = 0,
    denoise_rate: Rate = 0.0,
    diversity_coef: NonNegativeFloat = 0.0,
    latents_per_word: NonNegativeInt = 0,
    exclusivity: Share = 0.0,
    init_neighbours: PositiveInt = 1,
    encoder_input: EncoderInput = "centered",
) -> Model[sp.csr_matrix, Any]:
    """JumpReLU sparse autoencoder (learned thresholds, L0 penalty); at most ``k`` active at inference."""
    return sparse_code_model("threshold", locals())


@registry.architectures("spacy-sparsecode.GaussianVAE.v1")
def build_gaussian_vae(
    n_latents: PositiveInt = 50,
    k: PositiveInt = 8,
    scaling: Scaling = "count",
    hidden: PositiveInt = 100,
    dropout: Rate = 0.2,
    beta: NonNegativeFloat = 1.0,
    kl_anneal_steps: NonNegativeInt = 0,
    code_threshold: Rate = 0.0,
    prior_components: NonNegativeInt = 10,
    seed: int = 0,
) -> Model[sp.csr_matrix, Any]:
    """beta-VAE topic model (Gaussian latent, NVDM-style decoder); codes: top ``k`` of softmax(mu).
    ``beta``: the KL weight; ``prior_components``: size of the ex-post Gaussian-mixture prior ``sample`` draws from."""
    return sparse_code_model("gaussian", locals())


@registry.architectures("spacy-sparsecode.LogisticNormalVAE.v1")
def build_logistic_normal_vae(
    n_latents: PositiveInt = 50,
    k: PositiveInt = 8,
    scaling: Scaling = "count",
    hidden: PositiveInt = 200,
    dropout: Rate = 0.2,
    beta: NonNegativeFloat = 1.0,
    alpha: PositiveFloat = 1.0,
    kl_anneal_steps: NonNegativeInt = 0,
    code_threshold: Rate = 0.0,
    prior_components: NonNegativeInt = 10,
    seed: int = 0,
) -> Model[sp.csr_matrix, Any]:
    """ProdLDA-style VAE (logistic-normal prior, batch-norm'd decoder); codes: top ``k`` of softmax(mu).
    ``beta``: the KL weight; ``prior_components``: size of the ex-post Gaussian-mixture prior ``sample`` draws from."""
    return sparse_code_model("logistic_normal", locals())


@registry.architectures("spacy-sparsecode.Dictionary.v1")
def build_dictionary(
    n_latents: PositiveInt = 256,
    k: PositiveInt = 16,
    scaling: Scaling = "tfidf",
    method: Method = "kmeans",
    coding: Coding = "lasso",
    alpha: PositiveFloat = 0.005,
    lasso_iter: PositiveInt = 100,
    epochs: PositiveInt = 5,
    batch_size: PositiveInt = 1024,
    seed: int = 0,
) -> Model[sp.csr_matrix, Any]:
    """Classical sparse coding: k-means or learned dictionary, OMP or lasso codes (fitted, not SGD-trained)."""
    return sparse_code_model("dictionary", locals())
