"""The shared model interface: CSR batches in, sparse codes out.

Every family subclasses ``CodeModel``: ``encode`` maps a batch of bags to sparse codes,
``decode`` maps codes to word scores, ``loss`` returns per-document training losses. The
trainer and the spaCy component only use this interface.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, Iterator, Optional, Tuple, Type

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from ..codes import SparseCodes
from ..errors import ANY_INT, POSITIVE_INT, Errors, check_field, check_settings, one_of, setting
from ..text.featurize import SCALINGS, scaling_of

#: Rows of training data the data-dependent hooks see (``init_from_data``, ``finish_fit``).
DATA_SAMPLE_ROWS = 8192


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Run a block with ``model`` in eval mode (no dropout, running batch-norm statistics), then
    restore its training flag."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@dataclass
class ModelConfig:
    """Hyper-parameters common to every family, each with its constraint (checked at construction;
    the registered architectures' config schema is made from the same fields)."""

    n_latents: int = setting(256, POSITIVE_INT)  # K, the code size
    k: int = setting(16, POSITIVE_INT)  # active latents per document
    scaling: str = setting("tfidf", one_of(SCALINGS))  # the encoder's input (text.featurize.SCALINGS)
    seed: int = setting(0, ANY_INT)

    def __post_init__(self) -> None:
        check_settings(self)
        if self.k > self.n_latents:
            raise ValueError(Errors.E003.format(k=self.k, n_latents=self.n_latents))

    def to_dict(self) -> Dict[str, Any]:
        """JSON-safe dict of the fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ModelConfig":
        """Build from a dict, rejecting unknown fields by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(Errors.E002.format(what="config field", value=unknown[0], valid=", ".join(sorted(known))))
        return cls(**data)


@dataclass
class CsrBatch:
    """A CSR minibatch on a device, in the layout ``F.embedding_bag`` consumes."""

    indices: torch.Tensor  # (nnz,) int64 column ids
    offsets: torch.Tensor  # (B,) int64 start of each row in ``indices``
    rows: torch.Tensor  # (nnz,) int64 row id of each entry
    values: torch.Tensor  # (nnz,) float32
    n_rows: int
    n_cols: int

    @classmethod
    def from_csr(cls, matrix: sp.csr_matrix, device: torch.device | str = "cpu") -> "CsrBatch":
        """Move a scipy CSR matrix to ``device``."""
        indptr = matrix.indptr.astype(np.int64)
        n_rows = matrix.shape[0]
        rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(indptr))
        return cls(
            indices=torch.from_numpy(matrix.indices.astype(np.int64)).to(device),
            offsets=torch.from_numpy(indptr[:-1]).to(device),
            rows=torch.from_numpy(rows).to(device),
            values=torch.from_numpy(matrix.data.astype(np.float32)).to(device),
            n_rows=n_rows,
            n_cols=matrix.shape[1],
        )

    def with_values(self, values: torch.Tensor) -> "CsrBatch":
        """The same sparsity pattern with new values."""
        return CsrBatch(self.indices, self.offsets, self.rows, values, self.n_rows, self.n_cols)

    def to_scipy(self) -> sp.csr_matrix:
        """The batch as a scipy CSR matrix on the CPU."""
        indptr = torch.cat([self.offsets, torch.tensor([self.indices.shape[0]], device=self.offsets.device)])
        return sp.csr_matrix((self.values.detach().float().cpu().numpy(), self.indices.cpu().numpy(), indptr.cpu().numpy()),
                             shape=(self.n_rows, self.n_cols))

    def keep_entries(self, keep: torch.Tensor) -> "CsrBatch":
        """The batch with only the non-zeros where ``keep`` (bool, (nnz,)) is true; rows stay."""
        counts = torch.zeros(self.n_rows, dtype=torch.long, device=self.rows.device)
        counts.index_add_(0, self.rows[keep], torch.ones_like(self.rows[keep]))
        offsets = torch.cumsum(counts, 0) - counts
        return CsrBatch(self.indices[keep], offsets, self.rows[keep], self.values[keep], self.n_rows, self.n_cols)

    def row_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum ``values`` (one per non-zero) within each row -> (B,)."""
        out = torch.zeros(self.n_rows, dtype=values.dtype, device=values.device)
        return out.index_add_(0, self.rows, values)

    def matmul(self, weight: torch.Tensor) -> torch.Tensor:
        """``X @ weight`` for ``weight`` of shape (n_cols, d) without densifying X.

        On the CPU a sparse CSR product (backward: a sparse ``Xᵀ @ grad``): several times
        faster there than ``embedding_bag``, whose backward sorts the indices and fills a
        dense (n_cols, d) buffer. On a GPU, and whenever X's values need a gradient,
        ``embedding_bag``.
        """
        if weight.is_cuda or weight.dtype != torch.float32 or self.values.requires_grad:
            return F.embedding_bag(self.indices, weight, self.offsets, mode="sum", per_sample_weights=self.values)
        return _CsrMatmul.apply(weight, self)

    def to_torch_csr(self) -> torch.Tensor:
        """The batch as a torch sparse CSR tensor (sharing this batch's index and value storage)."""
        crow = torch.cat([self.offsets, self.offsets.new_tensor([self.indices.shape[0]])])
        with warnings.catch_warnings():  # "sparse CSR support is in beta": we use only its matmul
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(crow, self.indices, self.values, (self.n_rows, self.n_cols), check_invariants=False)

    def to_dense(self) -> torch.Tensor:
        """The batch as a dense (B, V) tensor."""
        dense = torch.zeros(self.n_rows, self.n_cols, dtype=self.values.dtype, device=self.values.device)
        return dense.index_put_((self.rows, self.indices), self.values, accumulate=True)


class _CsrMatmul(torch.autograd.Function):
    """``X @ W`` for a CSR batch X and a dense W; the gradient flows to W only."""

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, batch: CsrBatch) -> torch.Tensor:
        ctx.batch = batch
        return batch.to_torch_csr() @ weight

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[torch.Tensor, None]:
        # scipy's Xᵀ @ grad (a CSC product over the same arrays, no copies) is ~7x faster on
        # the CPU than torch's sparse COO product, which coalesces and zero-fills each time.
        grad = grad.detach().contiguous().to(ctx.batch.values.dtype)
        return torch.from_numpy(np.ascontiguousarray(ctx.batch.to_scipy().T @ grad.numpy())), None


