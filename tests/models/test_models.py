"""Model families: training, sparsity, empty rows, save/load, validation, VAE sampling, denoising,
the non-SGD trainer hook and the NaN guard. Small synthetic CSR matrices; fast on CPU."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
import pytest
import scipy.sparse as sp
import spacy
import torch

import spacy_sparsecode.models.sae as sae_module
from spacy_sparsecode.codes import SparseCodes
from spacy_sparsecode.io import load_tensors, save_tensors
from spacy_sparsecode.models import ENCODER_INPUTS, MODEL_FAMILIES, CsrBatch, build_model
from spacy_sparsecode.models.trainer import TrainConfig, Trainer, TrainingError
from spacy_sparsecode.tasks.topics import restored_words

N_TOPICS, WORDS_PER_TOPIC = 4, 10
V = N_TOPICS * WORDS_PER_TOPIC
EMPTY_ROWS = (3, 11)

#: Small settings per family: K=8 latents, k=3 active.
SMALL: Dict[str, Dict[str, Any]] = {
    "topk": {},
    "l1": {"l1_coef": 0.001},
    "kl": {"rho": 0.2, "beta": 0.05},
    "threshold": {"threshold_init": 0.05, "l0_coef": 0.001},
    "gaussian": {"hidden": 16, "kl_anneal_steps": 20},
    "logistic_normal": {"hidden": 16},
    "dictionary": {"alpha": 0.01},
}


def topic_matrix(n_docs: int = 96, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    """Counts from 4 disjoint 10-word topics (6 words per doc, one noise word); two empty rows."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(N_TOPICS, size=n_docs)
    dense = np.zeros((n_docs, V), dtype=np.float32)
    for i, topic in enumerate(labels):
        words = rng.choice(WORDS_PER_TOPIC, size=6, replace=False) + topic * WORDS_PER_TOPIC
        dense[i, words] = rng.integers(1, 4, size=6)
        dense[i, rng.integers(V)] += 1
    dense[list(EMPTY_ROWS)] = 0
    return sp.csr_matrix(dense), labels


@pytest.fixture(scope="module")
def data() -> tuple[sp.csr_matrix, np.ndarray]:
    return topic_matrix()


def small_model(family: str, **overrides: Any):
    idf = np.linspace(1.0, 2.0, V).astype(np.float32)
    return build_model(family, {"n_latents": 8, "k": 3, **SMALL[family], **overrides}, V, idf)


def eval_loss(model, matrix: sp.csr_matrix) -> float:
    """The reconstruction part of the loss (MSE or NLL) in eval mode: comparable across KL weights."""
    model.eval()
    with torch.no_grad():
        rows = matrix[np.diff(matrix.indptr) > 0]
        parts = model.loss(CsrBatch.from_csr(rows)).parts
    model.train()
    return float(parts["nll"] if "nll" in parts else parts["recon"])


@pytest.fixture(scope="module")
def trained(data) -> Dict[str, Any]:
    """One model per family, trained briefly on the topic matrix (shared by the tests below)."""
    matrix, _ = data
    models = {}
    for family in MODEL_FAMILIES:
        torch.manual_seed(0)
        model = small_model(family)
        before = eval_loss(model, matrix)
        history = Trainer(model, TrainConfig(lr=0.02, batch_size=16, epochs=8, seed=0), progress=False).fit(matrix)
        models[family] = (model, before, eval_loss(model, matrix), history)
    return models


@pytest.mark.parametrize("family", list(MODEL_FAMILIES))
def test_training_lowers_the_loss(trained, family):
    model, before, after, history = trained[family]
    assert np.isfinite(after)
    assert after < before
    assert history and all(np.isfinite(h["loss"]) for h in history)


@pytest.mark.parametrize("family", list(MODEL_FAMILIES))
def test_codes_are_k_sparse_and_empty_rows_empty(trained, data, family):
    model, *_ = trained[family]
    matrix, _ = data
    codes = model.encode(matrix, batch_size=40)
    assert codes.matrix.shape == (matrix.shape[0], 8)
    assert codes.l0.max() <= 3
    assert all(codes.l0[i] == 0 for i in EMPTY_ROWS)
    assert codes.l0[[i for i in range(matrix.shape[0]) if i not in EMPTY_ROWS]].mean() > 0.5


