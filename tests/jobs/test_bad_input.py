"""Bad input (issue 19): a corpus too small for K gets a smaller K and one clear warning; a
language without stop words in spaCy trains, with a note."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import spacy

from spacy_sparsecode import fit_component
from spacy_sparsecode.jobs.train import TrainJob, train_corpus
from spacy_sparsecode.models import DOCS_PER_LATENT, fit_to_corpus
from spacy_sparsecode.models.trainer import TrainConfig
from spacy_sparsecode.text.vocab import BagOfWordsVocab, VocabConfig

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample.jsonl"
QUICK = TrainConfig(epochs=2, batch_size=16)
#: Nynorsk: every text has the function words "og", "er" and "i"; the topic words repeat.
NYNORSK = [f"Han er {who} og bur i {place}. {who.capitalize()} {verb} {thing} kvar dag i {place}."
           for who in ("bonden", "læraren", "fiskaren", "legen")
           for place, verb, thing in (("fjellet", "hentar", "vatn"), ("byen", "selgjer", "fisk"),
                                      ("skogen", "hogg", "ved"), ("dalen", "dyrkar", "poteter"))]


@pytest.fixture(scope="module")
def texts_30():
    return [json.loads(line)["text"] for line in SAMPLE.read_text(encoding="utf8").splitlines()[:30]]


def _caught(run):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run()
    return result, [str(w.message) for w in caught]


def _w003(messages):
    found = [m for m in messages if m.startswith("[W003]")]
    assert len(found) == 1, messages
    return found[0]


def test_fit_to_corpus_keeps_two_documents_a_latent():
    config = {"n_latents": 256, "k": 16, "latents_per_word": 2}
    assert fit_to_corpus(config, 30) == {"n_latents": 15, "k": 15, "latents_per_word": 2}
    assert fit_to_corpus(config, 5) == {"n_latents": 2, "k": 2, "latents_per_word": 2}
    assert fit_to_corpus(config, 512) is config
    assert DOCS_PER_LATENT == 2


def test_30_documents_at_k_256_train_at_a_smaller_k_with_one_warning(texts_30):
    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode", config={"model": {"n_latents": 256, "k": 16}})
    docs = [nlp.make_doc(text) for text in texts_30]
    _, messages = _caught(lambda: fit_component(component, docs, QUICK, progress=False))
    message = _w003(messages)
    assert "30 documents" in message and "n_latents=256" in message and "n_latents=15" in message and "k=15" in message
    assert component.torch_model.config.n_latents == 15 and component.torch_model.config.k == 15
    assert (component.predict(docs).l0 > 0).all()


def test_the_spacy_train_initialize_path_lowers_k_too(texts_30):
    nlp = spacy.blank("en")
    nlp.add_pipe("sparsecode", config={"model": {"@architectures": "spacy-sparsecode.GaussianVAE.v1"}})
    examples = [spacy.training.Example(doc, doc) for doc in map(nlp.make_doc, texts_30)]
    _, messages = _caught(lambda: nlp.initialize(lambda: examples))
    assert "n_latents=50" in _w003(messages)
    assert nlp.get_pipe("sparsecode").torch_model.config.n_latents == 15
    assert nlp.get_pipe("sparsecode").torch_model.config.k == 8  # k=8 fits 15 latents: unchanged


def test_train_corpus_writes_the_smaller_k_and_it_loads(texts_30, tmp_path):
    corpus = tmp_path / "small.jsonl"
    corpus.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts_30), encoding="utf8")
    job = TrainJob(corpus=corpus, output_dir=tmp_path / "out", train=QUICK, progress=False)
    _, messages = _caught(lambda: train_corpus(job))
    _w003(messages)
    nlp = spacy.load(tmp_path / "out")
    assert nlp.get_pipe("sparsecode").torch_model.config.n_latents == 15
    assert all(doc._.sparse_code.nnz > 0 for doc in nlp.pipe(texts_30[:5]))


def test_a_large_enough_corpus_keeps_its_k(texts_30):
    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode", config={"model": {"n_latents": 15, "k": 4}})
    _, messages = _caught(lambda: fit_component(component, [nlp.make_doc(t) for t in texts_30], QUICK, progress=False))
    assert not [m for m in messages if "W003" in m]
    assert component.torch_model.config.n_latents == 15


def test_one_document_is_refused_with_a_clear_error(texts_30):
    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode", config={"min_df": 1, "max_df": 1.0})  # a vocabulary from one text
    with pytest.raises(ValueError, match=r"\[E012\].*1 training document"):
        fit_component(component, [nlp.make_doc(texts_30[0])], QUICK, progress=False)


@pytest.mark.parametrize("lang", ["nn", "fo", "xx"])
def test_languages_without_stop_words_exist(lang):
    """The languages the next tests stand for: spaCy has no stop words for them."""
    assert not spacy.blank(lang).Defaults.stop_words


def test_a_language_without_stop_words_trains_with_one_note():
    nlp = spacy.blank("nn")
    component = nlp.add_pipe("sparsecode", config={"model": {"n_latents": 4, "k": 2}})
    docs = [nlp.make_doc(text) for text in NYNORSK]
    _, messages = _caught(lambda: fit_component(component, docs, QUICK, progress=False))
    notes = [m for m in messages if m.startswith("[W002]")]
    assert len(notes) == 1 and "'nn'" in notes[0] and "max_df=0.5" in notes[0]
    words = set(component.bow_vocab.strings)
    # max_df is what keeps the function words in every text out: nothing else drops them here
    assert not {"og", "er", "i", "han", "kvar", "dag"} & words
    assert {"fjellet", "fisk", "bonden"} <= words
    assert (component.predict(docs).l0 > 0).all()


def test_no_note_with_stop_words_or_without_drop_stop():
    for lang, drop_stop in (("en", True), ("nb", True), ("nn", False)):
        nlp = spacy.blank(lang)
        _, messages = _caught(lambda: BagOfWordsVocab.build(nlp.pipe(NYNORSK), VocabConfig(drop_stop=drop_stop)))
        assert not [m for m in messages if "W002" in m], (lang, drop_stop)