@dataclass
class LossParts:
    """Per-document total loss (what is minimised) plus named detached scalars for logging.

    Parts stay tensors so the trainer can sum them on the device and sync once per epoch.
    """

    total: torch.Tensor  # (B,)
    parts: Dict[str, torch.Tensor] = field(default_factory=dict)


def dense_codes(indices: torch.Tensor, values: torch.Tensor, n_latents: int) -> torch.Tensor:
    """Padded codes ``(indices, values)`` (B, m) as a dense (B, K) tensor."""
    dense = torch.zeros(values.shape[0], n_latents, dtype=values.dtype, device=values.device)
    return dense.scatter_add(1, indices, values)


def fill_empty_codes(scaled: CsrBatch, indices: torch.Tensor, values: torch.Tensor, atoms: torch.Tensor,
                     offset: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Padded codes in which the empty code of each bag with words holds its best single latent.

    That latent is the row d_j of ``atoms`` (K, V: the decoder, non-negative with unit-norm rows)
    with the largest least-squares value ``z_j = (x - offset) · d_j`` for the scaled bag x, at that
    value: the closest one-latent reconstruction ``z_j d_j + offset`` of x. A bag that no latent
    fits (every z_j <= 0) keeps its empty code.
    """
    empty = (values == 0).all(dim=1) & (scaled.row_sum(torch.ones_like(scaled.values)) > 0)
    if not bool(empty.any()):
        return indices, values
    rows = torch.nonzero(empty).squeeze(1)
    bags = CsrBatch.from_csr(scaled.to_scipy()[rows.cpu().numpy()], atoms.device)
    fit = bags.matmul(atoms.detach().t().float())
    if offset is not None:
        fit = fit - atoms.detach().float() @ offset.detach().float()
    best, latent = fit.max(dim=1)
    indices, values = indices.clone(), values.clone()
    indices[rows, 0] = latent
    values[rows, 0] = best.clamp_min(0).to(values.dtype)
    return indices, values


def padded_codes(codes: SparseCodes, device: torch.device | str = "cpu") -> Tuple[torch.Tensor, torch.Tensor]:
    """``SparseCodes`` as padded ``(indices, values)`` tensors (B, max L0); value 0 = padding."""
    matrix = codes.matrix
    counts = np.diff(matrix.indptr)
    width = max(int(counts.max()) if counts.size else 0, 1)
    indices = np.zeros((matrix.shape[0], width), dtype=np.int64)
    values = np.zeros((matrix.shape[0], width), dtype=np.float32)
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    cols = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], counts)
    indices[rows, cols] = matrix.indices
    values[rows, cols] = matrix.data
    return torch.from_numpy(indices).to(device), torch.from_numpy(values).to(device)


def scale_batch(batch: CsrBatch, scaling: str, idf: Optional[torch.Tensor]) -> CsrBatch:
    """``batch`` (counts) scaled as ``text.featurize.SCALINGS[scaling]`` says; ``count`` returns it as is."""
    rule = scaling_of(scaling)
    if not rule.changes_values:
        return batch
    values = torch.log1p(batch.values) if rule.log1p else batch.values
    if rule.idf:
        values = values * idf[batch.indices]
    if rule.normalize:
        values = values / batch.row_sum(values * values).sqrt().clamp_min(1e-12)[batch.rows]
    return batch.with_values(values)


class CodeModel(torch.nn.Module):
    """Base class: a model over a V-word vocabulary producing K-dimensional sparse codes."""

    family: str = ""
    config_class: Type[ModelConfig] = ModelConfig
    #: False for families fitted in one pass by ``fit_direct`` (the trainer then skips SGD).
    sgd_trained: bool = True

    def __init__(self, config: ModelConfig, n_vocab: int, idf: Optional[np.ndarray] = None) -> None:
        super().__init__()
        check_field("n_vocab", n_vocab, n_vocab > 0, "a positive vocabulary size")
        self.config = config
        self.n_vocab = n_vocab
        idf_tensor = torch.ones(n_vocab) if idf is None else torch.as_tensor(idf, dtype=torch.float32)
        check_field("idf", tuple(idf_tensor.shape), tuple(idf_tensor.shape) == (n_vocab,), f"an array of shape ({n_vocab},)")
        self.register_buffer("idf", idf_tensor)
        self.generator = torch.Generator().manual_seed(config.seed)

    # --- the interface every family implements -------------------------------------
    def encode_batch(self, batch: CsrBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        """Codes of a batch as padded ``(indices, values)`` of shape (B, m); value 0 = padding."""
        raise NotImplementedError

    def decode(self, indices: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Word scores (B, V) of codes given as padded ``(indices, values)``."""
        raise NotImplementedError

    def loss(self, batch: CsrBatch) -> LossParts:
        """Per-document training loss of a batch of raw counts."""
        raise NotImplementedError

    def topic_word_weights(self) -> torch.Tensor:
        """(K, V) non-negative weights ranking each latent's words."""
        raise NotImplementedError

    def init_from_data(self, batch: CsrBatch) -> None:
        """Data-dependent initialisation from a sample of training rows; nothing by default."""

    def post_step(self, *, constrain: bool = True) -> None:
        """Called after every optimizer step (projections, constraints); nothing by default.

        ``constrain=False`` holds off the family's topic constraints (the fast trainer's
        ``constrain_from``) while keeping the projections that define the model.
        """

    def finish_fit(self, batch: CsrBatch) -> None:
        """Called once training ends, with a sample of training rows; nothing by default."""

    def fit_direct(self, matrix: sp.csr_matrix) -> Dict[str, float]:
        """Fit a non-SGD family on a whole CSR matrix of counts; returns fit statistics."""
        raise NotImplementedError(Errors.E600.format(family=self.family))

    # --- shared helpers ------------------------------------------------------------
    def scale(self, batch: CsrBatch) -> CsrBatch:
        """Apply the configured input scaling."""
        return scale_batch(batch, self.config.scaling, self.idf)

    @property
    def device(self) -> torch.device:
        return self.idf.device

    def codes(self, batch: CsrBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        """``encode_batch``, with empty bags (no in-vocabulary word) given empty codes."""
        indices, values = self.encode_batch(batch)
        empty = batch.row_sum(torch.ones_like(batch.values)) == 0
        return indices, values.masked_fill(empty[:, None], 0.0)

    def check_matrix(self, matrix: sp.spmatrix) -> None:
        """Raise a clear error when ``matrix`` was not built with this model's vocabulary."""
        if matrix.ndim != 2 or matrix.shape[1] != self.n_vocab:
            raise ValueError(Errors.E601.format(got=matrix.shape[-1], n_vocab=self.n_vocab))

    def forward(self, matrix: Any, mode: str = "loss") -> Any:
        """Entry point for thinc's PyTorchWrapper: per-doc loss (train) or padded codes."""
        batch = matrix if isinstance(matrix, CsrBatch) else CsrBatch.from_csr(matrix, self.device)
        if mode == "loss":
            return self.loss(batch).total
        return self.codes(batch)

    @torch.no_grad()
    def encode(self, matrix: sp.csr_matrix, batch_size: int = 2048) -> SparseCodes:
        """Encode a whole CSR matrix of counts into ``SparseCodes`` (inference mode)."""
        self.check_matrix(matrix)
        parts = []
        with eval_mode(self):
            for start in range(0, max(matrix.shape[0], 1), batch_size):
                chunk = matrix[start : start + batch_size]
                if chunk.shape[0] == 0:
                    continue
                idx, val = self.codes(CsrBatch.from_csr(chunk, self.device))
                parts.append(SparseCodes.from_padded(idx.cpu().numpy(), val.float().cpu().numpy(), self.config.n_latents))
        if not parts:
            return SparseCodes(sp.csr_matrix((0, self.config.n_latents), dtype=np.float32))
        return SparseCodes.stack(parts)

    def reconstruction_is_nll(self) -> bool:
        """Whether ``loss`` reconstructs counts by a likelihood (else: squared error of scaled bags)."""
        return False

    @torch.no_grad()
    def fit_terms(self, batch: CsrBatch) -> Tuple[float, float]:
        """Summed reconstruction loss of a batch and that of a no-information baseline.

        The baseline of squared-error families is the empty code (``||x||²`` of the scaled
        bags); that of likelihood families the NLL under the batch's own unigram
        distribution (add-one smoothed). Penalties and KL terms are left out. Sum both over
        batches and take ``1 - loss / baseline`` for a fit over a whole corpus.
        """
        with eval_mode(self):
            parts = self.loss(batch).parts
        loss = float(parts["nll"] if "nll" in parts else parts["recon"]) * batch.n_rows
        if self.reconstruction_is_nll():
            counts = torch.zeros(batch.n_cols, device=batch.values.device).index_add_(0, batch.indices, batch.values)
            log_p = torch.log((counts + 1.0) / (counts.sum() + batch.n_cols))
            return loss, float(-(batch.values * log_p[batch.indices]).sum())
        return loss, float(self.scale(batch).values.double().pow(2).sum())

    @torch.no_grad()
    def reconstruction_fit(self, matrix: sp.csr_matrix, batch_size: int = 1024) -> float:
        """``1 - loss / baseline`` of ``fit_terms`` summed over a count matrix, in batches (bounded
        memory): 1 is a perfect reconstruction, 0 the baseline's. Rows without words are skipped."""
        matrix = sp.csr_matrix(matrix, dtype=np.float32)
        matrix = matrix[np.diff(matrix.indptr) > 0]
        loss = baseline = 0.0
        for start in range(0, matrix.shape[0], batch_size):
            batch_loss, batch_baseline = self.fit_terms(CsrBatch.from_csr(matrix[start : start + batch_size], self.device))
            loss, baseline = loss + batch_loss, baseline + batch_baseline
        return 1.0 - loss / max(baseline, 1e-12) if matrix.shape[0] else 0.0

    def decode_codes(self, codes: SparseCodes) -> torch.Tensor:
        """Word scores (n, V) of ``SparseCodes`` (e.g. from ``encode`` or a VAE's ``sample``)."""
        indices, values = padded_codes(codes, self.device)
        with eval_mode(self):
            with torch.no_grad():
                return self.decode(indices, values)

    @torch.no_grad()
    def denoise(self, matrix: sp.csr_matrix, top_n: int = 10, *, only_new: bool = True,
                batch_size: int = 2048) -> Tuple[np.ndarray, np.ndarray]:
        """Reconstruct the clean bag of each (partial, noisy) row and return its top words.

        Each row is encoded and decoded; the ``top_n`` highest-scoring words of the
        reconstruction are returned as ``(word_ids, scores)``, both (n, top_n), best first.
        With ``only_new`` the words already in the row are skipped, so the result lists the
        words the model restores. Empty rows (no code) get the ids -1 and scores -inf.
        """
        check_field("top_n", top_n, isinstance(top_n, int) and 1 <= top_n <= self.n_vocab, f"an int in [1, {self.n_vocab}]")
        self.check_matrix(matrix)
        ids, scores = [], []
        with eval_mode(self):
            for start in range(0, matrix.shape[0], batch_size):
                batch = CsrBatch.from_csr(sp.csr_matrix(matrix[start : start + batch_size], dtype=np.float32), self.device)
                indices, values = self.codes(batch)
                recon = self.decode(indices, values).float()
                if only_new:
                    recon[batch.rows, batch.indices] = float("-inf")
                empty = (values != 0).sum(dim=1) == 0
                recon[empty] = float("-inf")
                best, best_ids = recon.topk(top_n, dim=1)
                ids.append(best_ids.masked_fill(torch.isinf(best), -1).cpu().numpy())
                scores.append(best.cpu().numpy())
        if not ids:
            return np.zeros((0, top_n), dtype=np.int64), np.zeros((0, top_n), dtype=np.float32)
        return np.concatenate(ids), np.concatenate(scores)

    def weight_tensors(self) -> Dict[str, torch.Tensor]:
        """All learned tensors and buffers, for safetensors."""
        return dict(self.state_dict())


def init_uniform_(tensor: torch.Tensor, fan_in: int, generator: torch.Generator) -> torch.Tensor:
    """Kaiming-uniform-style init with an explicit generator (reproducible)."""
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        return tensor.uniform_(-bound, bound, generator=generator)
