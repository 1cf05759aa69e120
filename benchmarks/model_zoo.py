"""Every model family against scikit-learn NMF and LDA on BBC News, same vocabulary and split.

Data: the 2,225 built-in BBC articles (``harness.load_bbc``), tokenised by ``spacy.blank("en")``,
a fixed 80/20 split stratified by label (``harness.bbc_split``); the vocabulary is built on the
training split with the ``sparsecode`` component's default settings, and every model sees the
same count matrix (``docs_to_csr``).

Two settings:

- topics (K=50): NPMI of each latent's top-10 words by document co-occurrence in the test
  split (held-out) and in the training split, topic diversity (unique share of the top-25);
- codes (K=256, k=16): linear-probe accuracy of the codes (train -> test labels), mean L0 and
  cluster NMI on the test split, dead-latent share over all documents.

Our families train with ``Trainer`` + ``TrainConfig`` (the fast path); NMF runs on the
l2-normalised tf-idf rows, LDA (online variational Bayes) on the counts. NMF and LDA codes are
their dense ``transform`` outputs (their L0 says how dense). Train times are wall-clock seconds
on this machine, with the torch thread count recorded in the JSON. Every setting is
``[model_zoo]`` in ``settings.toml``.

    python -m benchmarks.model_zoo [--only topk,nmf] [--settings topics,codes] [--no-write]

Writes ``model_zoo.json`` and ``model_zoo.md`` to the results folder.
"""

from __future__ import annotations

import argparse
import platform
from dataclasses import dataclass
from functools import partial
from typing import Any, Dict, List, Mapping

import numpy as np
import scipy.sparse as sp
import sklearn
import spacy
import torch
from threadpoolctl import threadpool_limits

import spacy_sparsecode  # noqa: F401  (registers the component)
from spacy_sparsecode.metrics import cluster_nmi, dead_share, mean_l0, probe_accuracy, topic_report
from spacy_sparsecode.models import build_model
from spacy_sparsecode.models.trainer import TrainConfig, Trainer
from spacy_sparsecode.text.featurize import scale_counts, docs_to_csr
from spacy_sparsecode.text.vocab import BagOfWordsVocab

if __package__:
    from . import harness
else:  # run as a file (python benchmarks/model_zoo.py): this folder is the import root
    import harness

ZOO = harness.settings("model_zoo")
SEED = ZOO["seed"]
#: setting -> what it sets in every model: {"topics": {"n_latents": 50}, "codes": {...}}
SETTINGS: Dict[str, Dict[str, Any]] = ZOO["settings"]


@dataclass(frozen=True)
class ZooData:
    """BBC counts over the training split's vocabulary, with labels and idf."""

    x_train: sp.csr_matrix
    x_test: sp.csr_matrix
    y_train: np.ndarray
    y_test: np.ndarray
    idf: np.ndarray

    @property
    def n_vocab(self) -> int:
        return self.x_train.shape[1]


def load_data() -> ZooData:
    """Tokenise BBC, split it, build the vocabulary on the training split, featurise."""
    docs = harness.load_bbc()
    nlp = spacy.blank("en")
    vocab_config = spacy.blank("en").add_pipe("sparsecode").vocab_config  # the component's defaults
    parsed = list(nlp.pipe(docs.texts, batch_size=256))
    split = harness.bbc_split(docs, SEED)
    vocab = BagOfWordsVocab.build((parsed[i] for i in split.train), vocab_config)
    matrix = docs_to_csr(parsed, vocab)
    return ZooData(matrix[split.train], matrix[split.test], docs.labels[split.train], docs.labels[split.test], vocab.idf())


def code_metrics(train_codes: Any, test_codes: Any, data: ZooData) -> Dict[str, float]:
    """Probe accuracy (train -> test), L0 and cluster NMI on the test split, dead share overall."""
    train_codes, test_codes = sp.csr_matrix(train_codes), sp.csr_matrix(test_codes)
    return {
        "probe_acc": probe_accuracy(train_codes, data.y_train, test_codes, data.y_test, seed=SEED),
        "l0": mean_l0(test_codes),
        "dead": dead_share(sp.vstack([train_codes, test_codes])),
        "nmi": cluster_nmi(test_codes, data.y_test),
    }


def run_family(family: str, setting: str, data: ZooData, settings: Mapping[str, Any]) -> Dict[str, Any]:
    """Train our ``family`` at ``setting`` (topics or codes) with its ``settings[setting]``."""
    train_config = settings[setting]["train"]
    model_config = {**SETTINGS[setting], "seed": SEED, **settings[setting]["model"]}
    model_config.setdefault("k", 16)
    torch.manual_seed(SEED)
    model = build_model(family, model_config, data.n_vocab, data.idf)
    trainer = Trainer(model, TrainConfig(seed=SEED, **train_config), progress=False)
    with harness.Timer() as clock:
        history = trainer.fit(data.x_train)
    result: Dict[str, Any] = {"train_s": clock.seconds, "model_config": model_config, "train_config": train_config,
                              "final_loss": history[-1].get("loss")}
    if setting == "topics":
        result.update(topic_report(model.topic_word_weights().float().cpu().numpy(), data.x_test, data.x_train))
    else:
        result.update(code_metrics(model.encode(data.x_train).matrix, model.encode(data.x_test).matrix, data))
    return result


