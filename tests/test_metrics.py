from itertools import combinations
from math import log

import numpy as np
import pytest
import scipy.sparse as sp

from spacy_sparsecode.metrics import (cluster_nmi, dead_share, mean_l0, npmi, perplexity, probe_accuracy,
                                      reconstruction_error, top_words, topic_diversity, topic_report)

# columns: 0 in docs {0,1,2}; 1 in {0,1}; 2 in {2,3}; 3 in {0,1}; 4 never; 5 and 6 in all docs
TOY = sp.csr_matrix(
    np.array(
        [
            [1, 2, 0, 1, 0, 1, 1],
            [3, 1, 0, 1, 0, 1, 1],
            [1, 0, 1, 0, 0, 1, 1],
            [0, 0, 2, 0, 0, 1, 1],
        ],
        dtype=np.float32,
    )
)


def naive_npmi(topic_words: np.ndarray, reference: sp.spmatrix) -> np.ndarray:
    binary = reference.toarray() != 0
    n_docs = binary.shape[0]
    means = []
    for words in topic_words:
        scores = []
        for i, j in combinations(words, 2):
            p_i, p_j = binary[:, i].mean(), binary[:, j].mean()
            p_ij = (binary[:, i] & binary[:, j]).sum() / n_docs
            if p_ij == 0:
                scores.append(-1.0)
            elif p_ij == 1:
                scores.append(1.0)
            else:
                scores.append(log(p_ij / (p_i * p_j)) / -log(p_ij))
        means.append(np.mean(scores))
    return np.array(means)


def test_npmi_hand_computed():
    expected_01 = log(0.5 / (0.75 * 0.5)) / log(2)
    expected_02 = log(0.25 / (0.75 * 0.5)) / log(4)
    result = npmi(np.array([[0, 1, 2], [0, 1, 1]]), TOY)
    assert result[0] == pytest.approx((expected_01 + expected_02 - 1.0) / 3)
    assert result[1] == pytest.approx((expected_01 + expected_01 + 1.0) / 3)


def test_npmi_extremes():
    assert npmi(np.array([[1, 2]]), TOY)[0] == -1.0  # never together
    assert npmi(np.array([[0, 4]]), TOY)[0] == -1.0  # word 4 absent
    assert npmi(np.array([[1, 3]]), TOY)[0] == pytest.approx(1.0)  # always together
    assert npmi(np.array([[5, 6]]), TOY)[0] == pytest.approx(1.0)  # in every document


def test_npmi_matches_naive_loop():
    rng = np.random.default_rng(0)
    dense = sp.random(40, 30, density=0.15, random_state=1).toarray()
    dense[:, 7] = 0  # one word that never occurs
    dense[:, 11] = 1  # one word in every document
    reference = sp.csr_matrix(dense)
    words = np.stack([rng.choice(30, size=6, replace=False) for _ in range(12)])
    words[0, :2] = [7, 11]
    np.testing.assert_allclose(npmi(words, reference), naive_npmi(words, reference))
    np.testing.assert_allclose(npmi(words, reference.tocsc()), naive_npmi(words, reference))


def test_top_words_descending():
    weights = np.array([[0.1, 0.9, 0.5, 0.7], [4.0, 3.0, 2.0, 1.0]])
    np.testing.assert_array_equal(top_words(weights, 3), [[1, 3, 2], [0, 1, 2]])


def test_topic_diversity():
    assert topic_diversity(np.array([[0, 1], [2, 3]])) == 1.0
    assert topic_diversity(np.array([[0, 1], [0, 1], [0, 1]])) == pytest.approx(1 / 3)


def test_l0_and_dead_share():
    codes = sp.csr_matrix(np.array([[1.0, 0, 2, 0], [0, 0, 3, 0], [0, 0, 0, 0]]))
    assert mean_l0(codes) == pytest.approx(1.0)
    assert dead_share(codes) == pytest.approx(0.5)