@pytest.mark.parametrize("family", list(MODEL_FAMILIES))
def test_codes_separate_the_topics(trained, data, family):
    model, *_ = trained[family]
    matrix, labels = data
    keep = np.diff(matrix.indptr) > 0
    top = model.encode(matrix[keep]).to_dense().argmax(axis=1)
    # the most active latent of a doc tells its topic far better than chance (0.25)
    purity = sum(np.bincount(labels[keep][top == j]).max() for j in np.unique(top)) / keep.sum()
    assert purity > 0.6


@pytest.mark.parametrize("family", list(MODEL_FAMILIES))
def test_weights_round_trip_gives_identical_codes(trained, data, family, tmp_path):
    model, *_ = trained[family]
    matrix, _ = data
    save_tensors(tmp_path / "model.safetensors", model.weight_tensors())
    fresh = small_model(family, seed=1)
    fresh.load_state_dict(load_tensors(tmp_path / "model.safetensors"))
    a, b = model.encode(matrix), fresh.encode(matrix)
    assert (a.matrix != b.matrix).nnz == 0
    np.testing.assert_array_equal(model.topic_word_weights().numpy(), fresh.topic_word_weights().numpy())


@pytest.mark.parametrize("family", list(MODEL_FAMILIES))
def test_topic_word_weights_are_non_negative(trained, family):
    weights = trained[family][0].topic_word_weights()
    assert weights.shape == (8, V) and bool((weights >= 0).all())


@pytest.mark.parametrize(
    "family,field,value",
    [
        ("topk", "k", 9),
        ("topk", "denoise_rate", 1.0),
        ("l1", "l1_coef", -0.1),
        ("l1", "denoise_rate", -0.2),
        ("kl", "rho", 1.0),
        ("kl", "rho", 0.0),
        ("kl", "beta", -1.0),
        ("kl", "activation", "tanh"),
        ("threshold", "l0_coef", -1.0),
        ("threshold", "threshold_init", 0.0),
        ("gaussian", "beta", -0.5),
        ("gaussian", "dropout", 1.0),
        ("gaussian", "kl_anneal_steps", -1),
        ("logistic_normal", "dropout", -0.1),
        ("logistic_normal", "alpha", 0.0),
        ("logistic_normal", "k", 20),
        ("dictionary", "method", "pca"),
        ("dictionary", "coding", "lars"),
        ("dictionary", "alpha", 0.0),
        ("dictionary", "n_latents", 0),
    ],
)
def test_invalid_config_names_the_field(family, field, value):
    with pytest.raises(ValueError, match=field):
        build_model(family, {"n_latents": 8, "k": 3, field: value}, V)


def test_unknown_field_and_family_list_the_valid_ones():
    with pytest.raises(ValueError, match="rho.*valid|Valid values: .*rho"):
        build_model("kl", {"n_latents": 8, "k": 3, "rhoo": 0.1}, V)
    with pytest.raises(ValueError) as err:
        build_model("lda", {}, V)
    for family in MODEL_FAMILIES:
        assert family in str(err.value)


@pytest.mark.parametrize("family", ["gaussian", "logistic_normal"])
def test_vae_sample_shapes_sparsity_and_reproducibility(trained, family):
    model, *_ = trained[family]
    codes = model.sample(7, torch.Generator().manual_seed(3))
    assert isinstance(codes, SparseCodes)
    assert codes.matrix.shape == (7, 8)
    assert codes.l0.max() <= 3 and codes.l0.min() >= 1
    assert (codes.matrix.data > 0).all() and (codes.matrix.data <= 1).all()
    again = model.sample(7, torch.Generator().manual_seed(3))
    np.testing.assert_array_equal(codes.to_dense(), again.to_dense())
    probs = model.word_distribution(codes)
    assert probs.shape == (7, V)
    np.testing.assert_allclose(probs.sum(dim=1).numpy(), 1.0, rtol=1e-5)
    assert model.sample(0).matrix.shape == (0, 8)


