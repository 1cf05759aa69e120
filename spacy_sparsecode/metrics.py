"""Evaluation metrics for sparse codes and their latents (numpy/scipy/sklearn only, no spaCy).

Topic quality: NPMI of each latent's top words by document co-occurrence in a reference
matrix (held-out for generalisation, training for fit), topic diversity. Code quality: L0,
dead-latent share, linear-probe accuracy, cluster NMI. Fit: reconstruction error, perplexity.
"""

from __future__ import annotations

from typing import Dict, Optional, Union

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .errors import Errors

Sparse = Union[sp.spmatrix, sp.sparray]
Features = Union[Sparse, np.ndarray]


def _rows(matrix: Sparse, name: str) -> sp.csr_array:
    """``matrix`` as a CSR array, checked to be 2-D with at least one row and column."""
    csr = sp.csr_array(matrix)
    if csr.ndim != 2 or 0 in csr.shape:
        raise ValueError(Errors.E300.format(name=name, shape=csr.shape, expected="(n_docs >= 1, n_cols >= 1)"))
    return csr


def _check_length(labels: ArrayLike, name: str, n_rows: int, other: str) -> np.ndarray:
    """``labels`` as an array, checked to have one entry per row of ``other``."""
    array = np.asarray(labels)
    if array.ndim != 1 or array.shape[0] != n_rows:
        raise ValueError(Errors.E302.format(name=name, got=array.size, other=other, expected=n_rows))
    return array


def _check_top_n(value: int, n_cols: int, name: str) -> None:
    """Raise unless ``1 <= value <= n_cols``."""
    if not 1 <= value <= n_cols:
        raise ValueError(Errors.E303.format(name=name, expected=f"in [1, {n_cols}]", value=value))


def top_words(weights: np.ndarray, top_n: int) -> np.ndarray:
    """Column ids of the ``top_n`` largest weights of each row, descending: (K, top_n) int.

    Ties (e.g. in an all-zero row) are broken arbitrarily but deterministically.
    """
    weights = np.asarray(weights)
    if weights.ndim != 2:
        raise ValueError(Errors.E300.format(name="weights", shape=weights.shape, expected="(K, V)"))
    _check_top_n(top_n, weights.shape[1], "top_n")
    candidates = np.argpartition(-weights, top_n - 1, axis=1)[:, :top_n]
    order = np.argsort(-np.take_along_axis(weights, candidates, axis=1), axis=1, kind="stable")
    return np.take_along_axis(candidates, order, axis=1)


def npmi(topic_words: np.ndarray, reference: Sparse, eps: float = 1e-12) -> np.ndarray:
    """Mean NPMI over all word pairs of each topic, from binary document co-occurrence: (K,).

    p(w) = df / N, p(wi, wj) = co-df / N, NPMI = log(p_ij / (p_i p_j)) / -log(p_ij).
    Pairs that never co-occur (including pairs with a word absent from ``reference``) score
    -1; pairs present in every document (-log p_ij < ``eps``) score 1.
    """
    words = np.asarray(topic_words)
    if words.ndim != 2 or words.shape[1] < 2 or not np.issubdtype(words.dtype, np.integer):
        raise ValueError(Errors.E300.format(name="topic_words", shape=words.shape, expected="(K, n >= 2) int"))
    docs = _rows(reference, "reference")
    n_docs, n_cols = docs.shape
    if words.min() < 0 or words.max() >= n_cols:
        bad = words.min() if words.min() < 0 else words.max()
        raise ValueError(Errors.E301.format(value=int(bad), n_cols=n_cols))
    used, local = np.unique(words, return_inverse=True)
    local = local.reshape(words.shape)
    binary = (sp.csc_array(docs)[:, used] != 0).astype(np.float64)
    co_df = (binary.T @ binary).tocsr()
    df = co_df.diagonal()
    first, second = np.triu_indices(words.shape[1], k=1)
    left, right = local[:, first], local[:, second]
    p_pair = np.asarray(co_df[left.ravel(), right.ravel()]).reshape(left.shape) / n_docs
    scores = np.full(p_pair.shape, -1.0)
    seen = p_pair > 0
    log_pair = np.log(p_pair[seen])
    pmi = log_pair - np.log(df[left[seen]] / n_docs) - np.log(df[right[seen]] / n_docs)
    scores[seen] = np.where(-log_pair < eps, 1.0, pmi / np.maximum(-log_pair, eps))
    return scores.mean(axis=1)


def topic_diversity(topic_words: np.ndarray) -> float:
    """Share of unique words among all listed words (users pass the top 25 per topic)."""
    words = np.asarray(topic_words)
    if words.size == 0:
        raise ValueError(Errors.E300.format(name="topic_words", shape=words.shape, expected="(K >= 1, n >= 1)"))
    return float(np.unique(words).size / words.size)


def mean_l0(codes: Sparse) -> float:
    """Mean number of non-zero latents per row."""
    return float((_rows(codes, "codes") != 0).sum(axis=1).mean())


def dead_share(codes: Sparse) -> float:
    """Share of latents (columns) that are zero in every row."""
    return float(((_rows(codes, "codes") != 0).sum(axis=0) == 0).mean())


