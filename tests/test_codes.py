"""codes.py: one document's SparseCode and a batch of SparseCodes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import srsly

from spacy_sparsecode.codes import SparseCode, SparseCodes


def _batch() -> SparseCodes:
    dense = np.array([[0.0, 0.5, 0.0, 0.25], [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 2.0]], dtype=np.float32)
    return SparseCodes(sp.csr_matrix(dense))


def test_code_dense_top_latents_and_user_data_round_trip():
    code = _batch()[2]
    assert code.nnz == 2 and code.dim == 4
    assert code.indices.dtype == np.int32 and code.values.dtype == np.float32
    assert np.array_equal(code.to_dense(), [1.0, 0.0, 0.0, 2.0])
    assert code.top_latents() == [(3, 2.0), (0, 1.0)] and code.top_latents(1) == [(3, 2.0)]
    packed = srsly.msgpack_dumps(code.to_user_data())  # msgpack-safe: survives DocBin
    again = SparseCode.from_user_data(srsly.msgpack_loads(packed))
    assert np.array_equal(again.indices, code.indices) and np.array_equal(again.values, code.values)


def test_empty_code():
    code = SparseCode.empty(8)
    assert code.nnz == 0 and not code.to_dense().any() and code.top_latents() == []
    assert _batch()[1].nnz == 0


def test_batch_drops_explicit_zeros_and_sorts_latents():
    matrix = sp.csr_matrix((np.array([0.5, 0.0, 0.2], dtype=np.float32), np.array([3, 1, 0]), np.array([0, 3])), shape=(1, 4))
    codes = SparseCodes(matrix)
    assert codes[0].indices.tolist() == [0, 3] and codes.l0.tolist() == [2]


def test_from_padded_treats_zero_values_as_padding():
    codes = SparseCodes.from_padded(np.array([[2, 0], [1, 3]]), np.array([[0.5, 0.0], [0.1, 0.2]], dtype=np.float32), dim=4)
    assert codes.l0.tolist() == [1, 2] and codes[0].indices.tolist() == [2]


def test_stack_and_from_codes_keep_rows_in_order():
    batch = _batch()
    stacked = SparseCodes.stack([batch, batch])
    assert len(stacked) == 6 and np.array_equal(stacked.to_dense()[3:], batch.to_dense())
    rebuilt = SparseCodes.from_codes(list(batch))
    assert np.array_equal(rebuilt.to_dense(), batch.to_dense()) and rebuilt.dim == 4
    assert [code.nnz for code in batch] == [2, 0, 2]


def test_index_out_of_range():
    with pytest.raises(IndexError):
        _batch()[5]