def _fit_baseline(model: Any, train: Any, test: Any, setting: str, data: ZooData, config: Dict[str, Any]) -> Dict[str, Any]:
    with harness.Timer() as clock:
        model.fit(train)
    result: Dict[str, Any] = {"train_s": clock.seconds, "model_config": config}
    if setting == "topics":
        result.update(topic_report(model.components_, data.x_test, data.x_train))
    else:
        result.update(code_metrics(model.transform(train), model.transform(test), data))
    return result


def run_nmf(setting: str, data: ZooData, settings: Mapping[str, Any]) -> Dict[str, Any]:
    """scikit-learn NMF on l2-normalised tf-idf."""
    from sklearn.decomposition import NMF

    K = SETTINGS[setting]["n_latents"]
    train, test = (scale_counts(x, "tfidf", data.idf) for x in (data.x_train, data.x_test))
    config = {"n_components": K, "input": "l2-normalised tf-idf", "init": "sklearn default", **settings}
    return _fit_baseline(NMF(n_components=K, random_state=SEED, **settings), train, test, setting, data, config)


def run_lda(setting: str, data: ZooData, settings: Mapping[str, Any]) -> Dict[str, Any]:
    """scikit-learn LDA (online variational Bayes) on counts."""
    from sklearn.decomposition import LatentDirichletAllocation

    K = SETTINGS[setting]["n_latents"]
    config = {"n_components": K, "input": "counts", **settings}
    model = LatentDirichletAllocation(n_components=K, random_state=SEED, **settings)
    return _fit_baseline(model, data.x_train, data.x_test, setting, data, config)


SYSTEMS: Dict[str, harness.System] = {
    **{name: harness.System(name, "ours", partial(run_family, name), table) for name, table in ZOO["families"].items()},
    "nmf": harness.System("nmf", "peer", run_nmf, ZOO["baselines"]["nmf"], "scikit-learn NMF on tf-idf"),
    "lda": harness.System("lda", "peer", run_lda, ZOO["baselines"]["lda"], "scikit-learn LDA (online VB)"),
}


def fmt(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


COLUMNS = [
    ("model", None), ("K=50 train s", ("topics", "train_s", 1)), ("NPMI held-out", ("topics", "npmi_heldout", 3)),
    ("NPMI train", ("topics", "npmi_train", 3)), ("TD top-25", ("topics", "td", 3)),
    ("K=256 train s", ("codes", "train_s", 1)), ("probe acc", ("codes", "probe_acc", 3)), ("L0", ("codes", "l0", 1)),
    ("dead", ("codes", "dead", 3)), ("cluster NMI", ("codes", "nmi", 3)),
]


def table_rows(results: Dict[str, Dict[str, Any]]) -> List[List[str]]:
    return [[name, *(fmt(by_setting.get(setting, {}).get(key), digits) for _, (setting, key, digits) in COLUMNS[1:])]
            for name, by_setting in results.items()]


def markdown(rows: List[List[str]], meta: Dict[str, Any]) -> str:
    topics = ZOO["families"]["topk"]["topics"]["model"]
    note = (f"\nBBC News, {meta['n_train']} train / {meta['n_test']} test documents (stratified, seed {SEED}), "
            f"V={meta['n_vocab']} (component defaults, built on the train split). NPMI: top-10 words, document "
            "co-occurrence; TD: unique share of the top-25 words. Codes: K=256, k=16; probe = logistic regression "
            "train→test; L0 / NMI on test codes, dead share over all documents; NMF and LDA codes are dense. "
            "K=50 settings: the sparse autoencoders use " + ", ".join(f"{k}={v}" for k, v in topics.items())
            + "; the VAEs k=8 on counts; every model's exact settings are in "
            f"model_zoo.json. Train seconds with {meta['cpu_threads']} CPU thread(s) (torch {meta['torch']}); "
            "produced by `python -m benchmarks.model_zoo`.\n")
    return harness.markdown_table([name for name, _ in COLUMNS], rows) + "\n" + note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated families/baselines to run (default: all)")
    parser.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated settings: topics, codes")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write the results files")
    parser.add_argument("--threads", type=int, default=ZOO["threads"], help="CPU threads for torch and the BLAS (default %(default)s)")
    harness.add_path_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        run_all(args)


def run_all(args: argparse.Namespace) -> None:
    names = [n for n in SYSTEMS if not args.only or n in args.only.split(",")]
    settings = [s for s in SETTINGS if s in args.settings.split(",")]
    with harness.Timer() as clock:
        data = load_data()
    n_train, n_test = data.x_train.shape[0], data.x_test.shape[0]
    print(f"BBC: {n_train} train / {n_test} test docs, V={data.n_vocab} ({clock.seconds:.1f} s to tokenise and featurise)")
    results: Dict[str, Dict[str, Any]] = {}
    for name in names:
        for setting in settings:
            results.setdefault(name, {})[setting] = outcome = SYSTEMS[name].run(setting, data)
            print(f"{name} {setting}: {({k: round(v, 3) for k, v in outcome.items() if isinstance(v, float)})}", flush=True)
    meta = {"n_train": n_train, "n_test": n_test, "n_vocab": data.n_vocab, "seed": SEED,
            "cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "sklearn": sklearn.__version__,
            "spacy": spacy.__version__, "python": platform.python_version(), "settings": SETTINGS}
    table = markdown(table_rows(results), meta)
    if args.no_write:
        print(table)
    else:
        harness.write_results(args.out, "model_zoo", {"meta": meta, "results": results}, table)


if __name__ == "__main__":
    main()
