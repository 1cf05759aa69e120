"""BagOfWordsVocab (filters, df limits, serialisation) and docs_to_csr (counts, weighting)."""

from __future__ import annotations

import json
from typing import List

import numpy as np
import pytest
import scipy.sparse as sp
import spacy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_sparsecode.models.base import CsrBatch, scale_batch
from spacy_sparsecode.text.featurize import SCALINGS, Scaling, docs_to_csr, scale_counts
from spacy_sparsecode.text.vocab import BagOfWordsVocab, VocabConfig, token_hashes

TEXTS = [
    "The cat sat on the mat.",
    "The dog sat on the log!",
    "A cat and a dog.",
    "Cats, dogs and 42 birds.",
]
ALL = dict(min_df=1, max_df=1.0)


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


def build(nlp, texts: List[str], **cfg) -> BagOfWordsVocab:
    return BagOfWordsVocab.build(nlp.pipe(texts), VocabConfig(**cfg))


def reference_rows(docs, vocab: BagOfWordsVocab):
    """Per-doc (columns, counts) from the reference filter ``token_hashes``."""
    rows = []
    for doc in docs:
        cols = vocab.columns(token_hashes(doc, vocab.config))
        rows.append(np.unique(cols[cols >= 0], return_counts=True))
    return rows


def assert_matches_reference(csr, docs, vocab):
    for i, (cols, counts) in enumerate(reference_rows(docs, vocab)):
        row = csr[i]
        assert row.indices.tolist() == cols.tolist()
        assert row.data.tolist() == counts.tolist()


def test_min_df_max_df_max_size(nlp):
    assert sorted(build(nlp, TEXTS, min_df=2, max_df=1.0).strings) == ["cat", "dog", "sat"]
    assert sorted(build(nlp, TEXTS, min_df=0.5, max_df=1.0).strings) == ["cat", "dog", "sat"]
    assert sorted(build(nlp, TEXTS, min_df=1, max_df=0.3).strings) == ["birds", "cats", "dogs", "log", "mat"]
    assert sorted(build(nlp, TEXTS, min_df=1, max_df=2).strings) == sorted(build(nlp, TEXTS, **ALL).strings)
    # highest df first, ties broken by the string
    assert sorted(build(nlp, TEXTS, max_size=2, **ALL).strings) == ["cat", "dog"]
    vocab = build(nlp, TEXTS, **ALL)
    assert vocab.n_docs == 4 and len(vocab) == 8
    assert dict(zip(vocab.strings, vocab.df.tolist()))["sat"] == 2
    assert (vocab.hashes[1:] > vocab.hashes[:-1]).all()


def test_token_filters(nlp):
    text = ["The 42 cats, 7 dogs and x birds!\n\n"]
    assert sorted(build(nlp, text, **ALL).strings) == ["birds", "cats", "dogs"]
    kept = build(
        nlp, text, drop_stop=False, drop_punct=False, drop_num=False, drop_space=False, min_length=1, **ALL
    )
    assert {"the", "42", ",", "7", "and", "x", "!", "\n\n"} <= set(kept.strings)


def test_alpha_only_drops_addresses_and_symbols(nlp):
    text = ["Mail me at jane@example.org or see www.example.com: cats ^^^^ a1b2 dogs cats"]
    kept = build(nlp, text, alpha_only=True, **ALL).strings
    assert sorted(kept) == ["cats", "dogs", "mail"]
    assert "jane@example.org" in build(nlp, text, **ALL).strings  # off by default


def test_attr_lower_vs_orth(nlp):
    texts = ["Cat cat CAT dog"]
    assert sorted(build(nlp, texts, **ALL).strings) == ["cat", "dog"]
    assert sorted(build(nlp, texts, attr="ORTH", **ALL).strings) == ["CAT", "Cat", "cat", "dog"]


