"""Sparse autoencoders over bags of words, sharing one encoder/decoder skeleton.

Encoder: input scaling (tf-idf or log1p, l2-normalised rows), a linear map applied as a
sparse product (``CsrBatch.matmul``; the (B, V) input is never densified), then a family's
activation. ``encoder_input`` sets what the linear map sees:

- ``nonneg`` (TopK, L1, threshold): ``x W_enc`` with a non-negative ``W_enc`` and no bias, so
  every pre-activation of a bag is >= 0 and a document always has k latents to keep. With a
  bias, training learns a negative one (with a non-negative decoder every active latent adds
  words, so fewer active latents lower the error): most pre-activations end below zero and
  codes keep far fewer than k latents, some none.
- ``linear``: ``x W_enc + b_enc``. With a non-negative decoder, subtracting the decoder bias
  first would push every pre-activation down by the same positive ``b_dec · d_j``, and its
  rank-one gradient would cost a pass over the (V, K) encoder per step.
- ``centered``: ``W_enc (x - b_dec) + b_enc`` (KL): its sigmoid activations rely on that shift.

Decoder: non-negative weights with unit-norm rows (kept so by ``post_step``), so each latent
is a parts-based "topic" whose top words are its largest decoder weights.

Families differ only in how pre-activations become codes and in their sparsity penalty:

- ``topk``: the k largest ReLU activations (exactly k-sparse), AuxK revives dead latents.
- ``l1``: ReLU codes, L1 penalty on activations weighted by decoder row norms.
- ``kl``: sigmoid (or ReLU) codes, KL(rho || rho_hat_j) between a target and each latent's
  mean activation over the batch.
- ``threshold``: JumpReLU with a learned per-latent threshold (straight-through estimator)
  and an L0 penalty; with ``calibrate_to_k`` one common scale of the thresholds keeps the
  mean L0 at k.

``l1``/``kl``/``threshold`` train on all their activations; their inference codes keep at
most ``k`` of them (the largest positive ones), so codes are truly sparse. With ``fill_empty``
a bag with words whose code would be empty gets its best-fitting single latent. Every family can
train as a denoising autoencoder: ``denoise_rate`` drops that share of each bag's words from
the encoder's input while the loss still reconstructs the clean bag.

The MSE is computed without the (B, V) reconstruction when that is cheaper:
``||x - zD - b||² = ||x||² - 2 z·(x Dᵀ) - 2 x·b + z (D Dᵀ) zᵀ + 2 z·(D b) + ||b||²`` needs only
the sparse product ``x Dᵀ`` and the K × K Gram matrix ``D Dᵀ``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from ..errors import (BOOL, NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT, PROBABILITY, RATE, SHARE, check_field,
                      one_of, setting)
from .base import CodeModel, CsrBatch, LossParts, ModelConfig, dense_codes, fill_empty_codes

LOSSES = ("mse", "nll")
#: What the encoder's linear map sees (see the module docstring).
ENCODER_INPUTS = ("linear", "centered", "nonneg")
KL_ACTIVATIONS = ("sigmoid", "relu")
#: The Gram path costs ~K²V multiply-adds, the dense one ~B·V element operations per code
#: entry; dense element-wise work is memory-bound, hence the weight.
_DENSE_COST_WEIGHT = 8


@dataclass
class SAEConfig(ModelConfig):
    """Options shared by every sparse autoencoder."""

    loss: str = setting("mse", one_of(LOSSES))
    #: a latent is dead when it has not fired in this many documents (AuxK then revives it)
    dead_after_docs: int = setting(2000, POSITIVE_INT)
    aux_k: int = setting(64, NON_NEGATIVE_INT.explained("0 disables AuxK"))
    aux_coef: float = setting(0.125, NON_NEGATIVE)
    #: share of each bag's words dropped from the encoder input while training
    denoise_rate: float = setting(0.0, RATE.explained("0 disables denoising"))
    #: weight of the decoder-overlap penalty (mean cosine between latents)
    diversity_coef: float = setting(0.0, NON_NEGATIVE.explained("0 disables it"))
    #: each word is kept by at most this many latents' decoders
    latents_per_word: int = setting(0, NON_NEGATIVE_INT.explained("0: no limit"))
    #: a word keeps a latent's weight only if >= this share of its largest
    exclusivity: float = setting(0.0, SHARE.explained("0 disables it"))
    #: latents start at the mean of this many similar documents
    init_neighbours: int = setting(1, POSITIVE_INT)
    #: "linear" (x W_enc + b_enc), "centered" (W_enc (x - b_dec) + b_enc) or "nonneg" (non-negative
    #: W_enc, no bias: TopK codes always use their k latents)
    encoder_input: str = setting("nonneg", one_of(ENCODER_INPUTS))
    #: a bag with words whose code is empty gets its best single latent (``base.fill_empty_codes``)
    fill_empty: bool = setting(True, BOOL)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_field("latents_per_word", self.latents_per_word, self.latents_per_word <= self.n_latents,
                    "an int in [0, n_latents] (0: no limit)")


@dataclass
class L1SAEConfig(SAEConfig):
    """ReLU codes with an L1 penalty; ``k`` caps the active latents at inference."""

    l1_coef: float = setting(0.001, NON_NEGATIVE)


@dataclass
class KLSAEConfig(SAEConfig):
    """KL sparsity to a target mean activation ``rho``, weighted by ``beta``."""

    rho: float = setting(0.05, PROBABILITY)
    beta: float = setting(0.1, NON_NEGATIVE)
    activation: str = setting("sigmoid", one_of(KL_ACTIVATIONS))
    encoder_input: str = setting("centered", one_of(ENCODER_INPUTS))


@dataclass
class ThresholdSAEConfig(SAEConfig):
    """JumpReLU: learned per-latent thresholds, L0 penalty, straight-through gradients."""

    l0_coef: float = setting(0.0001, NON_NEGATIVE)
    threshold_init: float = setting(0.05, POSITIVE)
    bandwidth: float = setting(0.01, POSITIVE)
    #: thresholds are scaled by one factor that keeps the mean L0 at k (False: l0_coef alone sets the L0)
    calibrate_to_k: bool = setting(True, BOOL)


class SparseAutoencoder(CodeModel):
    """Shared skeleton; subclasses implement ``activate`` (and optionally ``train_codes``)."""

    config: SAEConfig

    def __init__(self, config: SAEConfig, n_vocab: int, idf: Optional[np.ndarray] = None) -> None:
        super().__init__(config, n_vocab, idf)
        K, V = config.n_latents, n_vocab
        decoder = torch.rand(K, V, generator=self.generator)
        decoder = decoder / decoder.norm(dim=1, keepdim=True)
        self.W_dec = torch.nn.Parameter(decoder)
        self.W_enc = torch.nn.Parameter(decoder.t().clone().contiguous())
        self.b_enc = torch.nn.Parameter(torch.zeros(K))
        self.b_dec = torch.nn.Parameter(torch.zeros(V))
        self.register_buffer("docs_since_fired", torch.zeros(K, dtype=torch.long))

    @torch.no_grad()
    def init_from_data(self, batch: CsrBatch) -> None:
        """Start each latent at the scaled bag of a random document (tied encoder).

        Exemplar initialisation gives every latent a coherent, distinct word profile from
        step one, so fewer latents die and topics form in far fewer steps. With
        ``init_neighbours = m > 1`` each latent starts at the mean of its exemplar's m most
        similar documents (cosine of the scaled bags), which drops the exemplar's one-off
        rare words and starts the latent at a small theme instead of a single story.
        """
        scaled = self.scale(batch).to_scipy()
        K, n_docs = self.config.n_latents, batch.n_rows
        rows = torch.randperm(n_docs, generator=self.generator)
        rows = rows.repeat(-(-K // n_docs))[:K].numpy()
        noise = torch.rand(K, self.n_vocab, generator=self.generator)
        exemplars = scaled[rows]
        m = min(self.config.init_neighbours, n_docs)
        if m > 1:
            sims = (scaled @ exemplars.T).toarray()  # (n_docs, K)
            neighbours = np.argpartition(-sims, m - 1, axis=0)[:m].T  # (K, m)
            pick = sp.csr_matrix((np.full(K * m, 1.0 / m, dtype=np.float32), neighbours.ravel(), np.arange(0, K * m + 1, m)),
                                 shape=(K, n_docs))
            exemplars = pick @ scaled
        decoder = torch.from_numpy(exemplars.toarray()) + 1e-3 * noise / noise.norm(dim=1, keepdim=True)
        self.W_dec.copy_((decoder / decoder.norm(dim=1, keepdim=True)).to(self.W_dec.device))
        self.post_step()
        self.W_enc.copy_(self.W_dec.t())

    # --- encoder / decoder ----------------------------------------------------------
    def decoder_weights(self) -> torch.Tensor:
        """Non-negative decoder with unit-norm rows, (K, V); kept so by ``post_step``."""
        return self.W_dec

    @torch.no_grad()
    def post_step(self, *, constrain: bool = True) -> None:
        """Project the decoder back onto non-negative unit-norm rows after an update.

        Topic constraints on the decoder's word columns, when ``constrain``:
        ``latents_per_word = m > 0`` keeps each word's m largest weights (a word belongs to at
        most m latents); ``exclusivity = r > 0`` keeps a word's weight in a latent only when it
        is at least r times the word's largest weight in any latent (r = 1: one latent a
        word). Either way latents' top words overlap little (topic diversity) while the
        training loss picks which latents own a word. ``encoder_input = "nonneg"`` also keeps
        the encoder non-negative, at every step.
        """
        self.W_dec.clamp_(min=0)
        if self.config.encoder_input == "nonneg":
            self.W_enc.clamp_(min=0)
        m, ratio = self.config.latents_per_word, self.config.exclusivity
        if constrain and 0 < m < self.config.n_latents:
            _keep_at_least(self.W_dec, _column_kth_largest(self.W_dec, m))
        if constrain and ratio > 0:
            _keep_at_least(self.W_dec, self.W_dec.amax(dim=0, keepdim=True).mul_(ratio))
        self.W_dec.div_(self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8))

    def pre_activations(self, scaled: CsrBatch) -> torch.Tensor:
        """Encoder pre-activations (B, K) of a scaled batch, as ``encoder_input`` says.

        ``nonneg`` gives a parts-based mixture like NMF's, instead of the one or two latents a
        learned negative bias can leave (a near-clustering).
        """
        if self.config.encoder_input == "nonneg":
            return scaled.matmul(self.W_enc)
        pre = scaled.matmul(self.W_enc) + self.b_enc
        return pre - self.b_dec @ self.W_enc if self.config.encoder_input == "centered" else pre

    def activate(self, pre: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Inference codes as padded ``(indices, values)`` (at most k non-zeros per row)."""
        raise NotImplementedError

    def train_codes(self, pre: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Codes the decoder reconstructs from while training; the inference codes by default."""
        return self.activate(pre)

    def penalty(self, pre: torch.Tensor, indices: torch.Tensor, values: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Per-document sparsity penalty (B,) of the training codes and logging parts; none by default."""
        return torch.zeros(pre.shape[0], device=pre.device), {}

    def encode_batch(self, batch: CsrBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        scaled = self.scale(batch)
        indices, values = self.activate(self.pre_activations(scaled))
        if self.config.fill_empty:  # no pre-activation of the bag passed the activation: fit it with one latent
            return fill_empty_codes(scaled, indices, values, self.decoder_weights(), self.b_dec)
        return indices, values

    def reconstruct(self, indices: torch.Tensor, values: torch.Tensor, decoder: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Dense reconstruction (B, V) of padded codes: a sparse product with the decoder."""
        decoder = self.decoder_weights() if decoder is None else decoder
        if 4 * indices.shape[1] >= self.config.n_latents:
            return dense_codes(indices, values, self.config.n_latents) @ decoder + self.b_dec
        return F.embedding_bag(indices, decoder, mode="sum", per_sample_weights=values) + self.b_dec

    def decode(self, indices: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return self.reconstruct(indices, values)

    def topic_word_weights(self) -> torch.Tensor:
        return self.decoder_weights().detach()

    # --- training -------------------------------------------------------------------
    def reconstruction_is_nll(self) -> bool:
        return self.config.loss == "nll"

    def corrupt(self, batch: CsrBatch) -> CsrBatch:
        """Denoising: drop each word of the bags with probability ``denoise_rate`` (training only)."""
        rate = self.config.denoise_rate
        if not self.training or rate <= 0:
            return batch
        keep = torch.rand(batch.indices.shape[0], generator=self.generator).to(batch.indices.device) >= rate
        return batch.keep_entries(keep)

    def loss(self, batch: CsrBatch) -> LossParts:
        target = self.scale(batch)
        noisy = self.corrupt(batch)
        pre = self.pre_activations(target if noisy is batch else self.scale(noisy))
        indices, values = self.train_codes(pre)
        inference = self._inference_codes(pre, indices, values)
        decoder = self.decoder_weights()
        dead = self._update_firing(inference, batch.n_rows) if self.training else None
        aux_codes = None
        if dead is not None and self.config.loss == "mse" and self.config.aux_k > 0 and bool(dead.any()):
            k_aux = min(self.config.aux_k, int(dead.sum()))
            aux_values, aux_indices = pre.masked_fill(~dead, float("-inf")).topk(k_aux, dim=1)
            aux_codes = (aux_indices, F.relu(aux_values))
        use_gram = self.config.loss == "mse" and self._use_gram(indices.shape[1], batch.n_rows)
        gram = None
        if use_gram:  # ||x - zD - b||² = ||x - [z, 1] A||², A = [D; b]: one Gram matrix holds D Dᵀ, D b and b·b
            augmented = torch.cat([decoder.t(), self.b_dec[:, None]], dim=1)  # Aᵀ, word-major (V, K + 1)
            gram = _Gram.apply(augmented)
        elif self.config.diversity_coef > 0:
            gram = _Gram.apply(decoder.t())
        if self.config.loss == "nll":
            log_probs = F.log_softmax(self.reconstruct(indices, values, decoder), dim=1)
            recon_loss, aux = -batch.row_sum(batch.values * log_probs[batch.rows, batch.indices]), None
        elif use_gram:
            recon_loss, aux = self._mse_gram(target, indices, values, augmented, gram, aux_codes)
        else:
            recon_loss, aux = self._mse_dense(target, indices, values, decoder, aux_codes)
        penalty, parts = self.penalty(pre, indices, values)
        total = recon_loss + penalty
        if self.config.diversity_coef > 0:
            overlap = self.decoder_overlap(gram)
            total = total + self.config.diversity_coef * overlap
            parts["overlap"] = overlap.detach()
        if aux is not None:
            total = total + self.config.aux_coef * aux
            parts["aux"] = aux.detach().mean()
        l0 = (inference[1] > 0).sum(dim=1).float().mean()
        parts.update(recon=recon_loss.detach().mean(), l0=l0)
        return LossParts(total=total, parts=parts)

    def decoder_overlap(self, gram: torch.Tensor) -> torch.Tensor:
        """Mean cosine similarity between two different decoder rows (0: disjoint words).

        ``gram``: ``D Dᵀ``, or the augmented Gram matrix whose first K rows and columns are it.
        """
        K = self.config.n_latents
        gram = gram[:K, :K]
        return (gram.sum() - gram.diagonal().sum()) / max(K * (K - 1), 1)

    def _use_gram(self, width: int, n_rows: int) -> bool:
        K = self.config.n_latents
        dense_width = K if 4 * width >= K else width
        return K * K < _DENSE_COST_WEIGHT * n_rows * (dense_width + 4)

    def _mse_dense(self, target: CsrBatch, indices: torch.Tensor, values: torch.Tensor, decoder: torch.Tensor,
                   aux_codes: Optional[Tuple[torch.Tensor, torch.Tensor]]) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Per-doc squared error through the dense (B, V) residual, and the AuxK loss."""
        residual = target.to_dense() - self.reconstruct(indices, values, decoder)
        aux = None
        if aux_codes is not None:
            aux_recon = F.embedding_bag(aux_codes[0], decoder, mode="sum", per_sample_weights=aux_codes[1])
            aux = (residual.detach() - aux_recon).pow(2).sum(dim=1)
        return residual.pow(2).sum(dim=1), aux

    def _mse_gram(self, target: CsrBatch, indices: torch.Tensor, values: torch.Tensor, augmented: torch.Tensor,
                  gram: torch.Tensor, aux_codes: Optional[Tuple[torch.Tensor, torch.Tensor]]) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The same losses without a (B, V) tensor, from the sparse product ``x Aᵀ`` and the
        (K + 1)² Gram matrix ``gram = A Aᵀ`` of the augmented decoder ``A = [D; b]``, given
        word-major as ``augmented = Aᵀ`` (V, K + 1)."""
        K = self.config.n_latents
        z = dense_codes(indices, values, K)
        z_aug = torch.cat([z, z.new_ones(z.shape[0], 1)], dim=1)
        x_aug = target.matmul(augmented)  # (B, K + 1): x · d_j, then x · b
        x_x = target.row_sum(target.values * target.values)
        mse = x_x - 2 * (z_aug * x_aug).sum(1) + ((z_aug @ gram) * z_aug).sum(1)
        aux = None
        if aux_codes is not None:
            # AuxK with the residual r = x - zD - b held constant: ||r||² - 2 a·r + ||a||², a = z_aux D.
            # Only the dead latents the AuxK codes use enter it: r · d_j costs (K + 1)·V per dead latent.
            dead = torch.unique(aux_codes[0])
            z_aux = dense_codes(aux_codes[0], aux_codes[1], K)[:, dead]
            r_dec = x_aug[:, dead] - z_aug.detach() @ (augmented.detach().t() @ augmented[:, dead])  # r · d_j
            aux = mse.detach() - 2 * (z_aux * r_dec).sum(1) + ((z_aux @ gram[dead][:, dead]) * z_aux).sum(1)
        return mse.clamp_min(0), aux

    @torch.no_grad()
    def _inference_codes(self, pre: torch.Tensor, indices: torch.Tensor, values: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Inference codes of ``pre`` (detached): the training codes themselves when the family
        trains on its inference codes (TopK), which saves a second top-k per step."""
        if type(self).train_codes is SparseAutoencoder.train_codes:
            return indices, values.detach()
        return self.activate(pre.detach())

    @torch.no_grad()
    def _update_firing(self, codes: Tuple[torch.Tensor, torch.Tensor], n_docs: int) -> torch.Tensor:
        """Count documents since each latent last fired in the inference ``codes``; return the dead mask."""
        indices, values = codes
        self.docs_since_fired += n_docs
        self.docs_since_fired[indices[values > 0]] = 0
        return self.docs_since_fired >= self.config.dead_after_docs

    def dead_share(self) -> float:
        """Share of latents that did not fire in the last ``dead_after_docs`` documents."""
        return float((self.docs_since_fired >= self.config.dead_after_docs).float().mean())


def _keep_at_least(weights: torch.Tensor, floor: torch.Tensor) -> None:
    """Zero, in place, the entries of ``weights`` below ``floor`` (broadcast; a float mask, no
    boolean indexing)."""
    weights.mul_((weights - floor).sign_().add_(1).clamp_(max=1))


def _column_kth_largest(weights: torch.Tensor, m: int) -> torch.Tensor:
    """The m-th largest value of each column of ``weights`` (K, V) -> (1, V); tied values count once.

    For small m, m passes of ``amax`` with float masks: on the CPU several times faster than
    ``topk`` along dim 0 or boolean masking.
    """
    if m > 8:
        return weights.topk(m, dim=0).values[-1:]
    kth = weights.amax(dim=0, keepdim=True)
    for _ in range(m - 1):
        below = (kth - weights).sign_().clamp_(min=0)  # 1 where w < kth, else 0
        kth = (weights * below).amax(dim=0, keepdim=True)
    return kth


class _Gram(torch.autograd.Function):
    """``Mᵀ M`` of a word-major (V, n) matrix, with the one-product backward ``M (G + Gᵀ)``
    (autograd's default takes two)."""

    @staticmethod
    def forward(ctx, words_by_latent: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(words_by_latent)
        return words_by_latent.t() @ words_by_latent

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (words_by_latent,) = ctx.saved_tensors
        return words_by_latent @ (grad + grad.t()).to(words_by_latent.dtype)


def _top_positive(activations: torch.Tensor, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest activations per row as padded codes, non-positive ones zeroed."""
    values, indices = activations.topk(k, dim=1)
    return indices, F.relu(values)


def _all_latents(values: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Dense activations (B, K) as padded codes over every latent."""
    indices = torch.arange(values.shape[1], device=values.device).expand(values.shape[0], -1)
    return indices, values


class TopKSAE(SparseAutoencoder):
    """TopK SAE: keep the k largest ReLU activations (exactly k-sparse codes) + AuxK."""

    family = "topk"
    config_class = SAEConfig

    def activate(self, pre: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return _top_positive(pre, self.config.k)


class L1SAE(SparseAutoencoder):
    """ReLU SAE with an L1 penalty ``l1_coef · Σ_j z_j ||d_j||``; inference keeps the top k."""

    family = "l1"
    config_class = L1SAEConfig
    config: L1SAEConfig

    def activate(self, pre: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return _top_positive(pre, self.config.k)

    def train_codes(self, pre: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Every positive activation: padded to the batch's largest count when that is small."""
        codes = F.relu(pre)
        width = max(int((codes > 0).sum(dim=1).max()), 1)
        if 4 * width < codes.shape[1]:
            values, indices = codes.topk(width, dim=1)  # exact: the rest are zeros
            return indices, values
        return _all_latents(codes)

    def penalty(self, pre: torch.Tensor, indices: torch.Tensor, values: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        l1 = (values * self.decoder_weights().norm(dim=1)[indices]).sum(dim=1)
        return self.config.l1_coef * l1, {"l1": l1.detach().mean()}


class KLSAE(SparseAutoencoder):
    """Sparse autoencoder with the KL sparsity penalty ``beta · Σ_j KL(rho || rho_hat_j)``.

    ``rho_hat_j`` is latent j's mean activation over the batch (sigmoid activations; ReLU
    activations are clipped to [0, 1] for it). The batch penalty is added to every
    document's loss, so the batch mean carries it once. Inference keeps the k largest
    activations.
    """

    family = "kl"
    config_class = KLSAEConfig
    config: KLSAEConfig

    def _activations(self, pre: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(pre) if self.config.activation == "sigmoid" else F.relu(pre)

    def activate(self, pre: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return _top_positive(self._activations(pre), self.config.k)

    def train_codes(self, pre: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return _all_latents(self._activations(pre))

    def penalty(self, pre: torch.Tensor, indices: torch.Tensor, values: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        rho = self.config.rho
        rho_hat = values.clamp(max=1.0).mean(dim=0).clamp(1e-6, 1 - 1e-6)
        kl = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
        return (self.config.beta * kl).expand(pre.shape[0]), {"kl": kl.detach(), "rho_hat": rho_hat.detach().mean()}


class _JumpReLU(torch.autograd.Function):
    """``x · H(x - θ)``; gradient to θ by a rectangle-kernel straight-through estimator."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:
        ctx.save_for_backward(x, threshold)
        ctx.bandwidth = bandwidth
        return x * (x > threshold)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        near = ((x - threshold).abs() < eps / 2).to(grad.dtype)
        grad_x = grad * (x > threshold)
        grad_threshold = (-(threshold / eps) * near * grad).sum(dim=0)
        return grad_x, grad_threshold, None


class _Step(torch.autograd.Function):
    """``H(x - θ)``; gradient to θ only, by the same straight-through estimator."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:
        ctx.save_for_backward(x, threshold)
        ctx.bandwidth = bandwidth
        return (x > threshold).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        near = ((x - threshold).abs() < eps / 2).to(grad.dtype)
        return None, (-(1.0 / eps) * near * grad).sum(dim=0), None


#: Share of the way the threshold scale moves to each batch's value (a running average over
#: about 1 / momentum steps), and the least scale (a batch with too few positive pre-activations).
_SCALE_MOMENTUM = 0.1
_MIN_THRESHOLD_SCALE = 1e-3


class ThresholdSAE(SparseAutoencoder):
    """JumpReLU SAE: ``z = pre · H(pre - θ_j)`` with learned θ_j = exp(log_threshold_j).

    The penalty ``l0_coef · Σ_j H(pre_j - θ_j)`` counts active latents; both it and the
    activation pass gradients to θ through a straight-through estimator (rectangle kernel
    of width ``bandwidth``). Inference keeps at most the k largest active latents.
    """

    family = "threshold"
    config_class = ThresholdSAEConfig
    config: ThresholdSAEConfig

    def __init__(self, config: ThresholdSAEConfig, n_vocab: int, idf: Optional[np.ndarray] = None) -> None:
        super().__init__(config, n_vocab, idf)
        self.log_threshold = torch.nn.Parameter(torch.full((config.n_latents,), float(np.log(config.threshold_init))))
        if config.calibrate_to_k:
            self.register_buffer("log_threshold_scale", torch.zeros(()))

    def thresholds(self) -> torch.Tensor:
        """The thresholds the activation applies (K,): the learned ones, times the calibrated scale."""
        learned = self.log_threshold.exp()
        return learned * self.log_threshold_scale.exp() if self.config.calibrate_to_k else learned

    @torch.no_grad()
    def calibrate(self, pre: torch.Tensor) -> None:
        """Move the threshold scale towards the one that leaves B·k active latents in this batch.

        Why: with thresholds learned by the L0 penalty alone the L0 is whatever the penalty and
        the reconstruction settle on, far below k and different on every corpus, with some
        documents left with no latent (benchmarks/results/empty_codes.md). The learned thresholds
        still rank which latents fire; one common scale, found batch by batch as in BatchTopK
        (Bussmann et al. 2024) and kept as a running average for inference, sets how many fire on
        average. A batch with fewer than B·k positive pre-activations lets all of them fire.
        """
        ratios = (pre.float() / self.log_threshold.exp().float()).flatten()
        n_active = min(pre.shape[0] * self.config.k, ratios.numel())
        kth = ratios.kthvalue(ratios.numel() - n_active + 1).values  # the B·k-th largest ratio
        target = torch.log(kth.clamp_min(_MIN_THRESHOLD_SCALE))
        self.log_threshold_scale.lerp_(target.to(self.log_threshold_scale.dtype), _SCALE_MOMENTUM)

    def activate(self, pre: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return _top_positive(pre * (pre > self.thresholds()), self.config.k)

    def train_codes(self, pre: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.config.calibrate_to_k and self.training:
            self.calibrate(pre.detach())
        return _all_latents(_JumpReLU.apply(pre, self.thresholds(), self.config.bandwidth))

    def penalty(self, pre: torch.Tensor, indices: torch.Tensor, values: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        l0 = _Step.apply(pre, self.thresholds(), self.config.bandwidth).sum(dim=1)
        return self.config.l0_coef * l0, {"l0_train": l0.detach().mean()}
