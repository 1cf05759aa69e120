"""The benchmark corpora, each loaded by one function into a small typed record, and their splits.

- BBC News (2,225 articles, 5 labels; ``iter_bbc``): ``load_bbc``, split by ``bbc_split``;
- BBC News Summary (the same articles with a human extractive summary, shared corpora):
  ``load_bbc_summaries``;
- 20 Newsgroups bydate (shared corpora): ``load_20ng``, its own train/test split; the dated
  validation split of its training posts is ``dated_rows``;
- the synthetic large corpus of sampled BBC sentences: ``write_synthetic_corpus``.

A split is a ``Split`` of row indices. ``random_rows`` holds out a seeded share of any
training set (a validation split).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

BBC_SUMMARY_FILE = "bbc_news_summary.jsonl"
NEWSGROUPS_FILE = "20newsgroups_bydate.jsonl"
Seed = Union[int, np.random.Generator]


@dataclass(frozen=True)
class Documents:
    """Texts in corpus order, with their labels and ids (same length)."""

    texts: List[str]
    labels: np.ndarray
    ids: List[str]

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, rows: Sequence[int]) -> "Documents":
        """The documents at ``rows``, in that order."""
        return Documents([self.texts[i] for i in rows], self.labels[np.asarray(rows, dtype=np.int64)], [self.ids[i] for i in rows])

    def nonempty(self) -> "Documents":
        """The documents whose text is not blank."""
        return self.take([i for i, text in enumerate(self.texts) if text.strip()])


@dataclass(frozen=True)
class Split:
    """Row indices of the training and the test documents, in the order they were drawn."""

    train: np.ndarray
    test: np.ndarray

    def sorted(self) -> "Split":
        """The same split with both parts in corpus order."""
        return Split(np.sort(self.train), np.sort(self.test))


def _documents(records: Sequence) -> Documents:
    return Documents([r.text for r in records], np.array([r.label for r in records]), [r.id for r in records])


# --------------------------------------------------------------------------- BBC
def load_bbc() -> Documents:
    """BBC News as shipped with the package (``iter_bbc``): 2,225 articles, 5 labels."""
    from spacy_sparsecode.text.corpora import iter_bbc

    return _documents(list(iter_bbc()))


def bbc_split(docs: Documents, seed: Seed = 0, *, stratified: bool = True, test_share: float = 0.2) -> Split:
    """A seeded train/test split of ``docs``: stratified by label (scikit-learn's
    ``train_test_split``), or a plain permutation (``np.random.default_rng(seed)``; pass a
    Generator to draw from it)."""
    n = len(docs)
    if stratified:
        from sklearn.model_selection import train_test_split

        train, test = train_test_split(np.arange(n), test_size=test_share, stratify=docs.labels, random_state=seed)
        return Split(train, test)
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round((1 - test_share) * n))
    return Split(order[:n_train], order[n_train:])


@dataclass(frozen=True)
class SummaryCorpus:
    """Articles with one human extractive reference summary each."""

    texts: List[str]
    summaries: List[str]
    ids: List[str]

    def head(self, n: Optional[int]) -> "SummaryCorpus":
        """The first ``n`` articles (all with ``None``)."""
        return SummaryCorpus(self.texts[:n], self.summaries[:n], self.ids[:n])


def load_bbc_summaries(folder: Path) -> Optional[SummaryCorpus]:
    """BBC News Summary from the shared corpora ``folder``; None when the file is absent."""
    path = Path(folder) / BBC_SUMMARY_FILE
    if not path.exists():
        return None
    rows = [json.loads(line) for line in path.read_text(encoding="utf8").splitlines() if line.strip()]
    return SummaryCorpus([r["text"] for r in rows], [r["summary"] for r in rows], [r["id"] for r in rows])


# --------------------------------------------------------------------------- 20 Newsgroups
@dataclass(frozen=True)
class Newsgroups:
    """20 Newsgroups by its bydate split, ``text`` only (headers leak labels), blank posts dropped."""

    train: Documents
    test: Documents
    n_empty: int


def load_20ng(path: Path) -> Optional[Newsgroups]:
    """20 Newsgroups bydate from its JSON-lines file ``path``; None when the file is absent."""
    if not Path(path).exists():
        return None
    from spacy_sparsecode.text.corpora import read_corpus

    records = list(read_corpus(path, on_error="skip"))
    kept = [r for r in records if r.text.strip()]
    return Newsgroups(_documents([r for r in kept if (r.split or "").startswith("train")]),
                      _documents([r for r in kept if not (r.split or "").startswith("train")]), len(records) - len(kept))


def dated_rows(ids: Sequence[str], share: float) -> np.ndarray:
    """Rows of the latest ``share`` of each newsgroup's posts, by message number.

    ``ids`` are "split/group/number". The bydate test posts are later than the training posts
    (message numbers grow with the posting date), so holding out each group's latest training
    posts holds out what a random split does not: authors and threads that stop, topics that move.
    """
    groups = np.array([i.split("/")[1] for i in ids])
    numbers = np.array([int(i.split("/")[2]) for i in ids])
    latest = np.zeros(len(ids), dtype=bool)
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        latest[rows] = numbers[rows] > np.quantile(numbers[rows], 1 - share)
    return np.flatnonzero(latest)


def random_rows(n_docs: int, share: float, seed: int) -> np.ndarray:
    """A seeded random ``share`` of ``n_docs`` rows, sorted (a validation split of a training set)."""
    order = np.random.default_rng(seed).permutation(n_docs)
    return np.sort(order[: int(share * n_docs)])


# --------------------------------------------------------------------------- synthetic
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def bbc_sentences(min_words: int = 4) -> Dict[str, List[str]]:
    """BBC body sentences of at least ``min_words`` words (title lines left out), by topic label."""
    by_label: Dict[str, List[str]] = {}
    docs = load_bbc()
    for text, label in zip(docs.texts, docs.labels.tolist()):
        body = text.split("\n", 1)[1] if "\n" in text else text
        for paragraph in body.split("\n"):
            for sentence in _SENTENCE_END.split(paragraph.strip()):
                if len(sentence.split()) >= min_words:
                    by_label.setdefault(label, []).append(sentence)
    return by_label


@dataclass(frozen=True)
class SyntheticCorpus:
    """A written synthetic corpus and its size statistics."""

    path: Path
    n_docs: int
    mean_chars: float
    mean_sentences: float
    n_source_sentences: int

    def stats(self) -> Dict[str, float]:
        return {"n_docs": self.n_docs, "mean_chars": self.mean_chars, "mean_sentences": self.mean_sentences,
                "n_source_sentences": self.n_source_sentences}


def write_synthetic_corpus(path: Path, n_docs: int, seed: int = 0, min_sentences: int = 4,
                           max_sentences: int = 16) -> SyntheticCorpus:
    """Write ``n_docs`` JSON lines ``{"id", "text", "label"}`` to ``path``, atomically.

    Each document takes one BBC topic (drawn in proportion to its sentences) and
    ``min_sentences``-``max_sentences`` sentences (uniform) sampled with replacement from that
    topic's articles, so word statistics and topics are those of real news.
    """
    from spacy_sparsecode.io import atomic_path

    rng = np.random.default_rng(seed)
    pools = bbc_sentences()
    labels = sorted(pools)
    weights = np.array([len(pools[label]) for label in labels], dtype=float)
    doc_labels = rng.choice(len(labels), size=n_docs, p=weights / weights.sum())
    lengths = rng.integers(min_sentences, max_sentences + 1, size=n_docs)
    n_chars = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf8") as f:
        for i in range(n_docs):
            pool = pools[labels[doc_labels[i]]]
            text = " ".join(pool[j] for j in rng.integers(0, len(pool), size=lengths[i]))
            n_chars += len(text)
            f.write(json.dumps({"id": f"synth-{i:07d}", "text": text, "label": labels[doc_labels[i]]}) + "\n")
    return SyntheticCorpus(Path(path), n_docs, n_chars / max(n_docs, 1), float(lengths.mean()),
                           int(sum(len(p) for p in pools.values())))


def head(source: Path, n_lines: int, path: Path) -> Path:
    """Write the first ``n_lines`` lines of ``source`` to ``path`` (a smaller corpus of the same kind)."""
    with open(source, "rb") as src, open(path, "wb") as dst:
        for _, line in zip(range(n_lines), src):
            dst.write(line)
    return Path(path)