def test_counts_match_hand_count(nlp):
    vocab = build(nlp, ["cat dog", "cat bird"], **ALL)
    csr = docs_to_csr(nlp.pipe(["Cat cat, dog. CAT! the cat", "bird"]), vocab)
    assert csr.dtype == np.float32 and csr.shape == (2, len(vocab))
    col = {s: j for j, s in enumerate(vocab.strings)}
    dense = csr.toarray()
    assert dense[0, col["cat"]] == 4 and dense[0, col["dog"]] == 1 and dense[0, col["bird"]] == 0
    assert dense[1].tolist() == [1.0 if s == "bird" else 0.0 for s in vocab.strings]
    assert csr.has_sorted_indices and (csr.data != 0).all()


def test_symbol_strings_hash_like_doc_to_array(nlp):
    # "root" and "number" are spaCy symbols: their ids are not hash_string() values
    vocab = build(nlp, ["root number root"], **ALL)
    csr = docs_to_csr(nlp.pipe(["root root number"]), BagOfWordsVocab.from_dict(vocab.to_dict()))
    assert csr.sum() == 3


@pytest.mark.parametrize("attr", ["LOWER", "NORM", "ORTH"])
def test_featurize_matches_token_hashes(nlp, attr):
    texts = TEXTS + ["I'm gonna say the Cat's dogs can't", "new words only here, dogs"]
    vocab = build(nlp, TEXTS + texts[-2:-1], attr=attr, **ALL)
    docs = list(nlp.pipe(texts))
    assert_matches_reference(docs_to_csr(docs[:2], vocab), docs[:2], vocab)
    assert_matches_reference(docs_to_csr(docs, vocab), docs, vocab)  # cache warm + new texts


def test_docs_from_two_pipelines(nlp):
    other = spacy.blank("en")
    vocab = build(nlp, TEXTS, **ALL)
    docs = [nlp(TEXTS[0]), other(TEXTS[1]), nlp(TEXTS[2]), other(TEXTS[3])]
    assert_matches_reference(docs_to_csr(docs, vocab), docs, vocab)


def test_empty_rows(nlp):
    vocab = build(nlp, TEXTS, **ALL)
    texts = ["", "   \n ", "the and of a", "zebra quux", "cat"]
    for scaling in SCALINGS:
        csr = docs_to_csr(nlp.pipe(texts), vocab, scaling)
        assert csr.shape == (5, len(vocab))
        assert np.diff(csr.indptr).tolist() == [0, 0, 0, 0, 1]
    assert docs_to_csr([], vocab).shape == (0, len(vocab))


def test_empty_vocab_warns(nlp):
    with pytest.warns(UserWarning, match="W001"):
        vocab = build(nlp, TEXTS, attr="LEMMA", **ALL)  # no lemmatizer: every lemma is 0
    assert len(vocab) == 0
    csr = docs_to_csr(nlp.pipe(TEXTS), vocab, "tfidf")
    assert csr.shape == (4, 0) and csr.nnz == 0


def test_scalings(nlp):
    vocab = build(nlp, TEXTS, **ALL)
    counts = docs_to_csr(nlp.pipe(TEXTS + ["cat cat cat dog"]), vocab)
    log1p = scale_counts(counts, "log1p").toarray()
    raw = np.log1p(counts.toarray())
    assert np.allclose(log1p, raw / np.linalg.norm(raw, axis=1, keepdims=True))
    tfidf = docs_to_csr(nlp.pipe(TEXTS + ["cat cat cat dog", ""]), vocab, "tfidf")
    norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1)).ravel())
    assert np.allclose(norms, [1, 1, 1, 1, 1, 0], atol=1e-6)
    assert np.allclose(vocab.idf(), np.log(5 / (1 + vocab.df)) + 1)
    with pytest.raises(ValueError, match="tfidf, log1p-tfidf, log1p, count"):
        docs_to_csr(nlp.pipe(TEXTS), vocab, "bm25")
    with pytest.raises(ValueError, match="idf"):
        scale_counts(counts, "tfidf")


