"""Typed containers for sparse codes: ``SparseCodes`` (a batch) and ``SparseCode`` (one doc).

A batch is a ``scipy.sparse.csr_matrix`` of shape (n_docs, n_latents), float32, with the
active latents of each row sorted by latent id. One document's code is small and
msgpack-safe (``to_user_data``), so it can live in ``doc.user_data`` and survive ``DocBin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import numpy as np
import scipy.sparse as sp

#: Keys of ``doc.user_data`` (plain, msgpack-safe values, so ``DocBin`` keeps them).
CODE_KEY = "sparsecode.code"  # the Doc's code (``SparseCode.to_user_data``)
MODEL_KEY = "sparsecode.model"  # hex fingerprint of the model that made the code
SPANS_KEY = "sparsecode.spans"  # {"start:end": code user data} of encoded spans
SUMMARY_KEY = "sparsecode.summary"  # [[start, end], ...] token offsets of the summary sentences


@dataclass(frozen=True)
class SparseCode:
    """The code of one document: active latent ids, their values, and the code size."""

    indices: np.ndarray  # int32, sorted ascending
    values: np.ndarray  # float32, same length
    dim: int

    @property
    def nnz(self) -> int:
        """Number of active latents."""
        return int(self.indices.shape[0])

    def to_dense(self) -> np.ndarray:
        """The code as a dense float32 vector of length ``dim``."""
        dense = np.zeros(self.dim, dtype=np.float32)
        dense[self.indices] = self.values
        return dense

    def top_latents(self, n: int | None = None) -> List[Tuple[int, float]]:
        """``(latent_id, value)`` pairs by value, descending (all of them when ``n`` is None)."""
        order = np.argsort(-self.values, kind="stable")[: n if n is not None else None]
        return [(int(self.indices[i]), float(self.values[i])) for i in order]

    def to_user_data(self) -> Dict[str, Any]:
        """Plain msgpack-able form, for ``doc.user_data``."""
        return {"dim": int(self.dim), "indices": self.indices.tolist(), "values": self.values.tolist()}

    @classmethod
    def from_user_data(cls, data: Dict[str, Any]) -> "SparseCode":
        """Inverse of ``to_user_data``."""
        return cls(
            indices=np.asarray(data["indices"], dtype=np.int32),
            values=np.asarray(data["values"], dtype=np.float32),
            dim=int(data["dim"]),
        )

    @classmethod
    def empty(cls, dim: int) -> "SparseCode":
        """The code of a document with no in-vocabulary words."""
        return cls(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32), dim)


class SparseCodes:
    """A batch of codes backed by a CSR matrix (rows = documents, columns = latents)."""

    def __init__(self, matrix: sp.csr_matrix) -> None:
        matrix = sp.csr_matrix(matrix, dtype=np.float32)
        matrix.eliminate_zeros()
        matrix.sort_indices()
        self.matrix = matrix

    @classmethod
    def from_padded(cls, indices: np.ndarray, values: np.ndarray, dim: int) -> "SparseCodes":
        """Build from per-row ``(n_docs, m)`` latent ids and values; zero values are padding."""
        n_rows, m = values.shape
        rows = np.repeat(np.arange(n_rows), m)
        matrix = sp.csr_matrix(
            (values.reshape(-1).astype(np.float32), (rows, indices.reshape(-1))), shape=(n_rows, dim)
        )
        return cls(matrix)

    @classmethod
    def from_codes(cls, codes: Sequence[SparseCode]) -> "SparseCodes":
        """Stack single codes of one dimension (at least one) into a batch."""
        indptr = np.cumsum([0] + [code.nnz for code in codes])
        indices = np.concatenate([code.indices for code in codes])
        values = np.concatenate([code.values for code in codes])
        return cls(sp.csr_matrix((values, indices, indptr), shape=(len(codes), codes[0].dim)))

    @property
    def dim(self) -> int:
        """Number of latents K."""
        return int(self.matrix.shape[1])

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    def __getitem__(self, i: int) -> SparseCode:
        start, end = self.matrix.indptr[i], self.matrix.indptr[i + 1]
        return SparseCode(
            indices=self.matrix.indices[start:end].astype(np.int32),
            values=self.matrix.data[start:end].astype(np.float32),
            dim=self.dim,
        )

    def __iter__(self) -> Iterator[SparseCode]:
        return (self[i] for i in range(len(self)))

    def to_dense(self) -> np.ndarray:
        """All codes as a dense (n_docs, K) float32 array."""
        return self.matrix.toarray()

    @property
    def l0(self) -> np.ndarray:
        """Number of active latents per document."""
        return np.diff(self.matrix.indptr)

    @classmethod
    def stack(cls, codes: List["SparseCodes"]) -> "SparseCodes":
        """Concatenate batches row-wise."""
        return cls(sp.vstack([c.matrix for c in codes], format="csr"))
