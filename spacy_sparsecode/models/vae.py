"""Variational autoencoders over bags of words: topic models whose codes can be sampled.

Both families share one encoder and one decoder shape:

- encoder: scaled bag (sparse product, ``F.embedding_bag``) -> two softplus layers ->
  dropout -> mean and log-variance of a K-dimensional Gaussian posterior q(z | x), both
  batch-normalised (ProdLDA; for a Gaussian prior this is BN-VAE, Zhu et al. 2020, which
  keeps the KL term from vanishing: without it the posterior collapses to the prior);
- topic mixture ``theta = softmax(z)``; decoder word logits ``theta @ topic_word`` (K × V
  topic-word weights) over the vocabulary, trained with the multinomial NLL of the raw counts
  ``-Σ_w x_w log p(w | theta)`` plus ``beta`` × KL(q || prior).

``gaussian`` is a beta-VAE with a standard normal prior and an NVDM-style decoder
(``theta @ topic_word`` plus a background word bias initialised to the log word frequencies).
``logistic_normal`` is ProdLDA-style: the prior is the Laplace approximation of a symmetric
Dirichlet(``alpha``), theta gets dropout, and the product-of-experts logits are
batch-normalised instead of biased.

The KL weight is annealed linearly from 0 to ``beta`` over ``kl_anneal_steps`` training
steps; the step counter is a buffer (``steps``), so it is saved with the weights.

Sparse codes (the documented rule): a document's code is the topic mixture at the
posterior mean, ``theta = softmax(mu)``; its ``k`` largest proportions are kept and those
below ``code_threshold`` dropped (``code_rule``). The values are the kept proportions, not
renormalised. ``sample(n)`` draws z and applies the same rule; ``decode`` turns codes into word logits and
``word_distribution`` into probabilities.

Sampling uses an ex-post prior (Ghosh et al. 2020, "From variational to deterministic
autoencoders"): when training ends (``finish_fit``, called by the fast trainer) a diagonal
Gaussian mixture with ``prior_components`` components is fitted to the posterior means of a
sample of training documents, and z is drawn from it. The training prior is a poor sampler:
the aggregate posterior it regularises towards leaves holes, and codes drawn from it mix
topics no document mixes. With ``prior_components=0``, or before the mixture is fitted (e.g.
a model trained through ``spacy train``), z is drawn from the training prior.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..codes import SparseCodes
from ..errors import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT, RATE, check_field, one_of, setting
from ..text.featurize import SCALINGS
from .base import CodeModel, CsrBatch, LossParts, ModelConfig, dense_codes, eval_mode, init_uniform_


@dataclass
class VAEConfig(ModelConfig):
    """Options shared by both VAEs (``scaling`` is the encoder's input; the loss uses counts)."""

    n_latents: int = setting(50, POSITIVE_INT)
    k: int = setting(8, POSITIVE_INT)
    scaling: str = setting("count", one_of(SCALINGS))
    hidden: int = setting(100, POSITIVE_INT)
    dropout: float = setting(0.2, RATE)
    #: the KL weight (the topic-word matrix is the model's ``topic_word``)
    beta: float = setting(1.0, NON_NEGATIVE)
    kl_anneal_steps: int = setting(0, NON_NEGATIVE_INT.explained("0: no annealing"))
    code_threshold: float = setting(0.0, RATE)
    #: size of the ex-post Gaussian-mixture prior ``sample`` draws from
    prior_components: int = setting(10, NON_NEGATIVE_INT.explained("0: sample from the training prior"))


@dataclass
class LogisticNormalConfig(VAEConfig):
    """ProdLDA-style VAE: ``alpha`` is the symmetric Dirichlet concentration it approximates."""

    hidden: int = setting(200, POSITIVE_INT)
    alpha: float = setting(1.0, POSITIVE)


def batch_norm(layer: torch.nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)``; a one-row training batch has no batch statistics, so it uses the running ones."""
    if layer.training and x.shape[0] < 2:
        return F.batch_norm(x, layer.running_mean, layer.running_var, training=False, eps=layer.eps)
    return layer(x)


class TopicVAE(CodeModel):
    """Shared encoder, KL annealing, sparse codes and sampling; subclasses set the prior."""

    config: VAEConfig

    def __init__(self, config: VAEConfig, n_vocab: int, idf: Optional[np.ndarray] = None) -> None:
        super().__init__(config, n_vocab, idf)
        K, V, H, g = config.n_latents, n_vocab, config.hidden, self.generator
        self.W_in = torch.nn.Parameter(init_uniform_(torch.empty(V, H), V, g))
        self.b_in = torch.nn.Parameter(torch.zeros(H))
        self.hidden = torch.nn.Linear(H, H)
        self.to_mu = torch.nn.Linear(H, K)
        self.to_logvar = torch.nn.Linear(H, K)
        for layer in (self.hidden, self.to_mu, self.to_logvar):
            init_uniform_(layer.weight, layer.in_features, g)
            init_uniform_(layer.bias, layer.in_features, g)
        self.mu_norm = torch.nn.BatchNorm1d(K, affine=False)
        self.logvar_norm = torch.nn.BatchNorm1d(K, affine=False)
        self.topic_word = torch.nn.Parameter(init_uniform_(torch.empty(K, V), K, g))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        C = config.prior_components  # the ex-post prior; all-zero weights: not fitted yet
        if C:
            self.register_buffer("mixture_weights", torch.zeros(C))
            self.register_buffer("mixture_means", torch.zeros(C, K))
            self.register_buffer("mixture_vars", torch.ones(C, K))

    # --- prior ----------------------------------------------------------------------
    def prior(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Prior mean and variance of z, each (K,)."""
        raise NotImplementedError

    # --- encoder / decoder ----------------------------------------------------------
    def posterior(self, batch: CsrBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance (B, K) of a batch of counts."""
        h = F.softplus(self.scale(batch).matmul(self.W_in) + self.b_in)
        h = self.dropout(F.softplus(self.hidden(h)), self.config.dropout)
        return batch_norm(self.mu_norm, self.to_mu(h)), batch_norm(self.logvar_norm, self.to_logvar(h))

    def dropout(self, x: torch.Tensor, rate: float) -> torch.Tensor:
        """Dropout while training, drawn from the model's seeded generator (reproducible)."""
        if not self.training or rate <= 0:
            return x
        keep = torch.rand(x.shape, generator=self.generator).to(x.device) >= rate
        return x * keep / (1 - rate)

    def logits(self, theta: torch.Tensor) -> torch.Tensor:
        """Word logits (B, V) of dense topic mixtures (B, K)."""
        raise NotImplementedError

    def mixture(self, z: torch.Tensor) -> torch.Tensor:
        """Topic mixture (B, K) of latent vectors: ``softmax(z)``."""
        return torch.softmax(z, dim=1)

    def code_rule(self, theta: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The code rule: the k largest proportions, those below ``code_threshold`` dropped."""
        values, indices = theta.topk(self.config.k, dim=1)
        return indices, values * (values >= self.config.code_threshold)

    def encode_batch(self, batch: CsrBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        mu, _ = self.posterior(batch)
        return self.code_rule(self.mixture(mu))

    def decode(self, indices: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return self.logits(dense_codes(indices, values, self.config.n_latents))

    def word_distribution(self, codes: SparseCodes) -> torch.Tensor:
        """p(w | code) for each code, (n, V) rows summing to 1."""
        return torch.softmax(self.decode_codes(codes).float(), dim=1)

    def topic_word_weights(self) -> torch.Tensor:
        """softmax of each topic's decoder row: same ranking as ``topic_word``, non-negative."""
        return torch.softmax(self.topic_word.detach().float(), dim=1)

    @property
    def has_fitted_prior(self) -> bool:
        """Whether the ex-post mixture prior has been fitted (``fit_prior``)."""
        return self.config.prior_components > 0 and bool(self.mixture_weights.sum() > 0)

    @torch.no_grad()
    def fit_prior(self, batch: CsrBatch) -> None:
        """Fit the ex-post prior: a diagonal Gaussian mixture over the posterior means of ``batch``."""
        from sklearn.mixture import GaussianMixture  # scikit-learn loads lazily: it slows every import

        n_components = min(self.config.prior_components, batch.n_rows)
        if n_components == 0:
            return
        with eval_mode(self):
            mu = self.posterior(batch)[0].float().cpu().numpy()
        gmm = GaussianMixture(n_components, covariance_type="diag", reg_covar=1e-3, random_state=self.config.seed).fit(mu)
        for buffer, fitted, fill in ((self.mixture_weights, gmm.weights_, 0.0), (self.mixture_means, gmm.means_, 0.0),
                                     (self.mixture_vars, gmm.covariances_, 1.0)):
            buffer.fill_(fill)
            buffer[:n_components] = torch.as_tensor(fitted, dtype=buffer.dtype)

    def finish_fit(self, batch: CsrBatch) -> None:
        self.fit_prior(batch)

    @torch.no_grad()
    def sample_mixture(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Dense topic mixtures (n, K) of ``n`` draws of z (ex-post prior if fitted, else the training prior)."""
        check_field("n", n, isinstance(n, int) and n >= 0, "an int >= 0")
        generator = generator if generator is not None else self.generator
        noise = torch.randn(n, self.config.n_latents, generator=generator).to(self.device)
        if self.has_fitted_prior:
            component = torch.multinomial(self.mixture_weights.float().cpu(), n, replacement=True, generator=generator) if n else \
                torch.zeros(0, dtype=torch.long)
            component = component.to(self.device)
            return self.mixture(self.mixture_means[component] + self.mixture_vars[component].sqrt() * noise)
        mean, var = self.prior()
        return self.mixture(mean + var.sqrt() * noise)

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> SparseCodes:
        """``n`` new codes: z drawn as in ``sample_mixture``, then the same sparsity rule as ``encode``."""
        indices, values = self.code_rule(self.sample_mixture(n, generator))
        return SparseCodes.from_padded(indices.cpu().numpy(), values.float().cpu().numpy(), self.config.n_latents)

    # --- training -------------------------------------------------------------------
    def reconstruction_is_nll(self) -> bool:
        return True

    def kl_weight(self) -> float:
        """The KL weight ``config.beta``, linearly annealed from 0 over the first ``kl_anneal_steps`` steps."""
        ramp = self.config.kl_anneal_steps
        return self.config.beta if ramp == 0 else self.config.beta * min(1.0, float(self.steps) / ramp)

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(N(mu, exp(logvar)) || prior) per document (B,)."""
        mean, var = self.prior()
        return 0.5 * ((logvar.exp() + (mu - mean) ** 2) / var - 1 + var.log() - logvar).sum(dim=1)

    def reconstruction_nll(self, batch: CsrBatch, theta: torch.Tensor) -> torch.Tensor:
        """Multinomial NLL of the raw counts, ``-Σ_w x_w log p(w | theta)`` per document."""
        log_probs = F.log_softmax(self.logits(theta).float(), dim=1)
        return -batch.row_sum(batch.values * log_probs[batch.rows, batch.indices])

    def loss(self, batch: CsrBatch) -> LossParts:
        mu, logvar = self.posterior(batch)
        z = mu
        if self.training:
            z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=self.generator).to(mu.device)
        theta = self.dropout(self.mixture(z), self.theta_dropout())
        nll = self.reconstruction_nll(batch, theta)
        kl = self.kl(mu, logvar)
        weight = self.kl_weight()
        if self.training:
            with torch.no_grad():
                self.steps += 1
        return LossParts(total=nll + weight * kl, parts={"nll": nll.detach().mean(), "kl": kl.detach().mean(),
                                                         "kl_weight": torch.tensor(weight)})

    def theta_dropout(self) -> float:
        """Dropout on the topic mixture while training (ProdLDA); none by default."""
        return 0.0

    @torch.no_grad()
    def nll(self, batch: CsrBatch) -> torch.Tensor:
        """Per-document negative ELBO at the posterior mean (eval mode): NLL + KL, in nats.

        ``metrics.perplexity(model.nll(batch).sum(), batch.values.sum())`` is an upper bound
        on the perplexity of the held-out counts.
        """
        with eval_mode(self):
            mu, logvar = self.posterior(batch)
            return self.reconstruction_nll(batch, self.mixture(mu)) + self.kl(mu, logvar)

    @torch.no_grad()
    def init_from_data(self, batch: CsrBatch) -> None:
        """Set the background word bias (if any) to the log word frequencies of the sample."""
        if getattr(self, "b_word", None) is None:
            return
        counts = torch.zeros(self.n_vocab, device=batch.values.device).index_add_(0, batch.indices, batch.values)
        self.b_word.copy_(torch.log((counts + 1.0) / (counts.sum() + self.n_vocab)))


class GaussianVAE(TopicVAE):
    """beta-VAE with a standard normal prior and an NVDM-style decoder with a background word bias."""

    family = "gaussian"
    config_class = VAEConfig

    def __init__(self, config: VAEConfig, n_vocab: int, idf: Optional[np.ndarray] = None) -> None:
        super().__init__(config, n_vocab, idf)
        self.b_word = torch.nn.Parameter(torch.zeros(n_vocab))

    def prior(self) -> Tuple[torch.Tensor, torch.Tensor]:
        ones = torch.ones(self.config.n_latents, device=self.device)
        return ones * 0.0, ones

    def logits(self, theta: torch.Tensor) -> torch.Tensor:
        return theta @ self.topic_word + self.b_word


class LogisticNormalVAE(TopicVAE):
    """ProdLDA-style VAE: Laplace approximation of a Dirichlet prior, batch-norm'd decoder."""

    family = "logistic_normal"
    config_class = LogisticNormalConfig
    config: LogisticNormalConfig

    def __init__(self, config: LogisticNormalConfig, n_vocab: int, idf: Optional[np.ndarray] = None) -> None:
        super().__init__(config, n_vocab, idf)
        K = config.n_latents
        self.word_norm = torch.nn.BatchNorm1d(n_vocab, affine=False)
        alpha = torch.full((K,), float(config.alpha))
        self.register_buffer("prior_mean", alpha.log() - alpha.log().mean())
        self.register_buffer("prior_var", (1.0 / alpha) * (1 - 2.0 / K) + (1.0 / alpha).sum() / K**2)

    def prior(self) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.prior_mean, self.prior_var

    def logits(self, theta: torch.Tensor) -> torch.Tensor:
        return batch_norm(self.word_norm, theta @ self.topic_word)

    def theta_dropout(self) -> float:
        return self.config.dropout


__all__ = ["VAEConfig", "LogisticNormalConfig", "TopicVAE", "GaussianVAE", "LogisticNormalVAE"]
