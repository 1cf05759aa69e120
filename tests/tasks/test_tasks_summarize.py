"""tasks.summarize: budgets, selection, Doc._.summary, and bad input."""

from __future__ import annotations

import warnings

import pytest
from spacy.tokens import DocBin

from spacy_sparsecode.tasks.summarize import sentence_spans, summarize


def _summarize(nlp, text, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = nlp(text)
        return doc, summarize(nlp.get_pipe("sparsecode"), doc, **kwargs)


def test_summary_is_in_document_order_within_budget(trained_nlp, sample_texts):
    text = " ".join(sample_texts[:4])
    doc, spans = _summarize(trained_nlp, text, sentences=3)
    assert len(spans) == 3
    starts = [s.start for s in spans]
    assert starts == sorted(starts) and all(s.doc is doc for s in spans)
    assert [s.start for s in doc._.summary] == starts


def test_ratio_budget(trained_nlp, sample_texts):
    doc, spans = _summarize(trained_nlp, " ".join(sample_texts[:4]), ratio=0.5)
    assert len(spans) == round(0.5 * len(list(doc.sents)))


def test_missing_sentences_warn_and_sentencizer_is_used(trained_nlp, sample_texts):
    doc = trained_nlp(" ".join(sample_texts[:2]))
    with pytest.warns(UserWarning, match="W400"):
        spans = doc._.summary
    assert 1 <= len(spans) <= 3


def test_warn_is_keyword_only(trained_nlp, sample_texts):
    doc = trained_nlp(sample_texts[0])
    with pytest.raises(TypeError):
        sentence_spans(doc, False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sentence_spans(doc, warn=False)


def test_pipeline_sentences_are_used_without_warning(trained_nlp, sample_texts):
    trained_nlp.add_pipe("sentencizer", first=True)
    try:
        doc = trained_nlp(" ".join(sample_texts[:2]))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert doc._.summary
    finally:
        trained_nlp.remove_pipe("sentencizer")


@pytest.mark.parametrize("text, expected", [("", 0), ("Shares in the retailer rose sharply on Monday.", 1)])
def test_empty_and_one_sentence_docs(trained_nlp, text, expected):
    doc, spans = _summarize(trained_nlp, text, sentences=3)
    assert len(spans) == expected
    if expected:
        assert spans[0].text == text


@pytest.mark.parametrize("kwargs, name", [({"sentences": 0}, "sentences"), ({"sentences": -2}, "sentences"),
                                          ({"ratio": 0.0}, "ratio"), ({"ratio": -0.5}, "ratio"), ({"ratio": 1.5}, "ratio")])
def test_non_positive_budget_is_an_error_naming_it(trained_nlp, kwargs, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        _summarize(trained_nlp, "One sentence here. And another one.", **kwargs)


def test_summary_survives_docbin(trained_nlp, sample_texts):
    doc, spans = _summarize(trained_nlp, " ".join(sample_texts[:3]), sentences=2)
    restored = list(DocBin(docs=[doc], store_user_data=True).get_docs(trained_nlp.vocab))[0]
    assert [s.text for s in restored._.summary] == [s.text for s in spans]


def test_lead_prior_moves_the_summary_to_the_lead(trained_nlp, sample_texts):
    text = " ".join(sample_texts[:4])
    _, plain = _summarize(trained_nlp, text, sentences=3)
    _, zero = _summarize(trained_nlp, text, sentences=3, lead_prior=0.0)
    doc, lead = _summarize(trained_nlp, text, sentences=3, lead_prior=100.0)
    assert [s.start for s in zero] == [s.start for s in plain]
    assert [s.text for s in lead] == [s.text for s in list(doc.sents)[:3]]


@pytest.mark.parametrize("value", [-0.5, float("nan"), "1"])
def test_bad_lead_prior_is_an_error_naming_it(trained_nlp, value):
    with pytest.raises(ValueError, match="'lead_prior'"):
        _summarize(trained_nlp, "One sentence here. And another one.", lead_prior=value)
