"""Sparse autoencoders over bags of words, sharing one encoder/decoder skeleton.

Encoder: input scaling (tf-idf or log1p, l2-normalised rows), a linear map applied as a
sparse product (``F.embedding_bag``; the (B, V) input is never densified), a pre-encoder
bias, ReLU. Decoder: non-negative weights (ReLU of a free parameter) with unit-norm rows, so
each latent is a parts-based "topic" whose top words are its largest decoder weights.
Subclasses only choose how activations become sparse (``activate``) and their penalty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .base import CodeModel, CsrBatch, LossParts, ModelConfig, check_choice, check_field

LOSSES = ("mse", "nll")


@dataclass
class SAEConfig(ModelConfig):
    """Options shared by every sparse autoencoder."""

    loss: str = "mse"
    dead_after_docs: int = 2000
    aux_k: int = 64
    aux_coef: float = 0.125

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("loss", self.loss, LOSSES)
        check_field("dead_after_docs", self.dead_after_docs, self.dead_after_docs > 0, "a positive int")
        check_field("aux_k", self.aux_k, self.aux_k >= 0, "an int >= 0 (0 disables AuxK)")
        check_field("aux_coef", self.aux_coef, self.aux_coef >= 0, "a float >= 0")


class SparseAutoencoder(CodeModel):
    """Shared skeleton; subclasses implement ``activate``."""

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
        step one, so fewer latents die and topics form in far fewer steps.
        """
        scaled = self.scale(batch).to_dense()
        K = self.config.n_latents
        rows = torch.randperm(scaled.shape[0], generator=self.generator)
        rows = rows.repeat(-(-K // scaled.shape[0]))[:K].to(scaled.device)
        noise = torch.rand(K, self.n_vocab, generator=self.generator).to(scaled.device)
        decoder = scaled[rows] + 1e-3 * noise / noise.norm(dim=1, keepdim=True)
        self.W_dec.copy_(decoder / decoder.norm(dim=1, keepdim=True))
        self.W_enc.copy_(self.W_dec.t())

    # --- encoder / decoder ----------------------------------------------------------
    def decoder_weights(self) -> torch.Tensor:
        """Non-negative decoder with unit-norm rows, (K, V); kept so by ``post_step``."""
        return self.W_dec

    @torch.no_grad()
    def post_step(self) -> None:
        """Project the decoder back onto non-negative unit-norm rows after an update."""
        self.W_dec.clamp_(min=0)
        self.W_dec.div_(self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8))

    def pre_activations(self, scaled: CsrBatch) -> torch.Tensor:
        """Encoder pre-activations (B, K) of a scaled batch: W_enc (x - b_dec) + b_enc."""
        return scaled.matmul(self.W_enc) - self.b_dec @ self.W_enc + self.b_enc

    def activate(self, pre: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Sparse codes as padded ``(indices, values)`` from pre-activations."""
        raise NotImplementedError

    def penalty(self, pre: torch.Tensor, indices: torch.Tensor, values: torch.Tensor) -> Tuple[torch.Tensor, dict]:
        """Per-document sparsity penalty (B,) and logging parts; none by default."""
        return torch.zeros(pre.shape[0], device=pre.device), {}

    def encode_batch(self, batch: CsrBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.activate(self.pre_activations(self.scale(batch)))

    def reconstruct(self, indices: torch.Tensor, values: torch.Tensor, decoder: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Dense reconstruction (B, V) of padded codes: a sparse product with the decoder."""
        decoder = self.decoder_weights() if decoder is None else decoder
        return F.embedding_bag(indices, decoder, mode="sum", per_sample_weights=values) + self.b_dec

    def decode(self, indices: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return self.reconstruct(indices, values)

    def topic_word_weights(self) -> torch.Tensor:
        return self.decoder_weights().detach()

    # --- training -------------------------------------------------------------------
    def reconstruction_loss(self, batch: CsrBatch, scaled: CsrBatch, recon: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per-doc loss (B,) and the residual used by AuxK (MSE only, else None)."""
        if self.config.loss == "nll":
            log_probs = F.log_softmax(recon, dim=1)
            return -batch.row_sum(batch.values * log_probs[batch.rows, batch.indices]), None
        residual = scaled.to_dense() - recon
        return residual.pow(2).sum(dim=1), residual

    def loss(self, batch: CsrBatch) -> LossParts:
        scaled = self.scale(batch)
        pre = self.pre_activations(scaled)
        indices, values = self.activate(pre)
        decoder = self.decoder_weights()
        recon = self.reconstruct(indices, values, decoder)
        recon_loss, residual = self.reconstruction_loss(batch, scaled, recon)
        penalty, parts = self.penalty(pre, indices, values)
        total = recon_loss + penalty
        if self.training:
            dead = self._update_firing(indices, values, batch.n_rows)
            if residual is not None and self.config.aux_k > 0 and bool(dead.any()):
                aux = self._aux_loss(pre, dead, residual.detach(), decoder)
                total = total + self.config.aux_coef * aux
                parts["aux"] = aux.detach().mean()
        parts.update(recon=recon_loss.detach().mean(), l0=(values > 0).sum(dim=1).float().mean())
        return LossParts(total=total, parts=parts)

    @torch.no_grad()
    def _update_firing(self, indices: torch.Tensor, values: torch.Tensor, n_docs: int) -> torch.Tensor:
        """Count documents since each latent last fired; return the dead mask."""
        self.docs_since_fired += n_docs
        self.docs_since_fired[indices[values > 0]] = 0
        return self.docs_since_fired >= self.config.dead_after_docs

    def _aux_loss(self, pre: torch.Tensor, dead: torch.Tensor, residual: torch.Tensor, decoder: torch.Tensor) -> torch.Tensor:
        """AuxK: dead latents' top activations must explain the main model's residual."""
        k_aux = min(self.config.aux_k, int(dead.sum()))
        masked = pre.masked_fill(~dead, float("-inf"))
        values, indices = masked.topk(k_aux, dim=1)
        aux_recon = F.embedding_bag(indices, decoder, mode="sum", per_sample_weights=F.relu(values))
        return (residual - aux_recon).pow(2).sum(dim=1)

    def dead_share(self) -> float:
        """Share of latents that did not fire in the last ``dead_after_docs`` documents."""
        return float((self.docs_since_fired >= self.config.dead_after_docs).float().mean())


class TopKSAE(SparseAutoencoder):
    """TopK SAE: keep the k largest ReLU activations (exactly k-sparse codes) + AuxK."""

    family = "topk"
    config_class = SAEConfig

    def activate(self, pre: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        values, indices = pre.topk(self.config.k, dim=1)
        return indices, F.relu(values)
