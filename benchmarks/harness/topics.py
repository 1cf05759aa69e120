"""The topic benchmarks' corpora and systems (peers.py, peers_select.py, latent_profile.py).

Corpora: BBC (stratified 80/20 split) and 20 Newsgroups (bydate split, ``text`` only) as count
matrices over the shared vocabulary of ``[peers.vocab]``. Systems: our models trained by the
fast trainer and the peers (NMF, LSA, LDA in three implementations, ProdLDA), each a
``System`` whose fit function takes ``(corpus, K, seed, settings)`` and returns a ``Fitted``.
Train time is wall-clock from the shared count CSR (already tokenised, the same for everyone)
to a trained model, including each peer's conversion to its own input format; imports stay
outside every timer.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import scipy.sparse as sp

from .corpora import NEWSGROUPS_FILE, bbc_split, load_20ng, load_bbc
from .matrices import TopicCorpus, cached, featurize, vocab_tag
from .tuning import settings
from .systems import Fitted, System, needs_family, needs_module
from .timing import Timer

PEERS = settings("peers")


def torch_threads() -> int:
    """Torch threads of our systems and ProdLDA: ``SPARSECODE_THREADS``, else ``[peers] threads``."""
    return int(os.environ.get("SPARSECODE_THREADS", PEERS["threads"]))


# --------------------------------------------------------------------------- corpora
def bbc_counts(split_seed: int = PEERS["bbc_split_seed"]) -> TopicCorpus:
    """BBC News (2,225 articles, 5 labels), seeded stratified 80/20 split."""
    vocab = PEERS["vocab"]

    def build() -> TopicCorpus:
        docs = load_bbc().nonempty()
        split = bbc_split(docs, split_seed).sorted()
        return featurize("bbc", docs.take(split.train), docs.take(split.test), vocab, f"stratified 80/20 split, seed {split_seed}")

    return cached(f"bbc-{split_seed}-{vocab_tag(vocab)}", build)


def newsgroups_counts(path: Path) -> Optional[TopicCorpus]:
    """20 Newsgroups bydate from ``path``: its own train/test split; None when the file is absent."""
    if not Path(path).exists():
        return None
    vocab = PEERS["vocab"]

    def build() -> TopicCorpus:
        posts = load_20ng(path)
        note = f"bydate split, text field only, {posts.n_empty} empty texts dropped"
        return featurize("20ng", posts.train, posts.test, vocab, note)

    return cached(f"20ng-{vocab_tag(vocab)}", build)


def topic_corpus(name: str, shared: Path) -> Optional[TopicCorpus]:
    """``bbc``, or ``20ng`` from the shared corpora folder ``shared``; None when absent or unknown."""
    if name == "bbc":
        return bbc_counts()
    if name == "20ng":
        return newsgroups_counts(Path(shared) / NEWSGROUPS_FILE)
    return None


# --------------------------------------------------------------------------- ours
def fit_model(family: str, config: Dict[str, Any], train: Dict[str, Any], corpus: TopicCorpus, seed: int) -> Fitted:
    """Train one of our models (``family``, its ``config``) with the fast trainer (``train``)."""
    import torch
    import torch._dynamo  # noqa: F401  torch.optim imports it lazily (~1 s); imports are outside every timer

    from spacy_sparsecode.models import build_model
    from spacy_sparsecode.models.trainer import TrainConfig, Trainer

    torch.set_num_threads(torch_threads())
    with Timer() as clock:
        model = build_model(family, config, corpus.train.shape[1], corpus.idf)
        history = Trainer(model, TrainConfig(seed=seed, **train), progress=False).fit(corpus.train)
    weights = model.topic_word_weights().float().cpu().numpy()

    def encode(x: sp.csr_matrix) -> sp.csr_matrix:
        return model.encode(x).matrix

    return Fitted(weights, clock.seconds, encode, settings={"model": config, "train": train, "history": history})


def fit_ours(corpus: TopicCorpus, K: int, seed: int, settings: Mapping[str, Any]) -> Fitted:
    """Our system of ``settings`` (``family``, ``model``, ``train``) at K latents."""
    return fit_model(settings["family"], dict(n_latents=K, seed=seed, **settings["model"]), dict(settings["train"]), corpus, seed)


# --------------------------------------------------------------------------- peers
def _tfidf(train: sp.csr_matrix):
    from sklearn.feature_extraction.text import TfidfTransformer

    return TfidfTransformer().fit(train)


def fit_nmf(corpus: TopicCorpus, K: int, seed: int, settings: Mapping[str, Any]) -> Fitted:
    from sklearn.decomposition import NMF

    with Timer() as clock:
        tfidf = _tfidf(corpus.train)
        nmf = NMF(n_components=K, random_state=seed, **settings)
        W = nmf.fit_transform(tfidf.transform(corpus.train))
    return Fitted(nmf.components_, clock.seconds, lambda x: nmf.transform(tfidf.transform(x)), W,
                  settings={"input": "tf-idf", "init": "nndsvda", **settings})


def fit_lsa(corpus: TopicCorpus, K: int, seed: int, settings: Mapping[str, Any]) -> Fitted:
    from sklearn.decomposition import TruncatedSVD

    with Timer() as clock:
        tfidf = _tfidf(corpus.train)
        svd = TruncatedSVD(n_components=K, random_state=seed, **settings)
        Z = svd.fit_transform(tfidf.transform(corpus.train))
    return Fitted(svd.components_, clock.seconds, lambda x: svd.transform(tfidf.transform(x)), Z, settings={"input": "tf-idf", **settings})


def fit_sklearn_lda(corpus: TopicCorpus, K: int, seed: int, settings: Mapping[str, Any]) -> Fitted:
    from sklearn.decomposition import LatentDirichletAllocation

    with Timer() as clock:
        lda = LatentDirichletAllocation(n_components=K, random_state=seed, **settings)
        lda.fit(corpus.train)
    return Fitted(lda.components_, clock.seconds, lda.transform, settings=dict(settings))


def _tomotopy_words(row_indices: np.ndarray, row_counts: np.ndarray) -> List[str]:
    return [f"w{i}" for i, c in zip(row_indices.tolist(), row_counts.astype(np.int64).tolist()) for _ in range(max(c, 1))]


def fit_tomotopy(corpus: TopicCorpus, K: int, seed: int, settings: Mapping[str, Any]) -> Fitted:
    import tomotopy as tp

    x, workers = corpus.train, settings["workers"]
    with Timer() as clock:
        mdl = tp.LDAModel(k=K, seed=seed)
        for r in range(x.shape[0]):
            lo, hi = x.indptr[r], x.indptr[r + 1]
            mdl.add_doc(_tomotopy_words(x.indices[lo:hi], x.data[lo:hi]) or ["w0"])
        mdl.train(settings["iterations"], workers=workers)
    columns = np.array([int(w[1:]) for w in mdl.used_vocabs])
    topic_word = np.zeros((K, x.shape[1]))
    for k in range(K):
        topic_word[k, columns] = mdl.get_topic_word_dist(k)
    train_repr = np.array([d.get_topic_dist() for d in mdl.docs])

    def encode(m: sp.csr_matrix) -> np.ndarray:
        # tomotopy aborts the process (a C++ exception) on a document without words: those get
        # the uniform topic distribution instead
        out = np.full((m.shape[0], K), 1.0 / K)
        rows = np.flatnonzero(np.diff(m.indptr) > 0)
        docs = [mdl.make_doc(_tomotopy_words(m.indices[m.indptr[r] : m.indptr[r + 1]], m.data[m.indptr[r] : m.indptr[r + 1]]))
                for r in rows]
        inferred, _ = mdl.infer(docs, workers=workers)
        # tomotopy >= 0.13 returns topic distributions (arrays); older versions return docs
        out[rows] = np.array([d if isinstance(d, np.ndarray) else d.get_topic_dist() for d in inferred])
        return out

    return Fitted(topic_word, clock.seconds, encode, train_repr, settings={**settings, "tw": "ONE"})


def fit_gensim(corpus: TopicCorpus, K: int, seed: int, settings: Mapping[str, Any]) -> Fitted:
    from gensim.corpora import Dictionary
    from gensim.matutils import Sparse2Corpus
    from gensim.models import LdaMulticore

    with Timer() as clock:
        bow = Sparse2Corpus(corpus.train, documents_columns=False)
        id2word = Dictionary.from_corpus(bow, id2word={i: w for i, w in enumerate(corpus.words)})
        lda = LdaMulticore(corpus=bow, id2word=id2word, num_topics=K, random_state=seed, **settings)

    def encode(m: sp.csr_matrix) -> np.ndarray:
        gamma, _ = lda.inference(list(Sparse2Corpus(m, documents_columns=False)))
        return gamma / gamma.sum(axis=1, keepdims=True)

    topics = lda.get_topics()  # (K, n_ids) over id2word ids = our column ids
    topic_word = np.zeros((K, corpus.train.shape[1]))
    topic_word[:, : topics.shape[1]] = topics
    return Fitted(topic_word, clock.seconds, encode, settings={"class": "LdaMulticore", **settings})


def _topmost_prodlda():
    """topmost's ProdLDA class, loaded from its module file.

    ``import topmost`` pulls in sentence-transformers, plotly and fastopic at package import
    (and pip would upgrade torch to a CUDA build to install them); the ProdLDA module itself
    only needs torch + numpy, so load that file alone.
    """
    spec = importlib.util.find_spec("topmost")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("topmost is not installed (pip install --no-deps topmost)")
    path = Path(spec.submodule_search_locations[0]) / "models" / "basic" / "ProdLDA.py"
    module_spec = importlib.util.spec_from_file_location("_topmost_prodlda", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.ProdLDA


def fit_prodlda(corpus: TopicCorpus, K: int, seed: int, settings: Mapping[str, Any]) -> Fitted:
    """topmost ProdLDA trained like topmost's BasicTrainer (Adam, shuffled minibatches of counts).

    The only change: minibatches are densified from the CSR one at a time instead of
    holding the whole dense (n_docs, V) matrix (same arithmetic, bounded memory).
    """
    import torch
    import torch._dynamo  # noqa: F401  as in fit_model: torch.optim's lazy import stays outside the timer

    ProdLDA = _topmost_prodlda()
    torch.set_num_threads(torch_threads())
    torch.manual_seed(seed)
    x, batch_size = corpus.train, settings["batch_size"]
    with Timer() as clock:
        model = ProdLDA(x.shape[1], num_topics=K)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
        rng = np.random.default_rng(seed)
        for _ in range(settings["epochs"]):
            model.train()
            order = rng.permutation(x.shape[0])
            for b in range(0, len(order), batch_size):
                loss = model(torch.from_numpy(x[order[b : b + batch_size]].toarray()))["loss"]
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    beta = model.get_beta().detach().numpy()  # (K, V)

    @torch.no_grad()
    def encode(m: sp.csr_matrix) -> np.ndarray:
        model.eval()
        return np.concatenate([model.get_theta(torch.from_numpy(m[i : i + 512].toarray())).numpy() for i in range(0, m.shape[0], 512)])

    return Fitted(beta, clock.seconds, encode,
                  settings={"implementation": "topmost.models.basic.ProdLDA", **settings, "en_units": 200, "dropout": 0.4})


# --------------------------------------------------------------------------- the systems
def _ours(name: str, description: str) -> System:
    table = PEERS["systems"][name]
    return System(name, "ours", fit_ours, table, description, needs_family(table["family"]))


def _peer(name: str, description: str, fit: Any, check: Any = None) -> System:
    return System(name, "peer", fit, PEERS["systems"][name], description, check)


def topic_systems() -> Dict[str, System]:
    """Every system of the peer benchmark by name, in the order they run (our systems before LSA,
    which is also probed at their codes' non-zeros)."""
    systems = [
        _ours("ours-topk", "spacy-sparsecode TopK SAE (fast trainer)"),
        _ours("ours-topk-plain", "spacy-sparsecode TopK SAE without diversity devices (tf-idf, k=8)"),
        _ours("ours-topk-late", "spacy-sparsecode TopK SAE, sublinear tf-idf, non-negative encoder, exclusivity over "
                                "the last 30% of steps"),
        _ours("ours-logistic_normal", "spacy-sparsecode logistic-normal VAE (fast trainer)"),
        _peer("sklearn-nmf", "scikit-learn NMF on tf-idf", fit_nmf),
        _peer("lsa", "TF-IDF + truncated SVD (LSA)", fit_lsa),
        _peer("tomotopy-lda", "tomotopy LDAModel (Gibbs, C++)", fit_tomotopy, needs_module("tomotopy")),
        _peer("gensim-lda", "gensim LdaMulticore (online VB)", fit_gensim, needs_module("gensim")),
        _peer("sklearn-lda", "scikit-learn LDA (online VB)", fit_sklearn_lda),
        _peer("prodlda-topmost", "ProdLDA, topmost implementation", fit_prodlda,
              needs_module("topmost", "; pip install --no-deps topmost")),
    ]
    return {system.name: system for system in systems}
