"""Registered thinc architectures: each builds a lazily-sized sparse code model.

The vocabulary size is only known after ``initialize`` has built the bag-of-words
vocabulary, so the returned thinc ``Model`` creates its torch module in its ``init`` (from
the ``nV`` dim and the ``idf`` attr the component sets) and wraps it once with thinc's
``PyTorchWrapper_v3``. Input: a CSR matrix of counts. Output: per-document losses when
training, ``SparseCodes`` when predicting.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

import scipy.sparse as sp
from spacy.util import registry
from thinc.api import ArgsKwargs, Model, PyTorchWrapper_v3, torch2xp, xp2torch

from ..codes import SparseCodes
from ..models import CodeModel, CsrBatch, build_model, model_class


def sparse_code_model(family: str, config: Dict[str, Any]) -> Model:
    """A thinc Model for ``family`` with a validated ``config``; sized at initialize."""
    model_class(family).config_class.from_dict(config)
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
#   pre_encoder_bias: encode W_enc (x - b_dec) instead of x W_enc (default: KL, threshold)
#   nonneg_encoder: non-negative encoder without bias: TopK codes always use their k latents
# The topic-quality settings of benchmarks/model_zoo.py (K=50) are scaling="log1p",
# init_neighbours=40, latents_per_word=2, diversity_coef=2.0.


def _sae_config(n_latents: int, k: int, scaling: str, loss: str, aux_k: int, aux_coef: float, dead_after_docs: int,
                denoise_rate: float, diversity_coef: float, latents_per_word: int, exclusivity: float, init_neighbours: int, seed: int,
                pre_encoder_bias: bool, nonneg_encoder: bool, **family: Any) -> Dict[str, Any]:
    return dict(n_latents=n_latents, k=k, scaling=scaling, loss=loss, aux_k=aux_k, aux_coef=aux_coef,
                dead_after_docs=dead_after_docs, denoise_rate=denoise_rate, diversity_coef=diversity_coef,
                latents_per_word=latents_per_word, exclusivity=exclusivity, init_neighbours=init_neighbours, seed=seed,
                pre_encoder_bias=pre_encoder_bias, nonneg_encoder=nonneg_encoder, **family)


@registry.architectures("spacy-sparsecode.TopKSAE.v1")
def build_topk_sae(
    n_latents: int = 256,
    k: int = 16,
    scaling: str = "tfidf",
    loss: str = "mse",
    aux_k: int = 64,
    aux_coef: float = 0.125,
    dead_after_docs: int = 2000,
    seed: int = 0,
    denoise_rate: float = 0.0,
    diversity_coef: float = 0.0,
    latents_per_word: int = 0,
    exclusivity: float = 0.0,
    init_neighbours: int = 1,
    pre_encoder_bias: bool = False,
    nonneg_encoder: bool = False,
) -> Model[sp.csr_matrix, Any]:
    """TopK sparse autoencoder (non-negative decoder, AuxK dead-latent revival)."""
    return sparse_code_model("topk", _sae_config(n_latents, k, scaling, loss, aux_k, aux_coef, dead_after_docs,
                                                 denoise_rate, diversity_coef, latents_per_word, exclusivity, init_neighbours, seed,
                                                 pre_encoder_bias, nonneg_encoder))


@registry.architectures("spacy-sparsecode.L1SAE.v1")
def build_l1_sae(
    n_latents: int = 256,
    k: int = 16,
    scaling: str = "tfidf",
    loss: str = "mse",
    l1_coef: float = 0.001,
    aux_k: int = 64,
    aux_coef: float = 0.125,
    dead_after_docs: int = 2000,
    seed: int = 0,
    denoise_rate: float = 0.0,
    diversity_coef: float = 0.0,
    latents_per_word: int = 0,
    exclusivity: float = 0.0,
    init_neighbours: int = 1,
    pre_encoder_bias: bool = False,
    nonneg_encoder: bool = False,
) -> Model[sp.csr_matrix, Any]:
    """ReLU sparse autoencoder with an L1 penalty; inference codes keep the top ``k``."""
    return sparse_code_model("l1", _sae_config(n_latents, k, scaling, loss, aux_k, aux_coef, dead_after_docs, denoise_rate,
                                               diversity_coef, latents_per_word, exclusivity, init_neighbours, seed, pre_encoder_bias,
                                               nonneg_encoder, l1_coef=l1_coef))


@registry.architectures("spacy-sparsecode.KLSAE.v1")
def build_kl_sae(
    n_latents: int = 256,
    k: int = 16,
    scaling: str = "tfidf",
    loss: str = "mse",
    rho: float = 0.05,
    beta: float = 0.1,
    activation: str = "sigmoid",
    aux_k: int = 64,
    aux_coef: float = 0.125,
    dead_after_docs: int = 2000,
    seed: int = 0,
    denoise_rate: float = 0.0,
    diversity_coef: float = 0.0,
    latents_per_word: int = 0,
    exclusivity: float = 0.0,
    init_neighbours: int = 1,
    pre_encoder_bias: bool = True,
    nonneg_encoder: bool = False,
) -> Model[sp.csr_matrix, Any]:
    """Sparse autoencoder with the KL(rho || rho_hat) sparsity penalty; top ``k`` at inference."""
    return sparse_code_model("kl", _sae_config(n_latents, k, scaling, loss, aux_k, aux_coef, dead_after_docs, denoise_rate,
                                               diversity_coef, latents_per_word, exclusivity, init_neighbours, seed, pre_encoder_bias,
                                               nonneg_encoder, rho=rho,
                                               beta=beta, activation=activation))


@registry.architectures("spacy-sparsecode.ThresholdSAE.v1")
def build_threshold_sae(
    n_latents: int = 256,
    k: int = 16,
    scaling: str = "tfidf",
    loss: str = "mse",
    l0_coef: float = 0.0001,
    threshold_init: float = 0.05,
    bandwidth: float = 0.01,
    aux_k: int = 64,
    aux_coef: float = 0.125,
    dead_after_docs: int = 2000,
    seed: int = 0,
    denoise_rate: float = 0.0,
    diversity_coef: float = 0.0,
    latents_per_word: int = 0,
    exclusivity: float = 0.0,
    init_neighbours: int = 1,
    pre_encoder_bias: bool = True,
    nonneg_encoder: bool = False,
) -> Model[sp.csr_matrix, Any]:
    """JumpReLU sparse autoencoder (learned thresholds, L0 penalty); at most ``k`` active at inference."""
    return sparse_code_model("threshold", _sae_config(n_latents, k, scaling, loss, aux_k, aux_coef, dead_after_docs,
                                                      denoise_rate, diversity_coef, latents_per_word, exclusivity, init_neighbours,
                                                      seed, pre_encoder_bias, nonneg_encoder, l0_coef=l0_coef, threshold_init=threshold_init,
                                                      bandwidth=bandwidth))


@registry.architectures("spacy-sparsecode.GaussianVAE.v1")
def build_gaussian_vae(
    n_latents: int = 50,
    k: int = 8,
    scaling: str = "count",
    hidden: int = 100,
    dropout: float = 0.2,
    beta: float = 1.0,
    kl_anneal_steps: int = 0,
    code_threshold: float = 0.0,
    prior_components: int = 10,
    seed: int = 0,
) -> Model[sp.csr_matrix, Any]:
    """beta-VAE topic model (Gaussian latent, NVDM-style decoder); codes: top ``k`` of softmax(mu).
    ``prior_components``: size of the ex-post Gaussian-mixture prior ``sample`` draws from."""
    return sparse_code_model("gaussian", dict(n_latents=n_latents, k=k, scaling=scaling, hidden=hidden, dropout=dropout,
                                              beta=beta, kl_anneal_steps=kl_anneal_steps, code_threshold=code_threshold,
                                              prior_components=prior_components, seed=seed))


@registry.architectures("spacy-sparsecode.LogisticNormalVAE.v1")
def build_logistic_normal_vae(
    n_latents: int = 50,
    k: int = 8,
    scaling: str = "count",
    hidden: int = 200,
    dropout: float = 0.2,
    beta: float = 1.0,
    alpha: float = 1.0,
    kl_anneal_steps: int = 0,
    code_threshold: float = 0.0,
    prior_components: int = 10,
    seed: int = 0,
) -> Model[sp.csr_matrix, Any]:
    """ProdLDA-style VAE (logistic-normal prior, batch-norm'd decoder); codes: top ``k`` of softmax(mu).
    ``prior_components``: size of the ex-post Gaussian-mixture prior ``sample`` draws from."""
    return sparse_code_model("logistic_normal", dict(n_latents=n_latents, k=k, scaling=scaling, hidden=hidden,
                                                     dropout=dropout, beta=beta, alpha=alpha,
                                                     kl_anneal_steps=kl_anneal_steps, code_threshold=code_threshold,
                                                     prior_components=prior_components, seed=seed))


@registry.architectures("spacy-sparsecode.Dictionary.v1")
def build_dictionary(
    n_latents: int = 256,
    k: int = 16,
    scaling: str = "tfidf",
    method: str = "kmeans",
    coding: str = "lasso",
    alpha: float = 0.005,
    lasso_iter: int = 100,
    epochs: int = 5,
    batch_size: int = 1024,
    seed: int = 0,
) -> Model[sp.csr_matrix, Any]:
    """Classical sparse coding: k-means or learned dictionary, OMP or lasso codes (fitted, not SGD-trained)."""
    return sparse_code_model("dictionary", dict(n_latents=n_latents, k=k, scaling=scaling, method=method, coding=coding,
                                                alpha=alpha, lasso_iter=lasso_iter, epochs=epochs,
                                                batch_size=batch_size, seed=seed))
