"""The development suite of issue 19 (``benchmarks/suite.py``): its corpora, their bags of words
over the product's default vocabulary, the product's default model as ``sparsecode train``
trains it, and label precision of nearest neighbours.

- Corpora: each ``corpora/<name>.jsonl.gz`` (fields ``id``, ``text``, ``split``, ``label``,
  ``lang``; ``load_jsonl_corpus``), BBC with the seeded stratified split of ``bbc_split``
  (``load_bbc_corpus``) and 20 Newsgroups bydate from the shared corpora (``load_20ng_corpus``),
  each a ``SplitCorpus``; ``cap`` draws a fixed-seed subsample of a part.
- Bags: ``suite_counts`` tokenises once with ``spacy.blank(lang)`` and builds the vocabulary the
  ``sparsecode`` component builds by default, on the training split (cached like the peers').
- Ours: ``cli_train_config`` and ``fit_default`` reproduce ``sparsecode train CORPUS OUT
  --n-latents K --seed SEED`` on the cached matrix (``default_vocab_config`` is its vocabulary).
- Retrieval: ``precision_at_k`` (cosine nearest neighbours, by label).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import inspect
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse as sp

from .corpora import NEWSGROUPS_FILE, Documents, bbc_split, load_20ng, load_bbc
from .matrices import TopicCorpus, cached, featurize, vocab_tag
from .paths import REPO
from .timing import Timer

#: The suite's corpus files: ``<name>.jsonl.gz`` in this folder.
SUITE_DIR = REPO / "corpora"
SUITE_SUFFIX = ".jsonl.gz"
#: The label of a document without one (``label`` absent in the file).
NO_LABEL = ""
#: Bump when the way bags are made here changes: it is part of the cache key.
BAGS_VERSION = 1


@dataclass(frozen=True)
class SplitCorpus:
    """A corpus with its held-out split: training and test documents, language, provenance."""

    name: str
    train: Documents
    test: Documents
    lang: str = "en"
    note: str = ""
    fingerprint: str = ""  # what the cache key needs to know about the source

    @property
    def n_docs(self) -> int:
        return len(self.train) + len(self.test)

    def labelled(self) -> bool:
        return any(label != NO_LABEL for label in self.train.labels.tolist())


# --------------------------------------------------------------------------- corpora
def suite_names(folder: Path = SUITE_DIR) -> List[str]:
    """The suite's corpora in ``folder`` (one ``<name>.jsonl.gz`` each), smallest file first."""
    files = sorted(Path(folder).glob(f"*{SUITE_SUFFIX}"), key=lambda p: (p.stat().st_size, p.name))
    return [p.name[: -len(SUITE_SUFFIX)] for p in files]


def count_docs(path: Path) -> int:
    """The number of non-blank lines of a JSON-lines file (``.gz`` or not): its documents."""
    path = Path(path)
    with gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def _file_fingerprint(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]


def load_jsonl_corpus(path: Path) -> SplitCorpus:
    """A suite corpus file: ``split`` "train…" is training, anything else held out; a record
    without ``label`` gets ``NO_LABEL``; blank texts are dropped; ``lang`` (default "en") must be
    the same on every record."""
    path = Path(path)
    parts: Dict[bool, List[Tuple[str, str, str]]] = {True: [], False: []}
    langs = set()
    n_blank = 0
    with gzip.open(path, "rt", encoding="utf8") if path.name.endswith(".gz") else open(path, encoding="utf8") as f:
        for line in f:
            if not line.strip():
                continue
            record = json.loads(line)
            langs.add(record.get("lang") or "en")
            if not str(record.get("text") or "").strip():
                n_blank += 1
                continue
            label = record.get("label")
            parts[str(record.get("split") or "").startswith("train")].append(
                (record["id"], record["text"], NO_LABEL if label is None else str(label)))
    if len(langs) > 1:
        raise ValueError(f"{path}: records in several languages ({', '.join(sorted(langs))}); the suite needs one")
    if not parts[True] or not parts[False]:
        raise ValueError(f"{path}: needs both a training split ('train') and a held-out one "
                         f"({len(parts[True])} training, {len(parts[False])} held-out records)")

    def documents(rows: List[Tuple[str, str, str]]) -> Documents:
        return Documents([text for _, text, _ in rows], np.array([label for _, _, label in rows], dtype=str),
                         [doc_id for doc_id, _, _ in rows])

    name = path.name[: -len(SUITE_SUFFIX)] if path.name.endswith(SUITE_SUFFIX) else path.stem
    note = "split field of the file" + (f", {n_blank} blank texts dropped" if n_blank else "")
    return SplitCorpus(name, documents(parts[True]), documents(parts[False]), (langs or {"en"}).pop(), note,
                       _file_fingerprint(path))


