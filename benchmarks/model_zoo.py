"""Every model family against scikit-learn NMF and LDA on BBC News, same vocabulary and split.

Data: the 2,225 built-in BBC articles (``corpora.iter_bbc``), tokenised by ``spacy.blank("en")``,
a fixed 80/20 split stratified by label (seed 0); the vocabulary is built on the training
split with the ``sparsecode`` component's default settings, and every model sees the same
count matrix (``docs_to_csr``).

Two settings:

- topics (K=50): NPMI of each latent's top-10 words by document co-occurrence in the test
  split (held-out) and in the training split, topic diversity (unique share of the top-25);
- codes (K=256, k=16): linear-probe accuracy of the codes (train -> test labels), mean L0 and
  cluster NMI on the test split, dead-latent share over all documents.

Our families train with ``Trainer`` + ``TrainConfig`` (the fast path); NMF runs on the
l2-normalised tf-idf rows, LDA (online variational Bayes, 10 passes) on the counts. NMF
and LDA codes are their dense ``transform`` outputs (their L0 says how dense). Train times are
wall-clock seconds on this machine, with the torch thread count recorded in the JSON.

Usage: python benchmarks/model_zoo.py [--only topk,nmf] [--settings topics,codes]
Writes benchmarks/results/model_zoo.json and benchmarks/results/model_zoo.md.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import scipy.sparse as sp
import sklearn
import spacy
import torch
from rich.console import Console
from rich.table import Table
from sklearn.decomposition import NMF, LatentDirichletAllocation
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import spacy_sparsecode  # noqa: F401  (registers the component)
from spacy_sparsecode.text.corpora import iter_bbc
from spacy_sparsecode.text.featurize import apply_weighting, docs_to_csr
from spacy_sparsecode.io import write_bytes_atomic, write_json_atomic
from spacy_sparsecode.metrics import cluster_nmi, dead_share, mean_l0, probe_accuracy, topic_report
from spacy_sparsecode.models import build_model
from spacy_sparsecode.models.trainer import TrainConfig, Trainer
from spacy_sparsecode.text.vocab import BagOfWordsVocab

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 0
SETTINGS = {"topics": {"n_latents": 50}, "codes": {"n_latents": 256, "k": 16}}

# Topic-mode options shared by the sparse autoencoders at K=50: log1p input, neighbourhood
# exemplar init, each word owned by at most 2 latents, decoder-overlap penalty.
SAE_TOPICS = {"k": 16, "scaling": "log1p", "init_neighbours": 40, "latents_per_word": 2, "diversity_coef": 2.0}
SAE_TRAIN = {"lr": 3e-3, "batch_size": 128, "epochs": 30}
SAE_CODES_TRAIN = {**SAE_TRAIN, "lr": 1e-3}  # 3e-3 makes K=256 codes sparser than k and less predictive
VAE_TRAIN = {"lr": 1e-2, "batch_size": 64, "epochs": 40}

#: family -> setting -> (model config, train config); the benchmark's whole configuration.
FAMILIES: Dict[str, Dict[str, Tuple[Dict[str, Any], Dict[str, Any]]]] = {
    "topk": {
        "topics": (SAE_TOPICS, SAE_TRAIN),
        "codes": ({"scaling": "tfidf"}, SAE_CODES_TRAIN),
    },
    "l1": {
        "topics": ({**SAE_TOPICS, "l1_coef": 0.001}, SAE_TRAIN),
        "codes": ({"scaling": "tfidf", "l1_coef": 0.001}, SAE_CODES_TRAIN),
    },
    "kl": {
        "topics": ({**SAE_TOPICS, "rho": 0.1, "beta": 0.1}, SAE_TRAIN),
        "codes": ({"scaling": "tfidf", "rho": 0.05, "beta": 0.1}, SAE_CODES_TRAIN),
    },
    "threshold": {
        "topics": ({**SAE_TOPICS, "threshold_init": 0.05, "l0_coef": 0.001}, SAE_TRAIN),
        "codes": ({"scaling": "tfidf", "threshold_init": 0.05, "l0_coef": 0.0001}, SAE_CODES_TRAIN),
    },
    "gaussian": {
        "topics": ({"k": 8, "scaling": "count"}, VAE_TRAIN),
        "codes": ({"scaling": "count"}, VAE_TRAIN),
    },
    "logistic_normal": {
        "topics": ({"k": 8, "scaling": "count", "hidden": 200}, VAE_TRAIN),
        "codes": ({"scaling": "count", "hidden": 200}, {**VAE_TRAIN, "lr": 3e-3}),
    },
    "dictionary": {
        "topics": ({"k": 8, "scaling": "tfidf", "method": "kmeans"}, {}),
        "codes": ({"scaling": "tfidf", "method": "kmeans", "alpha": 0.005}, {}),
    },
}
BASELINES = ("nmf", "lda")


def load_bbc() -> Dict[str, Any]:
    """Tokenise BBC, split it, build the vocabulary on the training split, featurise."""
    records = list(iter_bbc())
    nlp = spacy.blank("en")
    vocab_config = spacy.blank("en").add_pipe("sparsecode").vocab_config  # the component's defaults
    docs = list(nlp.pipe((r.text for r in records), batch_size=256))
    labels = np.array([r.label for r in records])
    train, test = train_test_split(np.arange(len(records)), test_size=0.2, stratify=labels, random_state=SEED)
    vocab = BagOfWordsVocab.build((docs[i] for i in train), vocab_config)
    matrix = docs_to_csr(docs, vocab)
    return {"X_train": matrix[train], "X_test": matrix[test], "y_train": labels[train], "y_test": labels[test],
            "idf": vocab.idf(), "n_vocab": len(vocab), "n_train": len(train), "n_test": len(test)}


def code_metrics(train_codes: Any, test_codes: Any, data: Dict[str, Any]) -> Dict[str, float]:
    """Probe accuracy (train -> test), L0 and cluster NMI on the test split, dead share overall."""
    train_codes, test_codes = sp.csr_matrix(train_codes), sp.csr_matrix(test_codes)
    return {
        "probe_acc": probe_accuracy(train_codes, data["y_train"], test_codes, data["y_test"], seed=SEED),
        "l0": mean_l0(test_codes),
        "dead": dead_share(sp.vstack([train_codes, test_codes])),
        "nmi": cluster_nmi(test_codes, data["y_test"]),
    }


def run_family(family: str, setting: str, data: Dict[str, Any]) -> Dict[str, Any]:
    model_config, train_config = FAMILIES[family][setting]
    model_config = {**SETTINGS[setting], "seed": SEED, **model_config}
    model_config.setdefault("k", 16)
    torch.manual_seed(SEED)
    model = build_model(family, model_config, data["n_vocab"], data["idf"])
    trainer = Trainer(model, TrainConfig(seed=SEED, **train_config), progress=False)
    start = time.perf_counter()
    history = trainer.fit(data["X_train"])
    seconds = time.perf_counter() - start
    result: Dict[str, Any] = {"train_s": seconds, "model_config": model_config, "train_config": train_config,
                              "final_loss": history[-1].get("loss")}
    if setting == "topics":
        result.update(topic_report(model.topic_word_weights().float().cpu().numpy(), data["X_test"], data["X_train"]))
    else:
        result.update(code_metrics(model.encode(data["X_train"]).matrix, model.encode(data["X_test"]).matrix, data))
    return result


def run_baseline(name: str, setting: str, data: Dict[str, Any]) -> Dict[str, Any]:
    K = SETTINGS[setting]["n_latents"]
    if name == "nmf":
        model = NMF(n_components=K, random_state=SEED, max_iter=200)
        train, test = (apply_weighting(data[x], "tfidf", data["idf"]) for x in ("X_train", "X_test"))
        config = {"n_components": K, "input": "l2-normalised tf-idf", "init": "sklearn default", "max_iter": 200}
    else:
        model = LatentDirichletAllocation(n_components=K, learning_method="online", max_iter=10, random_state=SEED)
        train, test = data["X_train"], data["X_test"]
        config = {"n_components": K, "input": "counts", "learning_method": "online", "max_iter": 10}
    start = time.perf_counter()
    model.fit(train)
    result: Dict[str, Any] = {"train_s": time.perf_counter() - start, "model_config": config}
    if setting == "topics":
        result.update(topic_report(model.components_, data["X_test"], data["X_train"]))
    else:
        result.update(code_metrics(model.transform(train), model.transform(test), data))
    return result


def fmt(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


COLUMNS = [
    ("model", None), ("K=50 train s", ("topics", "train_s", 1)), ("NPMI held-out", ("topics", "npmi_heldout", 3)),
    ("NPMI train", ("topics", "npmi_train", 3)), ("TD top-25", ("topics", "td", 3)),
    ("K=256 train s", ("codes", "train_s", 1)), ("probe acc", ("codes", "probe_acc", 3)), ("L0", ("codes", "l0", 1)),
    ("dead", ("codes", "dead", 3)), ("cluster NMI", ("codes", "nmi", 3)),
]


def table_rows(results: Dict[str, Dict[str, Any]]) -> List[List[str]]:
    rows = []
    for name, by_setting in results.items():
        row = [name]
        for _, spec in COLUMNS[1:]:
            setting, key, digits = spec
            row.append(fmt(by_setting.get(setting, {}).get(key), digits))
        rows.append(row)
    return rows


def markdown(rows: List[List[str]], meta: Dict[str, Any]) -> str:
    header = [name for name, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    note = (f"\nBBC News, {meta['n_train']} train / {meta['n_test']} test documents (stratified, seed {SEED}), "
            f"V={meta['n_vocab']} (component defaults, built on the train split). NPMI: top-10 words, document "
            "co-occurrence; TD: unique share of the top-25 words. Codes: K=256, k=16; probe = logistic regression "
            "train→test; L0 / NMI on test codes, dead share over all documents; NMF and LDA codes are dense. "
            "K=50 settings: the sparse autoencoders use log1p input, k=16, init_neighbours=40, "
            "latents_per_word=2, diversity_coef=2.0; the VAEs k=8 on counts; every model's exact settings are in "
            f"model_zoo.json. Train seconds with {meta['cpu_threads']} CPU thread(s) (torch {meta['torch']}); "
            "produced by `python benchmarks/model_zoo.py`.\n")
    return "\n".join(lines) + "\n" + note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated families/baselines to run (default: all)")
    parser.add_argument("--settings", default="topics,codes", help="comma-separated settings: topics, codes")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write the results files")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch and the BLAS (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        run_all(args)


def run_all(args: argparse.Namespace) -> None:
    names = [n for n in (*FAMILIES, *BASELINES) if not args.only or n in args.only.split(",")]
    settings = [s for s in SETTINGS if s in args.settings.split(",")]
    console = Console(width=200)
    start = time.perf_counter()
    data = load_bbc()
    console.print(f"BBC: {data['n_train']} train / {data['n_test']} test docs, V={data['n_vocab']} "
                  f"({time.perf_counter() - start:.1f} s to tokenise and featurise)")
    results: Dict[str, Dict[str, Any]] = {}
    for name in names:
        for setting in settings:
            run = run_baseline if name in BASELINES else run_family
            results.setdefault(name, {})[setting] = outcome = run(name, setting, data)
            shown = {k: round(v, 3) for k, v in outcome.items() if isinstance(v, float)}
            console.print(f"[bold]{name}[/bold] {setting}: {shown}")
    rows = table_rows(results)
    table = Table(title="Model zoo on BBC News")
    for column, _ in COLUMNS:
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    meta = {"n_train": data["n_train"], "n_test": data["n_test"], "n_vocab": data["n_vocab"], "seed": SEED,
            "cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "sklearn": sklearn.__version__,
            "spacy": spacy.__version__, "python": platform.python_version(), "settings": SETTINGS}
    if not args.no_write:
        write_json_atomic(RESULTS / "model_zoo.json", {"meta": meta, "results": results})
        write_bytes_atomic(RESULTS / "model_zoo.md", markdown(rows, meta).encode("utf8"))
        console.print(f"wrote {RESULTS / 'model_zoo.json'} and {RESULTS / 'model_zoo.md'}")


if __name__ == "__main__":
    main()