@pytest.mark.parametrize("family", ["gaussian", "logistic_normal"])
def test_vae_ex_post_prior_is_fitted_on_the_posterior_means(trained, data, family):
    model, *_ = trained[family]
    assert model.has_fitted_prior  # the trainer's finish_fit fitted it
    weights, means = model.mixture_weights.numpy(), model.mixture_means.numpy()
    assert weights.sum() == pytest.approx(1.0, abs=1e-5) and (weights >= 0).all()
    model.eval()
    rows = data[0][np.diff(data[0].indptr) > 0]
    with torch.no_grad():
        mu = model.posterior(CsrBatch.from_csr(rows))[0].numpy()
    # EM keeps the mixture's overall mean at the data mean; the trainer fits on all rows here
    np.testing.assert_allclose(weights @ means, mu.mean(axis=0), atol=1e-3)


def test_vae_samples_come_from_the_ex_post_prior():
    model = small_model("gaussian")
    assert not model.has_fitted_prior  # untrained: draws come from the training prior
    model.mixture_weights.zero_()
    model.mixture_weights[2] = 1.0  # one component, centred on latent 5, tight
    model.mixture_means[2] = torch.tensor([0.0] * 5 + [6.0] + [0.0] * 2)
    model.mixture_vars[2] = 0.01
    mixtures = model.sample_mixture(50, torch.Generator().manual_seed(0))
    assert (mixtures.argmax(dim=1) == 5).all() and (mixtures[:, 5] > 0.9).all()
    model.mixture_weights.zero_()
    assert not (model.sample_mixture(50, torch.Generator().manual_seed(0)).argmax(dim=1) == 5).all()


def test_vae_without_prior_components_samples_the_training_prior(data):
    model = small_model("gaussian", prior_components=0)
    Trainer(model, TrainConfig(lr=0.02, batch_size=16, epochs=1, seed=0), progress=False).fit(data[0])
    assert not model.has_fitted_prior and "mixture_weights" not in dict(model.named_buffers())
    assert model.sample(4).matrix.shape == (4, 8)
    with pytest.raises(ValueError, match="prior_components"):
        small_model("gaussian", prior_components=-1)


def test_vae_ex_post_prior_is_saved_with_the_weights(trained, tmp_path):
    model, *_ = trained["logistic_normal"]
    save_tensors(tmp_path / "m.safetensors", model.weight_tensors())
    fresh = small_model("logistic_normal")
    fresh.load_state_dict(load_tensors(tmp_path / "m.safetensors"))
    assert fresh.has_fitted_prior
    np.testing.assert_array_equal(fresh.mixture_means.numpy(), model.mixture_means.numpy())


def test_vae_code_threshold_drops_small_proportions(trained, data):
    model, *_ = trained["logistic_normal"]
    strict = small_model("logistic_normal", code_threshold=0.3)
    strict.load_state_dict(model.state_dict())
    loose, tight = model.encode(data[0]), strict.encode(data[0])
    assert tight.l0.sum() < loose.l0.sum()
    assert (tight.matrix.data >= 0.3).all()


def test_vae_kl_annealing_uses_the_step_counter(trained):
    model, *_ = trained["gaussian"]
    assert int(model.steps) == 8 * 6  # 8 epochs x ceil(94 docs / 16)
    assert model.kl_weight() == pytest.approx(1.0)
    fresh = small_model("gaussian")
    assert fresh.kl_weight() == 0.0
    fresh.steps.fill_(5)
    assert fresh.kl_weight() == pytest.approx(5 / 20)


def test_vae_nll_gives_a_finite_perplexity(trained, data):
    from spacy_sparsecode.metrics import perplexity

    model, *_ = trained["logistic_normal"]
    rows = data[0][np.diff(data[0].indptr) > 0]
    batch = CsrBatch.from_csr(rows)
    value = perplexity(float(model.nll(batch).sum()), float(batch.values.sum()))
    assert 1.0 < value < V * 2


