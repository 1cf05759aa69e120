"""tasks.topics: labels, decoded keywords, Span codes, the sklearn vectorizer."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from spacy.tokens import DocBin

from spacy_sparsecode.tasks.topics import latent_labels
from spacy_sparsecode.tasks.vectorizer import SparseCodeVectorizer


def test_topics_have_labels(trained_nlp, sample_texts):
    doc = trained_nlp(sample_texts[0])
    component = trained_nlp.get_pipe("sparsecode")
    labels = latent_labels(component.torch_model, component.bow_vocab.strings)
    assert len(labels) == 32
    for latent, weight, label in doc._.topics:
        assert label == labels[latent] and len(label.split()) == 3 and weight > 0


def test_keywords_are_reconstructed_words(trained_nlp, sample_texts):
    doc = trained_nlp(sample_texts[1])
    keywords = doc._.keywords
    assert len(keywords) == 10
    scores = [s for _, s in keywords]
    assert scores == sorted(scores, reverse=True)
    assert {w for w, _ in keywords} <= set(trained_nlp.get_pipe("sparsecode").bow_vocab.strings)


def test_keywords_expand_a_short_query(trained_nlp):
    doc = trained_nlp("shares profits")
    words = [w for w, _ in doc._.keywords]
    assert words and set(words) - {"shares", "profits"}


def test_empty_doc_has_no_keywords(trained_nlp):
    assert trained_nlp("")._.keywords == []


def test_span_codes(trained_nlp, sample_texts):
    trained_nlp.add_pipe("sentencizer", first=True)
    try:
        doc = trained_nlp(sample_texts[2])
    finally:
        trained_nlp.remove_pipe("sentencizer")
    sent = list(doc.sents)[0]
    code = sent._.sparse_code
    assert code.dim == 32 and 0 < code.nnz <= 4
    again = list(DocBin(docs=[doc], store_user_data=True).get_docs(trained_nlp.vocab))[0]
    assert np.array_equal(list(again.sents)[0]._.sparse_code.to_dense(), code.to_dense())


def test_labels_and_keywords_survive_docbin(trained_nlp, sample_texts):
    doc = trained_nlp(sample_texts[4])
    restored = list(DocBin(docs=[doc], store_user_data=True).get_docs(trained_nlp.vocab))[0]
    assert restored._.topics == doc._.topics and restored._.keywords == doc._.keywords


def test_vectorizer_in_sklearn_pipeline(sample_texts):
    labels = np.array([i % 2 for i in range(len(sample_texts))])
    vectorizer = SparseCodeVectorizer(n_latents=16, k=4, epochs=3, batch_size=32)
    assert vectorizer.get_params()["n_latents"] == 16
    with pytest.raises(NotFittedError):
        vectorizer.transform(sample_texts[:2])
    pipe = make_pipeline(vectorizer, LogisticRegression(max_iter=200))
    pipe.fit(sample_texts, labels)
    codes = pipe[0].transform(sample_texts[:5])
    assert sp.issparse(codes) and codes.shape == (5, 16) and (codes.getnnz(axis=1) <= 4).all()
    assert pipe.predict(sample_texts[:5]).shape == (5,)
    assert len(pipe[0].get_feature_names_out()) == 16


def test_vectorizer_rejects_a_single_string():
    with pytest.raises(ValueError, match="single string"):
        SparseCodeVectorizer(epochs=1).fit("just one text")
