"""A large synthetic-but-realistic corpus: documents made of sampled BBC News sentences.

Each document takes one BBC topic (business, entertainment, politics, sport, tech; drawn
in proportion to the BBC corpus) and 4–16 sentences (uniform) sampled with replacement
from that topic's articles, so word statistics and topics are those of real news. Output:
JSON lines ``{"id", "text", "label"}``, seeded, written atomically. It is benchmark input
only: write it to a temporary folder, never into the repository.

Run: ``python benchmarks/make_large_corpus.py OUT.jsonl --n-docs 200000 [--seed 0]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spacy_sparsecode.text.corpora import iter_bbc  # noqa: E402
from spacy_sparsecode.io import atomic_path  # noqa: E402

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
MIN_WORDS = 4


def bbc_sentences() -> Dict[str, List[str]]:
    """BBC body sentences (title lines left out) grouped by topic label."""
    by_label: Dict[str, List[str]] = {}
    for record in iter_bbc():
        body = record.text.split("\n", 1)[1] if "\n" in record.text else record.text
        for paragraph in body.split("\n"):
            for sentence in _SENTENCE_END.split(paragraph.strip()):
                if len(sentence.split()) >= MIN_WORDS:
                    by_label.setdefault(record.label, []).append(sentence)
    return by_label


def make_corpus(path: Path, n_docs: int, seed: int = 0, min_sentences: int = 4, max_sentences: int = 16) -> Dict[str, float]:
    """Write ``n_docs`` documents to ``path``; return size statistics."""
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
            picks = rng.integers(0, len(pool), size=lengths[i])
            text = " ".join(pool[j] for j in picks)
            n_chars += len(text)
            f.write(json.dumps({"id": f"synth-{i:07d}", "text": text, "label": labels[doc_labels[i]]}) + "\n")
    return {"n_docs": n_docs, "mean_chars": n_chars / max(n_docs, 1), "mean_sentences": float(lengths.mean()),
            "n_source_sentences": int(sum(len(p) for p in pools.values()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--n-docs", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(make_corpus(args.output, args.n_docs, args.seed)))


if __name__ == "__main__":
    main()