def load_bbc_corpus(split_seed: int) -> SplitCorpus:
    """BBC News (``load_bbc``) with the seeded stratified 80/20 split of ``bbc_split``."""
    docs = load_bbc().nonempty()
    split = bbc_split(docs, split_seed).sorted()
    return SplitCorpus("bbc", docs.take(split.train), docs.take(split.test), "en",
                       f"stratified 80/20 split, seed {split_seed}", f"bbc-split{split_seed}")


def load_20ng_corpus(shared: Path) -> Optional[SplitCorpus]:
    """20 Newsgroups bydate from the shared corpora folder ``shared``; None when absent."""
    path = Path(shared) / NEWSGROUPS_FILE
    posts = load_20ng(path)
    if posts is None:
        return None
    return SplitCorpus("20ng", posts.train, posts.test, "en",
                       f"bydate split, text field only, {posts.n_empty} empty texts dropped", f"20ng-{path.stat().st_size}")


def cap(docs: Documents, n: Optional[int], seed: int) -> Documents:
    """``docs`` itself when ``n`` is None or not smaller, else a seeded subsample of ``n`` in corpus order."""
    if not n or len(docs) <= n:
        return docs
    return docs.take(np.sort(np.random.default_rng(seed).permutation(len(docs))[:n]))


def capped(corpus: SplitCorpus, max_train: Optional[int], max_test: Optional[int], seed: int) -> SplitCorpus:
    """``corpus`` with each part capped by ``cap`` (the note says so)."""
    train, test = cap(corpus.train, max_train, seed), cap(corpus.test, max_test, seed)
    notes = [f"{part} capped to {len(new):,} of {len(old):,} (seed {seed})"
             for part, new, old in (("train", train, corpus.train), ("test", test, corpus.test)) if len(new) < len(old)]
    if not notes:
        return corpus
    return dataclasses.replace(corpus, train=train, test=test, note="; ".join([corpus.note, *notes]),
                               fingerprint=f"{corpus.fingerprint}-cap{len(train)}.{len(test)}.{seed}")


# --------------------------------------------------------------------------- bags
def default_vocab_config(lang: str = "en"):
    """The vocabulary settings of the ``sparsecode`` component as ``sparsecode train`` builds it."""
    from spacy_sparsecode.jobs.pipelines import build_pipeline

    nlp, name = build_pipeline(None, lang, None, {})
    return nlp.get_pipe(name).vocab_config


def suite_counts(corpus: SplitCorpus, vocab_config: Any) -> Tuple[TopicCorpus, float]:
    """Count matrices of ``corpus`` over a vocabulary built with ``vocab_config`` on its training
    split (``spacy.blank(corpus.lang)``), cached; and the seconds it took to build (0 when cached)."""
    vocab = dataclasses.asdict(vocab_config)
    key = f"suite{BAGS_VERSION}-{corpus.name}-{corpus.lang}-{corpus.fingerprint}-{vocab_tag(vocab)}"
    clock = Timer()
    built: List[float] = []

    def build() -> TopicCorpus:
        counts = featurize(corpus.name, corpus.train, corpus.test, vocab, corpus.note, lang=corpus.lang)
        built.append(clock.seconds)
        return counts

    return cached(key, build), (built[0] if built else 0.0)


def bag_vocab(counts: TopicCorpus, vocab_config: Any):
    """The ``BagOfWordsVocab`` the training counts were made over (document frequencies from them)."""
    from spacy_sparsecode.text.vocab import BagOfWordsVocab

    df = np.asarray((counts.train != 0).sum(axis=0)).ravel()
    vocab = BagOfWordsVocab(vocab_config, counts.words, df, counts.train.shape[0])
    if not np.allclose(vocab.idf(), counts.idf):
        raise ValueError(f"{counts.name}: the cached counts do not match their vocabulary (clear the cache)")
    return vocab


# --------------------------------------------------------------------------- ours: sparsecode train
#: The TrainConfig fields that ``sparsecode train`` sets from its options.
CLI_TRAIN_FIELDS = ("lr", "batch_size", "epochs", "min_steps", "constrain_from", "gpu_id", "amp", "checkpoint_every")


def cli_defaults() -> Dict[str, Any]:
    """The defaults of ``sparsecode train``'s options, read from the command's signature."""
    from spacy_sparsecode.cli.train import train

    return {name: p.default for name, p in inspect.signature(train).parameters.items()
            if p.default is not inspect.Parameter.empty}


def cli_train_config(seed: int):
    """The ``TrainConfig`` of ``sparsecode train ... --seed SEED`` with no other option."""
    from spacy_sparsecode.models.trainer import TrainConfig

    defaults = cli_defaults()
    return TrainConfig(**{name: defaults[name] for name in CLI_TRAIN_FIELDS}, seed=seed)


@dataclass
class DefaultModel:
    """Our default model trained on a corpus: the component, its training seconds and history."""

    component: Any
    seconds: float
    history: List[Dict[str, float]]
    model: Dict[str, Any]
    train: Dict[str, Any]