def probe_accuracy(
    X_train: Features,
    y_train: ArrayLike,
    X_test: Features,
    y_test: ArrayLike,
    max_iter: int = 1000,
    seed: int = 0,
    C: float = 1.0,
) -> float:
    """Held-out accuracy of a multinomial logistic regression on max-abs scaled features."""
    y_train = _check_length(y_train, "y_train", X_train.shape[0], "X_train")
    y_test = _check_length(y_test, "y_test", X_test.shape[0], "X_test")
    from sklearn.linear_model import LogisticRegression  # scikit-learn loads lazily: it slows every import
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler

    probe = make_pipeline(MaxAbsScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed))
    probe.fit(X_train, y_train)
    return float(probe.score(X_test, y_test))


def cluster_nmi(codes: Sparse, labels: ArrayLike) -> float:
    """NMI between each row's largest active latent and ``labels`` (empty rows: cluster -1)."""
    csr = _rows(codes, "codes").copy()
    csr.sum_duplicates()
    csr.eliminate_zeros()
    labels = _check_length(labels, "labels", csr.shape[0], "codes")
    counts = np.diff(csr.indptr)
    order = np.lexsort((-csr.data, np.repeat(np.arange(csr.shape[0]), counts)))
    clusters = np.full(csr.shape[0], -1, dtype=np.int64)
    active = counts > 0
    clusters[active] = csr.indices[order[csr.indptr[:-1][active]]]
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(labels, clusters))


def reconstruction_error(x_true: Sparse, x_pred: np.ndarray) -> float:
    """Relative squared error ||x - x̂||²_F / ||x||²_F."""
    coo = _rows(x_true, "x_true").tocoo()
    residual = np.array(x_pred, dtype=np.float64)
    if residual.shape != coo.shape:
        raise ValueError(Errors.E300.format(name="x_pred", shape=residual.shape, expected=coo.shape))
    norm = float(np.sum(np.square(coo.data, dtype=np.float64)))
    if norm == 0.0:
        raise ValueError(Errors.E304)
    np.subtract.at(residual, (coo.row, coo.col), coo.data)
    return float(np.sum(np.square(residual)) / norm)


def perplexity(nll_sum: float, n_words: float) -> float:
    """exp(total negative log-likelihood / number of words)."""
    if n_words <= 0:
        raise ValueError(Errors.E303.format(name="n_words", expected="> 0", value=n_words))
    return float(np.exp(nll_sum / n_words))


def topic_report(
    weights: np.ndarray,
    reference_heldout: Sparse,
    reference_train: Optional[Sparse] = None,
    top_n: int = 10,
    td_top_n: int = 25,
) -> Dict[str, Optional[float]]:
    """Mean NPMI of each latent's ``top_n`` words (held-out, train) and TD of its ``td_top_n``.

    Dead latents (all-zero decoder rows) are scored like the others, not skipped: they are
    part of the model, and their arbitrary tied words usually lower both NPMI and TD.
    """
    words = top_words(weights, top_n)
    n_topics, n_cols = np.shape(weights)
    _check_top_n(td_top_n, n_cols, "td_top_n")
    references = {"reference_heldout": reference_heldout, "reference_train": reference_train}
    for name, reference in references.items():
        if reference is not None and (reference.ndim != 2 or reference.shape[1] != n_cols):
            expected = f"(n_docs, {n_cols}) like 'weights'"
            raise ValueError(Errors.E300.format(name=name, shape=reference.shape, expected=expected))
    return {
        "npmi_heldout": float(npmi(words, reference_heldout).mean()),
        "npmi_train": None if reference_train is None else float(npmi(words, reference_train).mean()),
        "td": topic_diversity(top_words(weights, td_top_n)),
        "n_topics": n_topics,
    }


def latent_diagnostics(
    weights: np.ndarray,
    codes: Sparse,
    reference: Sparse,
    train_df: ArrayLike,
    top_n: int = 10,
) -> Dict[str, np.ndarray]:
    """Per latent: what users can check of its top words (each array has one entry per latent).

    ``npmi``: mean NPMI of its ``top_n`` words in ``reference`` (held-out bags); ``supported``:
    whether some reference document holds at least two of them (else no pair co-occurs and its
    NPMI is -1); ``docs_served``: rows of ``codes`` (the reference documents' codes) where the
    latent is active; ``top_df_median``: the median training document frequency ``train_df`` of
    its top words (a latent led by words of a handful of documents has a small one).
    """
    words = top_words(weights, top_n)
    docs = _rows(reference, "reference")
    n_topics, n_cols = np.shape(weights)
    if docs.shape[1] != n_cols:
        raise ValueError(Errors.E300.format(name="reference", shape=docs.shape, expected=f"(n_docs, {n_cols}) like 'weights'"))
    active = _rows(codes, "codes")
    if active.shape[1] != n_topics:
        raise ValueError(Errors.E300.format(name="codes", shape=active.shape, expected=f"(n_docs, {n_topics}) like 'weights'"))
    df = np.asarray(train_df, dtype=np.float64)
    if df.shape != (n_cols,):
        raise ValueError(Errors.E300.format(name="train_df", shape=df.shape, expected=f"({n_cols},)"))
    binary = (sp.csc_array(docs) != 0).astype(np.float64)
    hits = np.stack([np.asarray(binary[:, row].sum(axis=1)).ravel() for row in words], axis=1)  # (n_docs, K)
    return {
        "npmi": npmi(words, docs),
        "supported": (hits >= 2).any(axis=0),
        "docs_served": np.asarray((active != 0).sum(axis=0)).ravel(),
        "top_df_median": np.median(df[words], axis=1),
    }
