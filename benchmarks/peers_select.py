"""Choose the settings of ``ours-topk-late`` on a validation split of the training set.

The peer benchmark reports held-out NPMI on each corpus's test split; settings chosen by
that figure would be tuned on the test set. This script splits the *training* documents
(seeded 80/20), trains each candidate on the 80% and scores its topics on the 20% (held-out
NPMI, TD), with NMF as the reference, and writes ``benchmarks/results/peers_select_<corpus>.{json,md}``
(the runs of candidates not run this time are kept from that file when its split, seeds and
base settings match):

    python benchmarks/peers_select.py                 # 20 Newsgroups, seeds 0-5, random split
    python benchmarks/peers_select.py --split dated   # each group's latest training posts held out
    python benchmarks/peers_select.py --corpus bbc --seeds 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402  (the benchmark's corpora, vocabulary and systems)

from spacy_sparsecode.models.trainer import TrainConfig  # noqa: E402

#: Candidate overrides of ``ours-topk-late``'s training settings (``peers.OURS_LATE_TRAIN``:
#: ``TrainConfig`` fields) and model settings (``peers.OURS_TOPK_LATE``: every other field).
CANDIDATES: Dict[str, Dict[str, Any]] = {
    "the setting": {},
    # the setting before the non-negative encoder (2026-11-24): a learned encoder bias leaves
    # 1-2 active latents a document, so latents become small clusters (threads, signatures)
    "biased encoder, k 8, exclusivity 0.7, lr 8e-3": dict(nonneg_encoder=False, k=8, exclusivity=0.7, lr=8e-3),
    "biased encoder": dict(nonneg_encoder=False),
    # training: batches of 256 (450 steps on 20 Newsgroups), the step size
    "lr 8e-3": dict(lr=8e-3),
    "lr 1.2e-2": dict(lr=1.2e-2),
    "lr 2e-2": dict(lr=2e-2),
    "12 epochs": dict(epochs=12),
    "batch 128, lr 8e-3": dict(batch_size=128, lr=8e-3),
    # 450 steps are the 10 epochs of the full 20 Newsgroups training set at batch 256; on a
    # smaller corpus (BBC: 7 batches an epoch) they add epochs instead of stopping at 70 steps.
    "at least 450 steps": dict(min_steps=450),
    # model settings, with the training setting above
    "k 4": dict(k=4),
    "k 5": dict(k=5),
    "k 8": dict(k=8),
    "exclusivity 0.5": dict(exclusivity=0.5),
    "exclusivity 0.7": dict(exclusivity=0.7),
    "constrain from 0.5": dict(constrain_from=0.5),
    "init from 50 neighbours": dict(init_neighbours=50),
    "init from 200 neighbours": dict(init_neighbours=200),
}
TRAIN_FIELDS = frozenset(f.name for f in fields(TrainConfig))
VALIDATION_SHARE = 0.2
SPLIT_SEED = 123
K = 50


def random_validation_rows(n_docs: int) -> np.ndarray:
    """A seeded random ``VALIDATION_SHARE`` of the training rows."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n_docs)
    return np.sort(order[: int(VALIDATION_SHARE * n_docs)])


def dated_validation_rows(n_docs: int, path: Path = peers.NEWSGROUPS) -> np.ndarray:
    """The latest ``VALIDATION_SHARE`` of each newsgroup's training posts, by message number.

    The bydate test posts are later than the training posts (message numbers grow with the
    posting date: every group's test posts lie above its training median), so this split
    holds out what a random one does not: authors and threads that stop, topics that move.
    Rows are in the order ``peers.load_20ng`` keeps the training posts.
    """
    from spacy_sparsecode.text.corpora import read_corpus

    groups, numbers = [], []
    for record in read_corpus(path, on_error="skip"):
        if record.text.strip() and (record.split or "").startswith("train"):
            _, group, number = record.id.split("/")
            groups.append(group)
            numbers.append(int(number))
    if len(numbers) != n_docs:
        raise ValueError(f"{path} has {len(numbers)} non-empty training posts, the benchmark's corpus {n_docs}: "
                         f"delete the benchmark's corpus cache ({peers.CACHE}) and rerun")
    groups_arr, numbers_arr = np.array(groups), np.array(numbers)
    latest = np.zeros(len(numbers), dtype=bool)
    for group in np.unique(groups_arr):
        rows = np.flatnonzero(groups_arr == group)
        latest[rows] = numbers_arr[rows] > np.quantile(numbers_arr[rows], 1 - VALIDATION_SHARE)
    return np.flatnonzero(latest)


def validation_corpus(corpus: peers.Corpus, validation: Optional[np.ndarray] = None, how: str = "random") -> peers.Corpus:
    """The training documents split into fit (``train``) and validation (``test``) parts;
    ``validation``: the validation rows (default: ``random_validation_rows``)."""
    n_docs = corpus.train.shape[0]
    val = random_validation_rows(n_docs) if validation is None else np.sort(validation)
    fit = np.setdiff1d(np.arange(n_docs), val)
    return peers.Corpus(f"{corpus.name}-validation", corpus.train[fit], corpus.train[val], None, None, corpus.words,
                        corpus.idf, f"{corpus.name} training set, {len(fit)} fit / {len(val)} validation docs"
                        + ("" if how == "random" else f" ({how} split)"))