def fit_default(counts: TopicCorpus, vocab: Any, lang: str, K: int, seed: int) -> DefaultModel:
    """``sparsecode train CORPUS OUT --n-latents K --seed SEED`` after its corpus cache is built:
    ``spacy.blank(lang)`` + the default ``sparsecode`` component, initialised from the cached
    vocabulary and matrix, trained by ``jobs.train.train_component`` with the command's
    ``TrainConfig`` and checkpoints (in a temporary folder). The seconds are those the command
    reports as training: initialisation, training and checkpoints."""
    import torch._dynamo  # noqa: F401  torch.optim imports it lazily (~1 s): outside the timer, as in topics.fit_model

    from spacy_sparsecode.jobs.pipelines import build_pipeline
    from spacy_sparsecode.jobs.train import train_component

    nlp, name = build_pipeline(None, lang, None, {"n_latents": K, "seed": seed})
    component = nlp.get_pipe(name)
    config = cli_train_config(seed)
    with tempfile.TemporaryDirectory(prefix="suite-checkpoints-") as checkpoints:
        with Timer() as clock:
            component.initialize_from(vocab, counts.train)
            history = train_component(component, counts.train, config, checkpoint_dir=Path(checkpoints), progress=False)
    model = json.loads(json.dumps(nlp.config["components"][name]["model"], default=str))
    return DefaultModel(component, clock.seconds, history, model, dataclasses.asdict(config))


def shown_topic_weights(component: Any, top_n: int) -> np.ndarray:
    """(K, V) weights that rank each latent's words as the product shows them
    (``tasks.topics.topic_words``): ``top_n`` down to 1 on its ``top_n`` words, 0 elsewhere."""
    from spacy_sparsecode.tasks.topics import topic_words

    columns = {word: j for j, word in enumerate(component.bow_vocab.strings)}
    shown = topic_words(component, top_n)
    weights = np.zeros((len(shown), len(columns)))
    for latent, words in enumerate(shown):
        weights[latent, [columns[w] for w in words]] = np.arange(len(words), 0, -1)
    return weights


# --------------------------------------------------------------------------- retrieval
def _l2_rows(matrix: Any) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale) @ matrix)


def keep_top(matrix: Any, n: int) -> sp.csr_matrix:
    """Each row's ``n`` largest values (by absolute value), the rest zero."""
    matrix = sp.csr_matrix(matrix, copy=True)
    for r in range(matrix.shape[0]):
        lo, hi = matrix.indptr[r], matrix.indptr[r + 1]
        if hi - lo > n:
            row = matrix.data[lo:hi]
            row[np.argsort(-np.abs(row), kind="stable")[n:]] = 0
    matrix.eliminate_zeros()
    return matrix


def precision_at_k(queries: Any, base: Any, y_queries: Sequence[Any], y_base: Sequence[Any], k: int = 10,
                   block: int = 128) -> np.ndarray:
    """Per query, the share of its ``k`` nearest ``base`` rows (cosine) that have its label.

    Only neighbours with a positive cosine count: a query with an empty vector (or one that
    shares something with fewer than ``k`` base rows) retrieves fewer than ``k``, and the
    missing ones are misses. Rows tied with the k-th score share its remaining slots: each tied
    row counts as ``slots / n_tied`` of a neighbour (the mean over every way to break the tie),
    so no row order favours a label.
    """
    q, b = _l2_rows(queries), _l2_rows(base)
    if q.shape[0] != len(y_queries) or b.shape[0] != len(y_base) or q.shape[1] != b.shape[1]:
        raise ValueError(f"shapes: queries {q.shape}, {len(y_queries)} labels; base {b.shape}, {len(y_base)} labels")
    if b.shape[0] == 0:
        return np.zeros(q.shape[0])
    _, ids = np.unique(np.concatenate([np.asarray(y_queries, dtype=str), np.asarray(y_base, dtype=str)]), return_inverse=True)
    y_q, y_b = ids[: q.shape[0]], ids[q.shape[0]:]
    k_eff = min(k, b.shape[0])
    bt = sp.csr_matrix(b.T)
    out = np.zeros(q.shape[0])
    for start in range(0, q.shape[0], block):
        scores = (q[start : start + block] @ bt).toarray()
        kth = -np.partition(-scores, k_eff - 1, axis=1)[:, k_eff - 1]  # the k-th largest score of each row
        floor = np.maximum(kth, 0.0)[:, None]
        above = scores > floor
        tied = (scores == kth[:, None]) & (kth[:, None] > 0)
        match = y_b[None, :] == y_q[start : start + block, None]
        slots = np.where(kth > 0, k_eff - above.sum(axis=1), 0)
        hits = (above & match).sum(axis=1) + slots * (tied & match).sum(axis=1) / np.maximum(tied.sum(axis=1), 1)
        out[start : start + scores.shape[0]] = hits / k
    return out


def query_rows(n: int, max_queries: Optional[int], seed: int) -> np.ndarray:
    """All ``n`` rows, or a seeded sample of ``max_queries`` of them in order."""
    if not max_queries or n <= max_queries:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).permutation(n)[:max_queries])