def test_scalings_mean_the_same_for_the_featurizer_and_the_models(nlp):
    vocab = build(nlp, TEXTS, **ALL)
    counts = docs_to_csr(nlp.pipe(TEXTS + ["cat cat cat dog"]), vocab)
    idf = vocab.idf()
    for scaling in SCALINGS:
        batch = scale_batch(CsrBatch.from_csr(counts), scaling, torch.from_numpy(idf))
        assert np.allclose(batch.to_scipy().toarray(), scale_counts(counts, scaling, idf).toarray(), atol=1e-6), scaling
    with pytest.raises(ValueError, match=r"\[E002\].*tfidf, log1p-tfidf, log1p, count"):
        scale_batch(CsrBatch.from_csr(counts), "bm25", torch.from_numpy(idf))


def test_one_table_of_scalings():
    assert SCALINGS["count"] == Scaling(log1p=False, idf=False, normalize=False)
    assert SCALINGS["log1p-tfidf"] == Scaling(log1p=True, idf=True, normalize=True)
    assert all(rule.normalize for name, rule in SCALINGS.items() if name != "count")
    counts = sp.csr_matrix(np.array([[2.0, 0.0], [0.0, 3.0]], dtype=np.float32))
    assert scale_counts(counts, "count") is counts
    batch = CsrBatch.from_csr(counts)
    assert scale_batch(batch, "count", None) is batch


def test_round_trip(nlp):
    vocab = build(nlp, TEXTS, max_size=5, min_df=1, max_df=0.9)
    loaded = BagOfWordsVocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert loaded.config == vocab.config and loaded.strings == vocab.strings
    assert (loaded.hashes == vocab.hashes).all() and (loaded.df == vocab.df).all()
    docs = list(nlp.pipe(TEXTS))
    for scaling in SCALINGS:
        a, b = docs_to_csr(docs, vocab, scaling), docs_to_csr(docs, loaded, scaling)
        assert (a.indptr == b.indptr).all() and (a.indices == b.indices).all() and (a.data == b.data).all()
    data = vocab.to_dict()
    data["strings"] = data["strings"][::-1]
    with pytest.raises(ValueError, match="E100"):
        BagOfWordsVocab.from_dict(data)


@pytest.mark.parametrize(
    "field,value",
    [
        ("attr", "POS"),
        ("min_df", 0),
        ("min_df", 1.0),
        ("max_df", 1),
        ("max_df", 1.5),
        ("max_size", 0),
        ("min_length", 0),
        ("drop_stop", "yes"),
    ],
)
def test_config_validation(field, value):
    with pytest.raises(ValueError, match=field):
        VocabConfig(**{field: value})


def test_config_attr_error_lists_valid():
    with pytest.raises(ValueError, match="LOWER, NORM, LEMMA, ORTH"):
        VocabConfig(attr="lemma")


WORDS = ["cat", "Cat", "dog", "the", "42", ",", "bird", "a", "zebra", "x", "\n"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(WORDS), max_size=12), min_size=1, max_size=5))
def test_row_sums_count_kept_in_vocab_tokens(nlp, token_lists):
    vocab = build(nlp, ["cat dog bird the x 42"], **ALL)
    in_vocab = set(vocab.strings)
    docs = [nlp(" ".join(tokens)) for tokens in token_lists]
    expected = [
        sum(
            t.lower_ in in_vocab and not (t.is_stop or t.is_punct or t.like_num or t.is_space) and len(t) >= 2
            for t in doc
        )
        for doc in docs
    ]
    assert np.asarray(docs_to_csr(docs, vocab).sum(axis=1)).ravel().tolist() == expected


def test_spans_featurize_like_their_own_docs(nlp):
    texts = ["The market rallied today. Investors bought shares in banks. Oil prices fell sharply."] * 3
    vocab = build(nlp, texts, min_df=1, max_df=1.0)
    doc = nlp.make_doc(texts[0])
    spans = [doc[0:5], doc[5:12], doc[12:]]
    from_spans = docs_to_csr(spans, vocab)
    from_docs = docs_to_csr([span.as_doc() for span in spans], vocab)
    assert from_spans.shape == (3, len(vocab))
    assert (from_spans != from_docs).nnz == 0 and from_spans.sum() > 0