def test_denoising_restores_words_of_the_right_topic(data):
    matrix, labels = topic_matrix(n_docs=200, seed=1)
    torch.manual_seed(0)
    model = small_model("topk", denoise_rate=0.3, n_latents=8, k=2)
    Trainer(model, TrainConfig(lr=0.02, batch_size=16, epochs=10, seed=0), progress=False).fit(matrix)
    partial = matrix.copy().tolil()
    for i in range(partial.shape[0]):  # keep only the first two words of each document
        cols = partial.rows[i]
        for j in cols[2:]:
            partial[i, j] = 0
    partial = sp.csr_matrix(partial)
    partial.eliminate_zeros()
    ids, scores = model.denoise(partial, top_n=3)
    assert ids.shape == scores.shape == (200, 3)
    present = partial.toarray() > 0
    rows = [i for i in range(200) if i not in EMPTY_ROWS and partial[i].nnz]
    assert all(not present[i, ids[i]].any() for i in rows)
    same_topic = np.mean([(ids[i] // WORDS_PER_TOPIC == labels[i]).mean() for i in rows])
    assert same_topic > 0.7
    assert (ids[list(EMPTY_ROWS)] == -1).all()
    with_input, _ = model.denoise(partial[:5], top_n=3, only_new=False)
    assert with_input.shape == (5, 3)


def test_denoise_corruption_only_while_training():
    model = small_model("l1", denoise_rate=0.5)
    batch = CsrBatch.from_csr(topic_matrix()[0])
    noisy = model.corrupt(batch)
    assert 0 < noisy.indices.shape[0] < batch.indices.shape[0]
    assert noisy.n_rows == batch.n_rows
    np.testing.assert_array_equal(noisy.matmul(torch.eye(V)).numpy() != 0, noisy.to_dense().numpy() != 0)
    model.eval()
    assert model.corrupt(batch) is batch


def test_gram_and_dense_squared_error_agree_with_auxk(monkeypatch, data):
    batch = CsrBatch.from_csr(data[0][:2])  # 2 docs fire at most 6 of 8 latents: AuxK is on
    results = []
    for weight in (0, 10**9):  # 0: always the dense (B, V) residual; huge: always the Gram path
        monkeypatch.setattr(sae_module, "_DENSE_COST_WEIGHT", weight)
        model = small_model("topk", aux_k=4, dead_after_docs=1)
        with torch.no_grad():
            model.b_dec.uniform_(0, 0.05, generator=torch.Generator().manual_seed(0))
            model.b_enc.fill_(0.5)
        model.docs_since_fired.fill_(10)
        parts = model.loss(batch)
        parts.total.sum().backward()
        assert "aux" in parts.parts
        results.append([parts.total.detach()] + [p.grad.clone() for p in (model.W_dec, model.W_enc, model.b_dec)])
    for dense, gram in zip(*results):
        torch.testing.assert_close(dense, gram, rtol=1e-4, atol=1e-5)


def test_sparse_batch_product_has_the_dense_gradient(data):
    matrix = data[0][:5]
    weight = torch.rand(V, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    upstream = torch.rand(5, 3, generator=torch.Generator().manual_seed(1))
    (CsrBatch.from_csr(matrix).matmul(weight) * upstream).sum().backward()
    expected = torch.from_numpy(matrix.T.toarray()).float() @ upstream
    torch.testing.assert_close(weight.grad, expected)


def test_min_steps_adds_epochs_on_a_small_corpus(data):
    matrix = data[0][:48]  # 3 batches of 16 per epoch
    config = TrainConfig(lr=0.02, batch_size=16, epochs=2, min_steps=10, seed=0)
    assert config.n_epochs(3) == 4 and config.n_epochs(20) == 2
    history = Trainer(small_model("topk"), config, progress=False).fit(matrix)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="min_steps"):
        TrainConfig(min_steps=-1)


def test_decoder_topic_constraints_limit_the_latents_of_each_word():
    model = small_model("topk", latents_per_word=2, exclusivity=0.5)
    with torch.no_grad():
        model.W_dec.copy_(torch.rand(8, V, generator=torch.Generator().manual_seed(0)))
        model.post_step(constrain=False)  # projections only: non-negative unit-norm rows
        free = model.W_dec.clone()
        model.post_step()
    weights = model.W_dec
    assert bool((free > 0).all()) and torch.allclose(free.norm(dim=1), torch.ones(8))
    assert int((weights > 0).sum(dim=0).max()) <= 2  # latents_per_word
    raw = free * (free >= free.topk(2, dim=0).values[-1:])  # the two largest per word, before renormalising
    kept = raw >= 0.5 * raw.amax(dim=0, keepdim=True)
    assert torch.equal(weights > 0, kept & (raw > 0))  # exclusivity drops weights below half the word's largest
    assert torch.allclose(weights.norm(dim=1), torch.ones(8))
    one = small_model("topk", exclusivity=1.0)
    with torch.no_grad():
        one.W_dec.copy_(free)
        one.post_step()
    assert int((one.W_dec > 0).sum(dim=0).max()) == 1  # exclusivity 1: one latent a word
    with pytest.raises(ValueError, match="exclusivity"):
        small_model("topk", exclusivity=1.5)


@pytest.mark.parametrize("family", list(MODEL_FAMILIES))
def test_flags_are_keyword_only(family):
    model = small_model(family)
    with pytest.raises(TypeError):
        model.post_step(False)
    with pytest.raises(TypeError):
        model.denoise(sp.csr_matrix((1, V), dtype=np.float32), 3, False)
    with pytest.raises(TypeError):
        Trainer(model, TrainConfig(epochs=1), False)
    with pytest.raises(TypeError):
        Trainer(model, TrainConfig(epochs=1), progress=False).fit(sp.csr_matrix((1, V), dtype=np.float32), None)


def test_nonneg_encoder_input_gives_every_document_its_k_latents(data):
    matrix = data[0][:64]
    free = small_model("topk", encoder_input="linear")
    with torch.no_grad():
        free.b_enc.fill_(-1.0)  # a negative bias, as training learns: few latents pass the ReLU
    assert (free.encode(matrix).matrix != 0).sum(axis=1).max() < 3
    model = small_model("topk", encoder_input="nonneg")
    Trainer(model, TrainConfig(lr=0.05, batch_size=16, epochs=3, seed=0), progress=False).fit(matrix)
    assert bool((model.W_enc >= 0).all()) and bool((model.b_enc == 0).all())  # no bias, non-negative weights
    with torch.no_grad():
        model.b_enc.fill_(-1.0)  # unused: the pre-activations of a non-negative bag stay >= 0
    nnz = np.asarray((model.encode(matrix).matrix != 0).sum(axis=1)).ravel()
    words = np.diff(matrix.indptr)
    assert (nnz[words > 0] == 3).all()  # k = 3 for every document with words


@pytest.mark.parametrize("encoder_input", ENCODER_INPUTS)
def test_encoder_input_sets_what_the_encoder_sees(data, encoder_input):
    model = small_model("topk", encoder_input=encoder_input)
    with torch.no_grad():
        model.b_enc.uniform_(-1, 1)
        model.b_dec.uniform_(0, 1)
    scaled = model.scale(CsrBatch.from_csr(data[0][:8]))
    x, W = scaled.to_dense(), model.W_enc.detach()
    expected = {"linear": x @ W + model.b_enc, "centered": (x - model.b_dec) @ W + model.b_enc, "nonneg": x @ W}
    with torch.no_grad():
        assert torch.allclose(model.pre_activations(scaled), expected[encoder_input], atol=1e-5)


def test_encoder_input_defaults_and_choices():
    assert {family: small_model(family).config.encoder_input for family in ("topk", "l1", "kl", "threshold")} == \
        {"topk": "nonneg", "l1": "nonneg", "kl": "centered", "threshold": "nonneg"}
    with pytest.raises(ValueError, match="encoder_input.*linear, centered, nonneg"):
        small_model("topk", encoder_input="x")


def test_constrain_from_holds_the_constraints_off_for_a_share_of_the_steps(data, monkeypatch):
    matrix = data[0][:48]  # 3 batches of 16 per epoch, 4 epochs: 12 steps
    model = small_model("topk", exclusivity=1.0)
    calls = []
    original = type(model).post_step

    def recording_post_step(self, *, constrain: bool = True) -> None:
        calls.append(constrain)
        original(self, constrain=constrain)

    monkeypatch.setattr(type(model), "post_step", recording_post_step)
    Trainer(model, TrainConfig(lr=0.02, batch_size=16, epochs=4, constrain_from=0.5, seed=0), progress=False).fit(matrix)
    assert calls == [True] + [False] * 6 + [True] * 6  # a constrained start, then half the steps free
    assert int((model.W_dec > 0).sum(dim=0).max()) == 1
    with pytest.raises(ValueError, match="constrain_from"):
        TrainConfig(constrain_from=1.0)


def test_log1p_tfidf_scaling_is_sublinear_tf_times_idf(data):
    model = small_model("topk", scaling="log1p-tfidf")
    rows = data[0][:6]
    scaled = model.scale(CsrBatch.from_csr(rows)).to_scipy().toarray()
    expected = np.log1p(rows.toarray()) * model.idf.numpy()
    expected /= np.maximum(np.linalg.norm(expected, axis=1, keepdims=True), 1e-12)
    np.testing.assert_allclose(scaled, expected, rtol=1e-5, atol=1e-6)


def test_jumprelu_threshold_learns_through_the_straight_through_estimator(data):
    model = small_model("threshold", bandwidth=0.5)
    model.loss(CsrBatch.from_csr(data[0])).total.mean().backward()
    assert model.log_threshold.grad is not None and bool(model.log_threshold.grad.abs().sum() > 0)


def test_dictionary_is_fitted_directly_by_the_trainer(trained):
    model, _, _, history = trained["dictionary"]
    assert len(history) == 1 and "fit_seconds" in history[0]
    atoms = model.dictionary.detach()
    assert bool((atoms >= 0).all())
    torch.testing.assert_close(atoms.norm(dim=1), torch.ones(8))


def test_dictionary_omp_codes_have_k_atoms(data):
    model = small_model("dictionary", coding="omp", method="learned", epochs=2, batch_size=32)
    model.fit_direct(data[0])
    codes = model.encode(data[0])
    nonempty = np.diff(data[0].indptr) > 0
    assert (codes.l0[nonempty] == 3).all() and (codes.l0[~nonempty] == 0).all()


def test_sgd_family_refuses_fit_direct(data):
    with pytest.raises(NotImplementedError, match="E600"):
        small_model("topk").fit_direct(data[0])


def test_wrong_vocabulary_size_is_named(trained):
    model, *_ = trained["topk"]
    with pytest.raises(ValueError, match="E601"):
        model.encode(sp.csr_matrix((2, V + 1), dtype=np.float32))


def test_nan_loss_stops_training_and_keeps_the_last_good_weights(data, tmp_path):
    torch.manual_seed(0)
    model = small_model("topk")
    real_loss = model.loss
    snapshots = []

    def loss_with_nan(batch):
        snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        parts = real_loss(batch)
        if len(snapshots) == 3:  # the third step of the first epoch
            parts.total = parts.total * float("nan")
        return parts

    model.loss = loss_with_nan
    trainer = Trainer(model, TrainConfig(lr=0.02, batch_size=16, epochs=2), progress=False)
    with pytest.raises(TrainingError, match="E030"):
        trainer.fit(data[0], checkpoint_dir=tmp_path / "ckpt")
    after = model.state_dict()
    assert len(snapshots) == 3
    for name, before in snapshots[2].items():
        if name != "docs_since_fired":  # a counter, updated inside the loss
            torch.testing.assert_close(after[name], before, rtol=0, atol=0)
    assert not (snapshots[2]["W_dec"] == snapshots[0]["W_dec"]).all()  # earlier steps did train
    assert not (tmp_path / "ckpt").exists() or not any((tmp_path / "ckpt").iterdir())


ARCHITECTURES = {
    "topk": "spacy-sparsecode.TopKSAE.v2",
    "l1": "spacy-sparsecode.L1SAE.v2",
    "kl": "spacy-sparsecode.KLSAE.v2",
    "threshold": "spacy-sparsecode.ThresholdSAE.v2",
    "gaussian": "spacy-sparsecode.GaussianVAE.v1",
    "logistic_normal": "spacy-sparsecode.LogisticNormalVAE.v1",
    "dictionary": "spacy-sparsecode.Dictionary.v1",
}


def test_every_family_has_an_architecture():
    assert set(ARCHITECTURES) == set(MODEL_FAMILIES)


@pytest.mark.parametrize("family", list(ARCHITECTURES))
def test_component_trains_each_family_through_its_architecture(family, sample_texts, tmp_path):
    from spacy.training import Example

    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode", config={"model": {"@architectures": ARCHITECTURES[family], "n_latents": 8, "k": 3}})
    docs = [nlp.make_doc(text) for text in sample_texts[:60]]
    examples = [Example(doc, doc) for doc in docs]
    optimizer = nlp.initialize(lambda: examples)
    losses: Dict[str, float] = {}
    nlp.update(examples[:16], sgd=optimizer, losses=losses)
    assert np.isfinite(losses["sparsecode"])
    assert component.torch_model.family == family
    codes = [doc._.sparse_code for doc in nlp.pipe(sample_texts[:10])]
    assert all(code.nnz <= 3 for code in codes)
    restored = restored_words(component, docs[:4], top_n=5)
    assert len(restored) == 4 and all(len(words) in (0, 5) for words in restored)  # 0: an empty code
    assert all(word not in {t.lower_ for t in doc} for words, doc in zip(restored, docs) for word in words)
    nlp.to_disk(tmp_path / "nlp")
    again = spacy.load(tmp_path / "nlp")
    np.testing.assert_array_equal([c.to_dense() for c in codes],
                                  [doc._.sparse_code.to_dense() for doc in again.pipe(sample_texts[:10])])


@pytest.mark.parametrize("family", list(MODEL_FAMILIES))
def test_fit_score_is_comparable_across_families(trained, data, family):
    model, *_ = trained[family]
    fresh = small_model(family)
    assert fresh.reconstruction_fit(data[0]) < model.reconstruction_fit(data[0]) <= 1.0
    assert model.reconstruction_fit(data[0]) > 0.0


def test_trainer_zeroes_adam_moments_before_they_turn_subnormal(data):
    trainer = Trainer(small_model("topk"), TrainConfig(lr=0.02, batch_size=16, epochs=1), progress=False)
    trainer.fit(data[0][:32])
    state = next(iter(trainer.optimizer.state.values()))
    state["exp_avg"].view(-1)[:3] = torch.tensor([1e-35, -1e-31, 1e-3])
    state["exp_avg_sq"].view(-1)[0] = 1e-40  # already subnormal
    trainer._zero_tiny_moments()
    assert state["exp_avg"].view(-1)[:3].tolist() == [0.0, 0.0, pytest.approx(1e-3)]
    assert state["exp_avg_sq"].view(-1)[0] == 0


def test_checkpoint_of_another_format_is_refused(data, tmp_path):
    import json

    config = TrainConfig(lr=0.02, batch_size=16, epochs=1, seed=0)
    Trainer(small_model("gaussian"), config, progress=False).fit(data[0], checkpoint_dir=tmp_path / "ckpt")
    state = next((tmp_path / "ckpt").glob("step-*")) / "state.json"
    meta = json.loads(state.read_text())
    state.write_text(json.dumps({**meta, "format_version": 3}))
    resumed = Trainer(small_model("gaussian"), TrainConfig(lr=0.02, batch_size=16, epochs=2, seed=0), progress=False)
    with pytest.raises(ValueError, match="E032.*format version 3"):
        resumed.fit(data[0], checkpoint_dir=tmp_path / "ckpt", resume=True)
