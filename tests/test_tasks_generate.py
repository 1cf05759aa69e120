"""tasks.generate: SAE steering, sparsity, sentence retrieval, and the no-sampler error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from spacy_sparsecode.codes import SparseCode
from spacy_sparsecode.tasks.generate import SentenceIndex, describe, interpolate, sample, sparsify, steer


def _code():
    return SparseCode(np.array([1, 4, 7], dtype=np.int32), np.array([0.5, 0.2, 0.9], dtype=np.float32), 10)


def test_steer_switches_latents_and_keeps_l0():
    steered = steer(_code(), on=[2], off=[7])
    assert 2 in steered.indices and 7 not in steered.indices and steered.nnz == 3
    assert steered.values[list(steered.indices).index(2)] == pytest.approx(0.9)


def test_steer_rejects_unknown_latent():
    with pytest.raises(ValueError, match="Latent id 12 .*'on'"):
        steer(_code(), on=[12])


def test_sparsify_matches_real_l0():
    dense = np.random.default_rng(0).normal(size=(200, 30))
    codes = sparsify(dense, np.array([3, 5]))
    assert set(np.unique(codes.l0)) == {3, 5}


def test_interpolate_ends_are_the_codes():
    a, b = _code(), SparseCode(np.array([0, 2], dtype=np.int32), np.array([1.0, 0.3], dtype=np.float32), 10)
    path = interpolate(a, b, 5)
    assert len(path) == 5 and np.allclose(path[0].to_dense(), a.to_dense()) and np.allclose(path[4].to_dense(), b.to_dense())


def test_sae_cannot_sample(trained_nlp):
    model = trained_nlp.get_pipe("sparsecode").torch_model
    with pytest.raises(ValueError, match="needs a model that can sample.*gaussian, logistic_normal.*'topk'"):
        sample(model, 3, np.array([4]))


def test_steered_code_retrieves_real_sentences(trained_nlp, sample_texts):
    component = trained_nlp.get_pipe("sparsecode")
    sent_nlp = trained_nlp.__class__(trained_nlp.vocab)
    sent_nlp.add_pipe("sentencizer")
    sents = [s for text in sample_texts[:40] for s in sent_nlp(text).sents]
    index = SentenceIndex.build(component.featurize(s.as_doc() for s in sents), [s.text for s in sents], component.bow_vocab.idf())
    code = trained_nlp(sample_texts[0])._.sparse_code
    latent = int(np.setdiff1d(np.arange(32), code.indices)[0])
    codes = component._codes_of([trained_nlp(sample_texts[0])])
    from spacy_sparsecode.codes import SparseCodes
    import scipy.sparse as sp
    steered = steer(code, on=[latent])
    both = SparseCodes(sp.vstack([codes.matrix, sp.csr_matrix(steered.to_dense()[None])]))
    out = describe(component.torch_model, both, component.bow_vocab.strings, index)
    assert len(out) == 2 and out[0]["keywords"] and len(out[0]["sentences"]) == 3
    assert out[0]["bag"] != out[1]["bag"]
    assert all(s in [x.text for x in sents] for s in out[1]["sentences"])
