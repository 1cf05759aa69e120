"""Classical sparse coding: a fixed dictionary of K word profiles, codes by OMP or lasso.

The dictionary (K × V, non-negative rows of unit norm, on the scaled bags) is fitted in one
pass by scikit-learn, not by SGD (``sgd_trained = False``: the trainer calls
``fit_direct``):

- ``kmeans``: ``MiniBatchKMeans`` centroids of the l2-normalised tf-idf (or log1p) rows;
- ``learned``: ``MiniBatchDictionaryLearning`` (non-negative atoms and codes), fed dense
  minibatches through ``partial_fit`` so memory stays bounded, started from k-means.

Codes, given the dictionary D and a scaled bag x, use only ``x Dᵀ`` (a sparse product) and
the K × K Gram matrix ``D Dᵀ``:

- ``omp``: orthogonal matching pursuit with ``k`` atoms (scikit-learn's
  ``orthogonal_mp_gram``; fewer when the dictionary has linearly dependent atoms);
  coefficients are least-squares fits, so some can be negative;
- ``lasso``: non-negative lasso ``½||x - zD||² + alpha ||z||₁`` by FISTA, then the ``k``
  largest coefficients are kept.

The dictionary is a torch parameter, so it is saved with safetensors like every family,
and ``loss`` (the squared error with the codes held fixed) is differentiable in it: the
spaCy ``update`` path refines the atoms by gradient steps, ``post_step`` keeps them
non-negative with unit norm.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import BOOL, POSITIVE, POSITIVE_INT, one_of, setting
from .base import CodeModel, CsrBatch, LossParts, ModelConfig, dense_codes, fill_empty_codes

METHODS = ("kmeans", "learned")
CODINGS = ("omp", "lasso")


@dataclass
class DictionaryConfig(ModelConfig):
    """How the dictionary is fitted and how codes are computed."""

    method: str = setting("kmeans", one_of(METHODS))
    #: "omp" keeps k atoms a document; the non-negative lasso keeps fewer on short documents (a
    #: bag of a few words is fitted by a few atoms at any alpha) and none on some
    coding: str = setting("omp", one_of(CODINGS))
    alpha: float = setting(0.005, POSITIVE)
    lasso_iter: int = setting(100, POSITIVE_INT)
    epochs: int = setting(5, POSITIVE_INT)
    batch_size: int = setting(1024, POSITIVE_INT)
    #: a bag with words whose code is empty gets its best single atom (``base.fill_empty_codes``)
    fill_empty: bool = setting(True, BOOL)


def _unit_rows(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Non-negative unit-norm rows; all-zero rows are replaced by random non-negative ones."""
    rows = np.maximum(np.asarray(rows, dtype=np.float32), 0)
    norms = np.linalg.norm(rows, axis=1)
    empty = norms < 1e-12
    if empty.any():
        rows[empty] = rng.random((int(empty.sum()), rows.shape[1]), dtype=np.float32)
        norms[empty] = np.linalg.norm(rows[empty], axis=1)
    return rows / norms[:, None]