def fit_candidate(name: str, corpus: peers.Corpus, seed: int) -> peers.Fitted:
    """Train candidate ``name`` (or ``sklearn-nmf``, the reference) at K=50 on ``corpus.train``."""
    if name == "sklearn-nmf":
        return peers.fit_nmf(corpus, K, seed)
    overrides = CANDIDATES[name]
    train = {**peers.OURS_LATE_TRAIN, **{f: v for f, v in overrides.items() if f in TRAIN_FIELDS}}
    settings = {"n_latents": K, **peers.OURS_TOPK_LATE, **{f: v for f, v in overrides.items() if f not in TRAIN_FIELDS}, "seed": seed}
    return peers.fit_model("topk", settings, train, corpus, seed)


def score(fitted: peers.Fitted, corpus: peers.Corpus) -> Dict[str, float]:
    from spacy_sparsecode.metrics import topic_report

    report = topic_report(np.asarray(fitted.topic_word, dtype=np.float64), corpus.test, corpus.train)
    return dict(npmi=report["npmi_heldout"], td=report["td"], train_s=fitted.train_seconds)


def earlier_runs(path: Path, meta: Dict[str, Any]) -> Dict[str, List[Dict[str, float]]]:
    """The runs saved in ``path`` when they were made on the same split, with the same seeds and the
    same base settings the candidates override; else none."""
    if not path.exists():
        return {}
    saved = json.loads(path.read_text(encoding="utf8"))
    same = all(saved.get("meta", {}).get(key) == meta[key] for key in ("corpus", "seeds", "split_seed", "K", "base"))
    return {name: rows for name, rows in saved.get("runs", {}).items() if name in CANDIDATES or name == "sklearn-nmf"} if same else {}


def write_results(out: Path, data: Dict[str, Any], table: str) -> str:
    """Write ``data`` to ``out`` (JSON) and ``table`` beside it (``.md``), each atomically; return the table."""
    from spacy_sparsecode.io import write_bytes_atomic

    write_bytes_atomic(out, json.dumps(data, indent=1).encode("utf8"))
    write_bytes_atomic(out.with_suffix(".md"), table.encode("utf8"))
    return table


def markdown(meta: Dict[str, Any], summary: Dict[str, Dict[str, Any]]) -> str:
    """The validation table: mean ± std over seeds of each candidate, NMF first."""
    base = meta["base"]
    lines = [f"Validation split of a training set ({meta['corpus']}), K={meta['K']}, seeds 0-{meta['seeds'] - 1}, "
             f"measured {meta['date']}. Each candidate overrides the `ours-topk-late` settings: model {base['model']}, "
             f"training {base['train']}. Train seconds come from runs at different times on a shared machine: "
             "compare candidates' costs by their steps, not by these.", "",
             "| system | held-out NPMI | TD | train s |", "|---|---:|---:|---:|"]
    for name, entry in summary.items():
        lines.append(f"| {name} | {entry['npmi'][0]:.3f} ± {entry['npmi'][1]:.3f} | {entry['td'][0]:.2f} | {entry['train_s'][0]:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="20ng", choices=["20ng", "bbc"])
    parser.add_argument("--seeds", type=int, default=6, help="seeds per candidate (default 6)")
    parser.add_argument("--candidates", default="", help="candidate names separated by ';' (default: all)")
    parser.add_argument("--split", default="random", choices=["random", "dated"],
                        help="validation rows: a random share, or (20ng) each group's latest posts")
    parser.add_argument("--out", default=str(peers.RESULTS), help="results folder")
    args = parser.parse_args(argv)
    chosen = [c.strip() for c in args.candidates.split(";") if c.strip()] or list(CANDIDATES)
    unknown = [c for c in chosen if c not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidate {unknown[0]!r}; known: {'; '.join(CANDIDATES)}")
    if args.split == "dated" and args.corpus != "20ng":
        parser.error("--split dated needs dated posts: only --corpus 20ng has them")
    corpus = peers.load_20ng() if args.corpus == "20ng" else peers.load_bbc()
    if corpus is None:
        print(f"skip: {peers.NEWSGROUPS} is absent")
        return 0
    validation = dated_validation_rows(corpus.train.shape[0]) if args.split == "dated" else None
    data = validation_corpus(corpus, validation, args.split)
    print(f"== {data.note}")
    out = Path(args.out) / f"peers_select_{args.corpus}{'_dated' if args.split == 'dated' else ''}.json"
    meta = dict(date=time.strftime("%Y-%m-%d"), corpus=data.note, seeds=args.seeds, split_seed=SPLIT_SEED, K=K,
                base=dict(model=peers.OURS_TOPK_LATE, train=peers.OURS_LATE_TRAIN))
    results = earlier_runs(out, meta)
    reference = [] if len(results.get("sklearn-nmf", [])) == args.seeds else ["sklearn-nmf"]  # run once per split
    for name in [*reference, *chosen]:
        for seed in range(args.seeds):
            row = score(fit_candidate(name, data, seed), data)
            results[name] = [*results.get(name, [])[:seed], row]
            print(f"   {name:20s} seed={seed} NPMI {row['npmi']:+.3f}  TD {row['td']:.2f}  train {row['train_s']:.1f}s", flush=True)
    summary = {name: {metric: (float(np.mean([r[metric] for r in rows])), float(np.std([r[metric] for r in rows])))
                      for metric in ("npmi", "td", "train_s")} for name, rows in results.items()}
    print(write_results(out, dict(meta=meta, summary=summary, runs=results), markdown(meta, summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
