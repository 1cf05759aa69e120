"""tasks.generate: SAE steering, sparsity, sentence retrieval, and the no-sampler error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spacy_sparsecode import fit_component
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
    codes = component.codes([trained_nlp(sample_texts[0])])
    import scipy.sparse as sp

    from spacy_sparsecode.codes import SparseCodes
    steered = steer(code, on=[latent])
    both = SparseCodes(sp.vstack([codes.matrix, sp.csr_matrix(steered.to_dense()[None])]))
    out = describe(component.torch_model, both, component.bow_vocab.strings, index)
    assert len(out) == 2 and out[0]["keywords"] and len(out[0]["sentences"]) == 3
    assert out[0]["bag"] != out[1]["bag"]
    assert all(s in [x.text for x in sents] for s in out[1]["sentences"])


# --- VAE: near a document's posterior and interpolation through the posterior --------------

@pytest.fixture(scope="module")
def vae_nlp(sample_texts):
    import spacy

    from spacy_sparsecode.models.trainer import TrainConfig

    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode", config={"model": {"@architectures": "spacy-sparsecode.LogisticNormalVAE.v1",
                                                             "n_latents": 16, "k": 4, "code_threshold": 0.05, "seed": 0}})
    fit_component(component, [nlp.make_doc(t) for t in sample_texts], TrainConfig(epochs=8, batch_size=16, seed=0), progress=False)
    return nlp


def _vae_rows(vae_nlp, sample_texts):
    component = vae_nlp.get_pipe("sparsecode")
    X = component.featurize(vae_nlp.make_doc(t) for t in sample_texts[:10])
    return component.torch_model, X


def test_near_at_temperature_zero_is_the_documents_code(vae_nlp, sample_texts):
    from spacy_sparsecode.tasks.generate import near

    model, X = _vae_rows(vae_nlp, sample_texts)
    own = model.encode(X[:1]).to_dense()
    codes = near(model, X[0], temperature=0.0, n=3)
    assert len(codes) == 3 and np.allclose(codes.to_dense(), np.repeat(own, 3, axis=0), atol=1e-6)


def test_near_spreads_with_temperature_and_keeps_sparsity(vae_nlp, sample_texts):
    from spacy_sparsecode.tasks.generate import near

    model, X = _vae_rows(vae_nlp, sample_texts)
    own = model.encode(X[:1]).to_dense()[0]
    spread = {}
    for temperature in (0.3, 3.0):
        codes = near(model, X[0], temperature=temperature, n=40, seed=1)
        assert codes.l0.max() <= model.config.k and codes.l0.min() >= 1
        spread[temperature] = float(np.abs(codes.to_dense() - own).sum(axis=1).mean())
    assert 0 < spread[0.3] < spread[3.0]
    again = near(model, X[0], temperature=0.3, n=40, seed=1)
    assert np.array_equal(again.to_dense(), near(model, X[0], temperature=0.3, n=40, seed=1).to_dense())
    matched = near(model, X[:2], temperature=1.0, n=30, seed=0, real_l0=np.array([1]))
    assert len(matched) == 60 and set(np.unique(matched.l0)) == {1}


def test_interpolate_through_the_posterior_ends_at_both_codes(vae_nlp, sample_texts):
    from spacy_sparsecode.tasks.generate import interpolate, interpolate_posterior

    model, X = _vae_rows(vae_nlp, sample_texts)
    ends = model.encode(X[[0, 5]]).to_dense()
    path = interpolate(X[0], X[5], 5, model=model)
    assert len(path) == 5 and np.allclose(path.to_dense()[[0, -1]], ends, atol=1e-6)
    assert np.array_equal(path.to_dense(), interpolate_posterior(model, X[0], X[5], 5).to_dense())
    middle = path.to_dense()[2]
    assert not np.allclose(middle, ends[0]) and not np.allclose(middle, ends[1])


def test_interpolate_rows_with_an_sae_walks_in_code_space(trained_nlp, sample_texts):
    component = trained_nlp.get_pipe("sparsecode")
    X = component.featurize(trained_nlp.make_doc(t) for t in sample_texts[:2])
    path = interpolate(X[0], X[1], 3, model=component.torch_model)
    ends = component.torch_model.encode(X)
    assert np.allclose(path[0].to_dense(), ends[0].to_dense()) and np.allclose(path[2].to_dense(), ends[1].to_dense())


def test_near_bad_input(vae_nlp, trained_nlp, sample_texts):
    import scipy.sparse as sp

    from spacy_sparsecode.tasks.generate import near

    model, X = _vae_rows(vae_nlp, sample_texts)
    with pytest.raises(ValueError, match="needs a model that can sample.*'topk'"):
        near(trained_nlp.get_pipe("sparsecode").torch_model, X[0])
    with pytest.raises(ValueError, match="'temperature' must be a finite float >= 0"):
        near(model, X[0], temperature=-1.0)
    with pytest.raises(ValueError, match="no words in the model's vocabulary"):
        near(model, sp.csr_matrix((1, X.shape[1]), dtype=np.float32))
    with pytest.raises(ValueError, match="'steps' must be an int >= 2"):
        interpolate(X[0], X[1], 1, model=model)


def test_sample_matches_real_l0_beyond_the_models_own_rule(vae_nlp):
    model = vae_nlp.get_pipe("sparsecode").torch_model
    wide = min(model.config.n_latents, model.config.k + 3)
    codes = sample(model, 50, np.array([1, wide]), seed=0)
    assert set(np.unique(codes.l0)) == {1, wide}  # more latents than the code rule's k where the real L0 says so


def test_nucleus_sample_keeps_lengths_and_the_nucleus():
    from spacy_sparsecode.tasks.generate import nucleus_sample

    probs = np.array([[0.5, 0.3, 0.15, 0.05], [0.0, 0.0, 1.0, 0.0]])
    bags = nucleus_sample(probs, [40, 7, 0], top_p=0.8, seed=3)
    assert bags.shape == (3, 4) and np.asarray(bags.sum(axis=1)).ravel().tolist() == [40, 7, 0]
    assert set(bags[0].indices) <= {0, 1} and bags[1].indices.tolist() == [2]  # 0.5 + 0.3 holds 80% of the mass
    with pytest.raises(ValueError, match="'top_p' must be a float in \\(0, 1\\]"):
        nucleus_sample(probs, [5], top_p=0.0)


def test_sample_bags_draws_from_the_codes_words(vae_nlp):
    from spacy_sparsecode.tasks.generate import generative_distribution, sample_bags

    model = vae_nlp.get_pipe("sparsecode").torch_model
    codes = sample(model, 4, np.array([2]), seed=1)
    bags = sample_bags(model, codes, [30, 30, 30, 30], top_p=0.5, seed=0)
    probs = generative_distribution(model, codes)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)  # the VAE's p(w | code), background words included
    for row, bag in zip(probs, bags):
        order = np.argsort(-row, kind="stable")
        nucleus = order[: int(np.searchsorted(np.cumsum(row[order]) / row.sum(), 0.5)) + 1]
        assert bag.sum() == 30 and set(bag.indices) <= set(nucleus.tolist())


def test_format_2_vae_loads_without_the_ex_post_prior(vae_nlp, tmp_path):
    import spacy

    from spacy_sparsecode.io import load_tensors, save_tensors

    vae_nlp.to_disk(tmp_path / "nlp")
    folder = tmp_path / "nlp" / "sparsecode"
    assert vae_nlp.get_pipe("sparsecode").torch_model.has_fitted_prior
    settings = json.loads((folder / "cfg.json").read_text())
    settings["model"].pop("prior_components", None)
    (folder / "cfg.json").write_text(json.dumps(settings | {"format_version": 2}))
    tensors = {k: v for k, v in load_tensors(folder / "model.safetensors").items() if not k.startswith("mixture_")}
    save_tensors(folder / "model.safetensors", tensors)  # format 2 had no mixture buffers
    model = spacy.load(tmp_path / "nlp").get_pipe("sparsecode").torch_model
    assert model.config.prior_components == 0 and not model.has_fitted_prior
    assert model.sample(3).matrix.shape[0] == 3


def test_ensure_prior_fits_an_unfitted_vae_and_leaves_others(vae_nlp, trained_nlp, sample_texts):
    from spacy_sparsecode.tasks.generate import ensure_prior

    model, X = _vae_rows(vae_nlp, sample_texts)
    fitted = model.mixture_means.clone()
    model.mixture_weights.zero_()  # as after `spacy train`: no finish_fit
    assert ensure_prior(model, X) and model.has_fitted_prior
    assert not ensure_prior(model, X)  # already fitted: left alone
    assert model.mixture_means.shape == fitted.shape
    sae = trained_nlp.get_pipe("sparsecode")
    assert not ensure_prior(sae.torch_model, sae.featurize([trained_nlp.make_doc(sample_texts[0])]))