class DictionaryCoder(CodeModel):
    """Sparse coding over a dictionary fitted by k-means or dictionary learning."""

    family = "dictionary"
    config_class = DictionaryConfig
    config: DictionaryConfig
    sgd_trained = False

    def __init__(self, config: DictionaryConfig, n_vocab: int, idf: Optional[np.ndarray] = None) -> None:
        super().__init__(config, n_vocab, idf)
        atoms = torch.rand(config.n_latents, n_vocab, generator=self.generator)
        self.dictionary = torch.nn.Parameter(atoms / atoms.norm(dim=1, keepdim=True))

    # --- fitting --------------------------------------------------------------------
    def _scaled_csr(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """Rows of ``matrix`` (counts) with the configured scaling, as float32 CSR."""
        matrix = sp.csr_matrix(matrix, dtype=np.float32)
        matrix.sum_duplicates()
        values = self.scale(CsrBatch.from_csr(matrix, self.device)).values.cpu().numpy()
        return sp.csr_matrix((values, matrix.indices, matrix.indptr), shape=matrix.shape)

    @torch.no_grad()
    def fit_direct(self, matrix: sp.csr_matrix) -> Dict[str, float]:
        """Fit the dictionary on the rows of ``matrix`` (counts); returns the mean squared error."""
        start = time.perf_counter()
        from sklearn.cluster import MiniBatchKMeans  # scikit-learn loads lazily: it slows every import
        from sklearn.decomposition import MiniBatchDictionaryLearning

        self.check_matrix(matrix)
        cfg = self.config
        X = self._scaled_csr(matrix)
        X = X[np.diff(X.indptr) > 0]
        K, seed = cfg.n_latents, cfg.seed
        rng = np.random.default_rng(seed)
        n_clusters = min(K, X.shape[0])
        kmeans = MiniBatchKMeans(n_clusters=n_clusters, batch_size=cfg.batch_size, n_init=3, random_state=seed)
        kmeans.fit(X)
        atoms = np.zeros((K, X.shape[1]), dtype=np.float32)
        atoms[:n_clusters] = kmeans.cluster_centers_
        atoms = _unit_rows(atoms, rng)
        if cfg.method == "learned":
            learner = MiniBatchDictionaryLearning(
                n_components=K, alpha=cfg.alpha, batch_size=cfg.batch_size, dict_init=atoms, positive_dict=True,
                positive_code=True, fit_algorithm="cd", random_state=seed)
            for _ in range(cfg.epochs):
                order = rng.permutation(X.shape[0])
                for lo in range(0, X.shape[0], cfg.batch_size):
                    learner.partial_fit(X[np.sort(order[lo : lo + cfg.batch_size])].toarray())
            atoms = _unit_rows(learner.components_, rng)
        self.dictionary.copy_(torch.from_numpy(atoms).to(self.device))
        loss = float(self.loss(CsrBatch.from_csr(sp.csr_matrix(matrix, dtype=np.float32), self.device)).total.mean())
        return {"loss": loss, "fit_seconds": time.perf_counter() - start}

    @torch.no_grad()
    def init_from_data(self, batch: CsrBatch) -> None:
        """Fit the dictionary on the sample (the spaCy ``initialize`` path)."""
        self.fit_direct(batch.to_scipy())

    @torch.no_grad()
    def post_step(self, *, constrain: bool = True) -> None:
        """Keep the atoms non-negative with unit norm after a gradient step (no topic constraints)."""
        self.dictionary.clamp_(min=0)
        self.dictionary.div_(self.dictionary.norm(dim=1, keepdim=True).clamp_min(1e-8))

    # --- coding ---------------------------------------------------------------------
    def _sparse_code(self, x_dec: torch.Tensor, gram: torch.Tensor) -> torch.Tensor:
        """Dense (B, K) codes with at most k non-zeros per row, from ``x Dᵀ`` and ``D Dᵀ``."""
        k = self.config.k
        if self.config.coding == "omp":
            from sklearn.linear_model import orthogonal_mp_gram

            with warnings.catch_warnings():  # duplicate atoms: OMP stops early, with fewer than k atoms
                warnings.filterwarnings("ignore", message="Orthogonal matching pursuit ended prematurely")
                coef = orthogonal_mp_gram(gram.double().cpu().numpy(), x_dec.t().double().cpu().numpy(), n_nonzero_coefs=k)
            z = torch.from_numpy(np.asarray(coef, dtype=np.float32).reshape(gram.shape[0], -1).T.copy())
            return z.to(x_dec.device)
        step = 1.0 / float(torch.linalg.eigvalsh(gram.double()).max())
        z = y = torch.zeros_like(x_dec)
        t = 1.0
        for _ in range(self.config.lasso_iter):
            z_next = (y - step * (y @ gram - x_dec) - step * self.config.alpha).clamp_min(0)
            t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
            y = z_next + ((t - 1) / t_next) * (z_next - z)
            z, t = z_next, t_next
        values, indices = z.topk(k, dim=1)
        return dense_codes(indices, values, self.config.n_latents)

    def _codes(self, batch: CsrBatch) -> Tuple[CsrBatch, torch.Tensor]:
        scaled = self.scale(batch)
        atoms = self.dictionary.detach()
        nonempty = batch.row_sum(torch.ones_like(batch.values)) > 0
        z = torch.zeros(batch.n_rows, self.config.n_latents, device=atoms.device)
        if bool(nonempty.any()):
            x_dec = scaled.matmul(atoms.t())
            z[nonempty] = self._sparse_code(x_dec[nonempty], atoms @ atoms.t())
        return scaled, z

    def encode_batch(self, batch: CsrBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        scaled, z = self._codes(batch)
        values, indices = z.abs().topk(self.config.k, dim=1)
        if self.config.fill_empty:  # the lasso zeroed every atom of the bag: fit it with one atom
            return fill_empty_codes(scaled, indices, z.gather(1, indices), self.dictionary)
        return indices, z.gather(1, indices)

    def decode(self, indices: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return dense_codes(indices, values, self.config.n_latents) @ self.dictionary

    def loss(self, batch: CsrBatch) -> LossParts:
        """Squared error ``||x - zD||²`` per document, codes held fixed (differentiable in D)."""
        scaled, z = self._codes(batch)
        atoms = self.dictionary
        x_dec = scaled.matmul(atoms.t())
        x_x = scaled.row_sum(scaled.values * scaled.values)
        mse = x_x - 2 * (z * x_dec).sum(1) + ((z @ (atoms @ atoms.t())) * z).sum(1)
        return LossParts(total=mse.clamp_min(0), parts={"recon": mse.detach().mean(), "l0": (z != 0).sum(1).float().mean()})

    def topic_word_weights(self) -> torch.Tensor:
        return self.dictionary.detach()