def test_probe_accuracy():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=300)
    features = np.eye(3)[labels] * 5 + rng.random((300, 3))
    codes = sp.csr_matrix(features)
    assert probe_accuracy(codes[:200], labels[:200], codes[200:], labels[200:]) > 0.98
    noise = rng.random((300, 20))
    assert probe_accuracy(noise[:200], labels[:200], noise[200:], labels[200:]) < 0.55


def test_cluster_nmi():
    codes = sp.csr_matrix(
        np.array([[0.0, 0, 0, 2], [0, 0.1, 0, 3], [0, 5, 0, 0], [-4, 1, 0, 0], [0, 0, 0, 0]])
    )
    assert cluster_nmi(codes, ["a", "a", "b", "b", "c"]) == pytest.approx(1.0)
    assert cluster_nmi(codes, [0, 1, 0, 1, 0]) < 0.5


def test_reconstruction_and_perplexity():
    x_true = sp.csr_matrix(np.array([[1.0, 0], [0, 2]]))
    assert reconstruction_error(x_true, np.array([[1.0, 0.5], [0, 1]])) == pytest.approx(0.25)
    assert reconstruction_error(x_true, x_true.toarray()) == 0.0
    assert perplexity(5 * log(10), 5) == pytest.approx(10.0)


def test_topic_report():
    weights = np.zeros((3, 7))
    weights[0, [0, 1, 3]] = [3, 2, 1]
    weights[1, [5, 6]] = [1, 2]  # row 2 is dead and still counts
    report = topic_report(weights, TOY, top_n=2, td_top_n=3)
    expected = npmi(top_words(weights, 2), TOY).mean()
    td = np.unique(top_words(weights, 3)).size / 9  # the dead row's 3 tied words count too
    assert report == {"npmi_heldout": pytest.approx(expected), "npmi_train": None, "td": td, "n_topics": 3}
    assert topic_report(weights, TOY, TOY, top_n=2, td_top_n=3)["npmi_train"] == pytest.approx(expected)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: npmi(np.array([[0, 7]]), TOY), "topic_words"),
        (lambda: npmi(np.array([[0]]), TOY), "topic_words"),
        (lambda: top_words(np.ones((2, 3)), 4), "top_n"),
        (lambda: cluster_nmi(TOY, [0, 1]), "labels"),
        (lambda: probe_accuracy(TOY, [0, 1, 0], TOY, [0, 1, 0, 1]), "y_train"),
        (lambda: reconstruction_error(TOY, np.ones((4, 6))), "x_pred"),
        (lambda: reconstruction_error(sp.csr_matrix((2, 2)), np.ones((2, 2))), "x_true"),
        (lambda: perplexity(1.0, 0), "n_words"),
        (lambda: topic_report(np.ones((2, 7)), TOY, top_n=2), "td_top_n"),
        (lambda: topic_report(np.ones((2, 5)), TOY, top_n=2, td_top_n=3), "reference_heldout"),
        (lambda: topic_report(np.ones((2, 7)), TOY, TOY[:, :5], 2, 3), "reference_train"),
    ],
)
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_latent_diagnostics_per_latent():
    from spacy_sparsecode.metrics import latent_diagnostics

    # latent 0 leads with words 0, 1 (together in documents 0 and 1); latent 1 with words 2, 3 (never together)
    weights = np.array([[0.9, 0.8, 0.1, 0.0], [0.0, 0.1, 0.9, 0.8]])
    reference = sp.csr_matrix(np.array([[1, 1, 0, 0], [2, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float32))
    codes = sp.csr_matrix(np.array([[0.5, 0.0], [0.3, 0.2], [0.0, 0.4], [0.0, 0.0]], dtype=np.float32))
    out = latent_diagnostics(weights, codes, reference, train_df=[40, 30, 2, 1], top_n=2)
    assert out["supported"].tolist() == [True, False]
    assert out["npmi"][1] == -1.0 and out["npmi"][0] > 0
    assert out["docs_served"].tolist() == [2, 2]
    assert out["top_df_median"].tolist() == [35.0, 1.5]
    with pytest.raises(ValueError, match="train_df"):
        latent_diagnostics(weights, codes, reference, train_df=[1, 2], top_n=2)
