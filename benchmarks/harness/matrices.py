"""Count matrices of a split corpus over one shared vocabulary, cached between runs.

The topic benchmarks (peers, peers_select, latent_profile) give every system the same
tokenisation (``spacy.blank("en")``), the same vocabulary (built on the training documents) and
the same count CSR. Tokenising 20 Newsgroups takes minutes, so the matrices are kept as ``.npz``
in ``paths.cache_dir()``, keyed by corpus, split and vocabulary settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import scipy.sparse as sp

from spacy_sparsecode.io import atomic_path

from .corpora import Documents
from .paths import cache_dir


@dataclass
class TopicCorpus:
    """Training and test counts (float32 CSR) over ``words``, their labels (None without), idf."""

    name: str
    train: sp.csr_matrix
    test: sp.csr_matrix
    y_train: Optional[np.ndarray]
    y_test: Optional[np.ndarray]
    words: List[str]
    idf: np.ndarray
    note: str = ""


def featurize(name: str, train: Documents, test: Documents, vocab: Dict[str, Any], note: str, *,
              lang: str = "en") -> TopicCorpus:
    """Tokenise with ``spacy.blank(lang)``; the vocabulary (``VocabConfig(**vocab)``) from ``train``."""
    import spacy

    from spacy_sparsecode.text.featurize import docs_to_csr
    from spacy_sparsecode.text.vocab import BagOfWordsVocab, VocabConfig

    nlp = spacy.blank(lang)
    train_docs = list(nlp.pipe(train.texts, batch_size=256))
    test_docs = list(nlp.pipe(test.texts, batch_size=256))
    table = BagOfWordsVocab.build(train_docs, VocabConfig(**vocab))
    return TopicCorpus(name, docs_to_csr(train_docs, table), docs_to_csr(test_docs, table), train.labels, test.labels,
                       list(table.strings), table.idf(), note)


def vocab_tag(vocab: Dict[str, Any]) -> str:
    """A short stable name for vocabulary settings (part of a cache key)."""
    return hashlib.sha1(json.dumps(vocab, sort_keys=True).encode("utf8")).hexdigest()[:10]


def _csr(data: Any, part: str) -> sp.csr_matrix:
    return sp.csr_matrix((data[f"{part}_data"], data[f"{part}_ind"], data[f"{part}_ptr"]), shape=tuple(data[f"{part}_shape"]))


def cached(key: str, build: Callable[[], TopicCorpus]) -> TopicCorpus:
    """The corpus saved under ``key`` in the cache, or ``build()``'s, saved there first."""
    path = cache_dir() / f"{key}.npz"
    if path.exists():
        data = np.load(path, allow_pickle=False)
        labelled = bool(data["has_labels"])
        return TopicCorpus(str(data["name"]), _csr(data, "tr"), _csr(data, "te"), data["y_train"] if labelled else None,
                           data["y_test"] if labelled else None, data["words"].tolist(), data["idf"], str(data["note"]))
    corpus = build()
    labelled = corpus.y_train is not None
    empty = np.zeros(0, dtype=str)
    parts = {f"{part}_{field}": value for part, m in (("tr", corpus.train), ("te", corpus.test))
             for field, value in (("data", m.data), ("ind", m.indices), ("ptr", m.indptr), ("shape", m.shape))}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **parts, y_train=corpus.y_train if labelled else empty, y_test=corpus.y_test if labelled else empty,
                 has_labels=labelled, words=np.array(corpus.words), idf=corpus.idf, note=corpus.note, name=corpus.name)
    return corpus
