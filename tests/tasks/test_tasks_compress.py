"""tasks.compress: varints, pack/unpack round trips, and refusal of bad bytes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from spacy_sparsecode.codes import SparseCodes
from spacy_sparsecode.tasks.compress import compress, decode_varints, decompress, encode_varints, pack, unpack
from spacy_sparsecode.tasks.topics import decoded_keywords

FP = bytes(range(8))


def _codes(seed: int = 0, n: int = 40, dim: int = 300) -> SparseCodes:
    rng = np.random.default_rng(seed)
    matrix = sp.random(n, dim, density=0.05, random_state=seed, format="csr", dtype=np.float32)
    matrix.data = rng.uniform(0.01, 3.0, matrix.nnz).astype(np.float32)
    matrix = matrix.tolil()
    matrix[3] = 0  # an empty code
    matrix = matrix.tocsr()
    return SparseCodes(matrix)


def test_varints_round_trip():
    values = np.array([0, 1, 127, 128, 300, 16383, 16384, 2**21, 2**28 + 5], dtype=np.int64)
    data = np.frombuffer(encode_varints(values), dtype=np.uint8)
    decoded, pos = decode_varints(data, len(values), 0)
    assert np.array_equal(decoded, values) and pos == len(data)


@pytest.mark.parametrize("values, tol", [("fp16", 2e-3), ("int8", 1.0 / 127 + 1e-3)])
def test_pack_unpack_keeps_ids_and_approximate_values(values, tol):
    codes = _codes()
    back = unpack(pack(codes, FP, values), FP)
    assert back.matrix.shape == codes.matrix.shape
    assert np.array_equal(back.matrix.indptr, codes.matrix.indptr)
    assert np.array_equal(back.matrix.indices, codes.matrix.indices)
    rel = np.abs(back.matrix.data - codes.matrix.data) / np.repeat(
        np.maximum.reduceat(codes.matrix.data, codes.matrix.indptr[:-1][codes.l0 > 0]), codes.l0[codes.l0 > 0])
    assert rel.max() <= tol


def test_pack_is_compact():
    codes = _codes()
    blob = pack(codes, FP, "int8")
    assert len(blob) < codes.matrix.nnz * 2.3 + 2 * len(codes) + 40


def test_empty_batch_round_trips():
    codes = SparseCodes(sp.csr_matrix((0, 10), dtype=np.float32))
    assert len(unpack(pack(codes, FP), FP)) == 0


@pytest.mark.parametrize("cut", [1, 5, 30, -1, -5])
def test_truncated_bytes_are_refused(cut):
    blob = pack(_codes(), FP)
    with pytest.raises(ValueError, match=r"\[E40[01]\]"):
        unpack(blob[:cut] if cut > 0 else blob[:cut])


def test_flipped_byte_is_refused():
    blob = bytearray(pack(_codes(), FP))
    blob[len(blob) // 2] ^= 0x55
    with pytest.raises(ValueError, match="corrupt"):
        unpack(bytes(blob))


def test_other_model_is_refused():
    with pytest.raises(ValueError, match="another model"):
        unpack(pack(_codes(), FP), bytes(8))


def test_not_packed_bytes_are_refused():
    with pytest.raises(ValueError, match="not packed sparse codes"):
        unpack(b"hello world, not codes at all")


def test_component_round_trip_and_fingerprint(trained_nlp, make_pipeline, sample_texts):
    component = trained_nlp.get_pipe("sparsecode")
    docs = list(trained_nlp.pipe(sample_texts[:30]))
    codes = decompress(component, compress(component, docs))
    for doc, code in zip(docs, codes):
        assert np.array_equal(code.indices, doc._.sparse_code.indices)
        assert np.allclose(code.values, doc._.sparse_code.values, rtol=2e-3, atol=1e-4)
    words = decoded_keywords(component.torch_model, codes, component.bow_vocab.strings, 5)
    assert all(len(w) == 5 for w in words)
    other = make_pipeline(sample_texts[:60], epochs=2, seed=1).get_pipe("sparsecode")
    with pytest.raises(ValueError, match="another model"):
        decompress(other, compress(component, docs))
