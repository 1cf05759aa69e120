"""The ``sparsecode`` component: life cycle, extensions, serialization, bad input."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_sparsecode.codes import SparseCode
from spacy_sparsecode.io import FORMAT_VERSION
from spacy_sparsecode.tasks.topics import topic_words


def test_codes_are_sparse_and_topics_sorted(trained_nlp, sample_texts):
    doc = trained_nlp(sample_texts[0])
    code = doc._.sparse_code
    assert isinstance(code, SparseCode)
    assert code.dim == 32 and 0 < code.nnz <= 4
    assert np.array_equal(np.flatnonzero(code.to_dense()), np.sort(code.indices))
    weights = [t[1] for t in doc._.topics]
    assert weights == sorted(weights, reverse=True) and len(weights) == code.nnz


@pytest.mark.parametrize("text", ["", "   \n\t ", "the and of to is", "zxqv qqqwx blorptastic"])
def test_empty_bags_give_empty_codes(trained_nlp, text):
    doc = trained_nlp(text)
    assert doc._.sparse_code.nnz == 0
    assert doc._.topics == []


def test_topic_words_are_vocabulary_words(trained_nlp):
    component = trained_nlp.get_pipe("sparsecode")
    words = topic_words(component, top_n=5)
    assert len(words) == 32 and all(len(w) == 5 for w in words)
    assert set(words[0]) <= set(component.bow_vocab.strings)


def test_disk_round_trip_gives_identical_codes(trained_nlp, saved_pipeline, sample_texts):
    loaded = spacy.load(saved_pipeline)
    for text in sample_texts[:20]:
        a, b = trained_nlp(text)._.sparse_code, loaded(text)._.sparse_code
        assert np.array_equal(a.indices, b.indices) and np.allclose(a.values, b.values)
    assert sorted(p.name for p in (saved_pipeline / "sparsecode").iterdir()) == ["cfg.json", "model.safetensors", "vocab.json"]


def test_bytes_round_trip(trained_nlp, sample_texts):
    component = trained_nlp.get_pipe("sparsecode")
    nlp2 = spacy.blank("en")
    nlp2.add_pipe("sparsecode", config={"model": {"n_latents": 32, "k": 4}}).from_bytes(component.to_bytes())
    assert np.array_equal(trained_nlp(sample_texts[3])._.sparse_code.to_dense(), nlp2(sample_texts[3])._.sparse_code.to_dense())


def test_docbin_keeps_codes(trained_nlp, sample_texts):
    docs = list(trained_nlp.pipe(sample_texts[:5]))
    restored = list(DocBin(docs=docs, store_user_data=True).get_docs(trained_nlp.vocab))
    for before, after in zip(docs, restored):
        assert np.array_equal(before._.sparse_code.to_dense(), after._.sparse_code.to_dense())
        assert before._.topics == after._.topics


def test_same_seed_same_codes(sample_texts, make_pipeline):
    a = make_pipeline(sample_texts, epochs=3)
    b = make_pipeline(sample_texts, epochs=3)
    assert np.array_equal(a(sample_texts[7])._.sparse_code.to_dense(), b(sample_texts[7])._.sparse_code.to_dense())


def test_update_trains_through_thinc(sample_texts):
    nlp = spacy.blank("en")
    nlp.add_pipe("sparsecode", config={"model": {"n_latents": 16, "k": 4}})
    docs = [nlp.make_doc(t) for t in sample_texts]
    nlp.initialize(lambda: [Example(d, d) for d in docs])
    optimizer = nlp.create_optimizer()
    epoch_losses = []
    for _ in range(6):
        losses = {}
        for i in range(0, len(docs), 16):
            nlp.update([Example(d, d) for d in docs[i : i + 16]], sgd=optimizer, losses=losses)
        epoch_losses.append(losses["sparsecode"])
    assert epoch_losses[-1] < epoch_losses[0]
    scores = nlp.evaluate([Example(d, d) for d in docs[:30]])
    assert 0 < scores["sparsecode_fit"] < 1 and 0 < scores["sparsecode_l0"] <= 4


def test_use_before_initialize_names_the_component():
    nlp = spacy.blank("en")
    nlp.add_pipe("sparsecode", name="codes")
    with pytest.raises(ValueError, match=r"'codes' component is not initialized"):
        nlp("Some text here.")


def test_add_label_is_refused_with_a_catalogue_message():
    component = spacy.blank("en").add_pipe("sparsecode", name="codes")
    with pytest.raises(NotImplementedError, match=r"\[E013\] The 'codes' component is unsupervised.*add_label\('sport'\)"):
        component.add_label("sport")


@pytest.mark.parametrize(
    "model, field",
    [({"n_latents": 8, "k": 9}, "'k'"), ({"k": 0}, "'k'"), ({"scaling": "bm25"}, "scaling"), ({"n_latents": -1}, "n_latents")],
)
def test_config_errors_name_the_field(model, field):
    nlp = spacy.blank("en")
    with pytest.raises(Exception, match=field):
        nlp.add_pipe("sparsecode", config={"model": model})


def test_initialize_with_no_usable_words_fails_clearly():
    nlp = spacy.blank("en")
    nlp.add_pipe("sparsecode")
    docs = [nlp.make_doc("the of and") for _ in range(5)]
    with pytest.raises(ValueError, match="no training documents with any in-vocabulary tokens"):
        nlp.initialize(lambda: [Example(d, d) for d in docs])


def _copy(saved_pipeline, tmp_path):
    target = tmp_path / "nlp"
    shutil.copytree(saved_pipeline, target)
    return target


def test_missing_weights_file_is_named(saved_pipeline, tmp_path):
    path = _copy(saved_pipeline, tmp_path)
    (path / "sparsecode" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        spacy.load(path)


def test_truncated_weights_file_is_named(saved_pipeline, tmp_path):
    path = _copy(saved_pipeline, tmp_path)
    weights = path / "sparsecode" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ValueError, match="model.safetensors.*truncated or corrupt"):
        spacy.load(path)


def test_unknown_format_version_is_refused(saved_pipeline, tmp_path):
    path = _copy(saved_pipeline, tmp_path)
    cfg = path / "sparsecode" / "cfg.json"
    cfg.write_text(json.dumps(json.loads(cfg.read_text()) | {"format_version": 99}))
    with pytest.raises(ValueError, match="format version 99"):
        spacy.load(path)


@pytest.mark.parametrize("format_version, flags, encoder_input", [
    (1, {}, "centered"),  # format 1 always subtracted the decoder bias
    (2, {"pre_encoder_bias": False}, "linear"),
    (3, {"pre_encoder_bias": False, "nonneg_encoder": True}, "nonneg"),
])
def test_older_format_sae_loads_with_its_encoder_input(saved_pipeline, tmp_path, format_version, flags, encoder_input):
    path = _copy(saved_pipeline, tmp_path)
    cfg = path / "sparsecode" / "cfg.json"
    settings = json.loads(cfg.read_text())
    assert settings["format_version"] == FORMAT_VERSION and settings["model"].pop("encoder_input") == "nonneg"
    cfg.write_text(json.dumps(settings | {"format_version": format_version, "model": settings["model"] | flags}))
    model = spacy.load(path).get_pipe("sparsecode").torch_model
    assert model.config.encoder_input == encoder_input


def test_pipeline_saved_in_format_3_loads_and_gives_its_codes():
    """``format3/pipeline`` was written by ``sparsecode train`` at the commit named in
    ``expected_codes.json`` (its config.cfg uses ``TopKSAE.v1`` with the flags ``encoder_input``
    replaced); the codes it gave then are the codes it gives now."""
    folder = Path(__file__).parent / "format3"
    expected = json.loads((folder / "expected_codes.json").read_text())
    nlp = spacy.load(folder / "pipeline")
    assert nlp.config["components"]["sparsecode"]["model"]["@architectures"] == "spacy-sparsecode.TopKSAE.v1"
    assert nlp.get_pipe("sparsecode").torch_model.config.encoder_input == "linear"
    for doc, code in zip(nlp.pipe(expected["texts"]), expected["codes"]):
        assert doc._.sparse_code.indices.tolist() == code["indices"]
        assert np.allclose(doc._.sparse_code.values, code["values"], rtol=0, atol=1e-6)


def _keywords_work(doc) -> bool:
    return len(doc._.keywords) == 10 and all(label is not None for _, _, label in doc._.topics)


def test_docs_find_their_model_outside_their_pipelines_vocab(trained_nlp, sample_texts):
    doc = trained_nlp(sample_texts[0])
    blank_vocab = spacy.blank("en").vocab
    restored = next(DocBin(store_user_data=True, docs=[doc]).get_docs(blank_vocab))
    assert restored.vocab is not trained_nlp.vocab and _keywords_work(restored)
    assert _keywords_work(pickle.loads(pickle.dumps(doc)))
    other = spacy.blank("en")
    other.add_pipe("sparsecode", source=trained_nlp)  # the sourced component keeps the source's vocab
    assert _keywords_work(other(sample_texts[1]))
    copy = pickle.loads(pickle.dumps(trained_nlp))
    assert _keywords_work(copy(sample_texts[2]))


def test_doc_whose_model_is_not_loaded_says_so(trained_nlp, sample_texts):
    doc = trained_nlp(sample_texts[0])
    doc.user_data["sparsecode.model"] = "0" * 16
    assert all(label is None for _, _, label in doc._.topics)
    with pytest.raises(ValueError, match="E408.*0000000000000000"):
        doc._.keywords


def test_codes_use_stored_codes_only_from_this_model(trained_nlp, make_pipeline, sample_texts):
    component = trained_nlp.get_pipe("sparsecode")
    other = make_pipeline(sample_texts[:60], n_latents=16, k=2, epochs=2, seed=1)
    foreign = other(sample_texts[0])  # a code of another model (another size)
    assert component.codes([foreign]).dim == component.torch_model.config.n_latents
    own = trained_nlp(sample_texts[0])
    assert np.array_equal(component.codes([own]).to_dense(), component.codes([foreign]).to_dense())


def test_code_vectors_drive_doc_and_span_similarity(make_pipeline, sample_texts):
    plain = make_pipeline(sample_texts, epochs=4)
    assert not plain(sample_texts[0]).has_vector  # off by default: a blank pipeline has no vectors
    nlp = spacy.blank("en")
    coder = nlp.add_pipe("sparsecode", source=plain)
    coder.code_vectors = True
    assert nlp.config["components"]["sparsecode"]["code_vectors"] is False  # the factory option for new pipelines
    a, b = nlp(sample_texts[0]), nlp(sample_texts[1])
    assert a.has_vector and np.array_equal(a.vector, a._.sparse_code.to_dense())
    expected = a.vector @ b.vector / (np.linalg.norm(a.vector) * np.linalg.norm(b.vector))
    assert a.similarity(b) == pytest.approx(float(expected))
    span = a[0:8]
    assert np.array_equal(span.vector, span._.sparse_code.to_dense()) and -1e-6 <= span.similarity(a) <= 1 + 1e-6
    assert pickle.loads(pickle.dumps(a)).similarity(b) == pytest.approx(a.similarity(b))
    other = make_pipeline(sample_texts[:60], n_latents=16, k=2, epochs=2, seed=1)
    other.get_pipe("sparsecode").code_vectors = True
    with pytest.raises(ValueError, match="E413"):
        a.similarity(other(sample_texts[2]))


def test_code_vectors_is_a_factory_option(sample_texts):
    nlp = spacy.blank("en")
    coder = nlp.add_pipe("sparsecode", config={"code_vectors": True, "model": {"n_latents": 16, "k": 2}})
    assert coder.code_vectors
