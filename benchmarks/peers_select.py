"""Choose the settings of ``ours-topk-late`` on a validation split of the training set.

The peer benchmark reports held-out NPMI on each corpus's test split; settings chosen by
that figure would be tuned on the test set. This script splits the *training* documents
(seeded 80/20, or by date), trains each candidate on the 80% and scores its topics on the 20%
(held-out NPMI, TD), with NMF as the reference, and writes
``peers_select_<corpus>[_dated].{json,md}`` to the results folder (the runs of candidates not
run this time are kept from that file when its split, seeds and base settings match):

    python -m benchmarks.peers_select                 # 20 Newsgroups, seeds 0-5, random split
    python -m benchmarks.peers_select --split dated   # each group's latest training posts held out
    python -m benchmarks.peers_select --corpus bbc --seeds 3 --candidates "the setting;k 8"

The candidates, K, seeds and split are ``[peers_select]`` in ``settings.toml``; each candidate
overrides the ``ours-topk-late`` settings of ``[peers.systems.ours-topk-late]``.
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

from spacy_sparsecode.models.trainer import TrainConfig

if __package__:
    from . import harness
else:  # run as a file (python benchmarks/peers_select.py): this folder is the import root
    import harness

SETTINGS = harness.settings("peers_select")
#: Candidate overrides of the base (``TrainConfig`` fields: its training settings; every other field: its model).
CANDIDATES: Dict[str, Dict[str, Any]] = SETTINGS["candidates"]
BASE = harness.settings("peers")["systems"]["ours-topk-late"]
REFERENCE = "sklearn-nmf"
TRAIN_FIELDS = frozenset(f.name for f in fields(TrainConfig))
K = SETTINGS["K"]


def dated_validation_rows(n_docs: int, path: Path) -> np.ndarray:
    """The latest share of each newsgroup's training posts (``harness.dated_rows``), as rows of the
    benchmark's 20 Newsgroups training matrix of ``n_docs`` posts (same order)."""
    ids = harness.load_20ng(path).train.ids
    if len(ids) != n_docs:
        raise ValueError(f"{path} has {len(ids)} non-empty training posts, the benchmark's corpus {n_docs}: "
                         f"delete the benchmark's corpus cache ({harness.cache_dir()}) and rerun")
    return harness.dated_rows(ids, SETTINGS["validation_share"])


def validation_corpus(corpus: harness.TopicCorpus, validation: Optional[np.ndarray] = None, how: str = "random") -> harness.TopicCorpus:
    """The training documents split into fit (``train``) and validation (``test``) parts;
    ``validation``: the validation rows (default: a seeded random share)."""
    n_docs = corpus.train.shape[0]
    val = harness.random_rows(n_docs, SETTINGS["validation_share"], SETTINGS["split_seed"]) if validation is None else np.sort(validation)
    fit = np.setdiff1d(np.arange(n_docs), val)
    return harness.TopicCorpus(f"{corpus.name}-validation", corpus.train[fit], corpus.train[val], None, None, corpus.words,
                               corpus.idf, f"{corpus.name} training set, {len(fit)} fit / {len(val)} validation docs"
                               + ("" if how == "random" else f" ({how} split)"))


def fit_candidate(name: str, corpus: harness.TopicCorpus, seed: int) -> harness.Fitted:
    """Train candidate ``name`` (or ``sklearn-nmf``, the reference) at K on ``corpus.train``."""
    if name == REFERENCE:
        return harness.topics.topic_systems()[REFERENCE].run(corpus, K, seed)
    overrides = CANDIDATES[name]
    train = {**BASE["train"], **{f: v for f, v in overrides.items() if f in TRAIN_FIELDS}}
    model = {"n_latents": K, **BASE["model"], **{f: v for f, v in overrides.items() if f not in TRAIN_FIELDS}, "seed": seed}
    return harness.topics.fit_model(BASE["family"], model, train, corpus, seed)


def score(fitted: harness.Fitted, corpus: harness.TopicCorpus) -> Dict[str, float]:
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
    return {name: rows for name, rows in saved.get("runs", {}).items() if name in CANDIDATES or name == REFERENCE} if same else {}


def markdown(meta: Dict[str, Any], summary: Dict[str, Dict[str, Any]]) -> str:
    """The validation table: mean ± std over seeds of each candidate."""
    base = meta["base"]
    rows = [[name, f"{e['npmi'][0]:.3f} ± {e['npmi'][1]:.3f}", f"{e['td'][0]:.2f}", f"{e['train_s'][0]:.1f}"] for name, e in summary.items()]
    return (f"Validation split of a training set ({meta['corpus']}), K={meta['K']}, seeds 0-{meta['seeds'] - 1}, "
            f"measured {meta['date']}. Each candidate overrides the `ours-topk-late` settings: model {base['model']}, "
            f"training {base['train']}. Train seconds come from runs at different times on a shared machine: "
            "compare candidates' costs by their steps, not by these.\n\n"
            + harness.markdown_table(("system", "held-out NPMI", "TD", "train s"), rows, "lrrr") + "\n")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="20ng", choices=["20ng", "bbc"])
    parser.add_argument("--seeds", type=int, default=SETTINGS["seeds"], help="seeds per candidate (default %(default)s)")
    parser.add_argument("--candidates", default="", help="candidate names separated by ';' (default: all)")
    parser.add_argument("--split", default="random", choices=["random", "dated"],
                        help="validation rows: a random share, or (20ng) each group's latest posts")
    harness.add_path_arguments(parser, shared=True)
    args = parser.parse_args(argv)
    chosen = [c.strip() for c in args.candidates.split(";") if c.strip()] or list(CANDIDATES)
    unknown = [c for c in chosen if c not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidate {unknown[0]!r}; known: {'; '.join(CANDIDATES)}")
    if args.split == "dated" and args.corpus != "20ng":
        parser.error("--split dated needs dated posts: only --corpus 20ng has them")
    newsgroups = args.shared_corpora / harness.corpora.NEWSGROUPS_FILE
    corpus = harness.topics.topic_corpus(args.corpus, args.shared_corpora)
    if corpus is None:
        print(f"skip: {newsgroups} is absent")
        return 0
    validation = dated_validation_rows(corpus.train.shape[0], newsgroups) if args.split == "dated" else None
    data = validation_corpus(corpus, validation, args.split)
    print(f"== {data.note}")
    stem = f"peers_select_{args.corpus}{'_dated' if args.split == 'dated' else ''}"
    meta = dict(date=time.strftime("%Y-%m-%d"), corpus=data.note, seeds=args.seeds, split_seed=SETTINGS["split_seed"], K=K,
                base=dict(model=BASE["model"], train=BASE["train"]))
    results = earlier_runs(Path(args.out) / f"{stem}.json", meta)
    reference = [] if len(results.get(REFERENCE, [])) == args.seeds else [REFERENCE]  # run once per split
    for name in [*reference, *chosen]:
        for seed in range(args.seeds):
            row = score(fit_candidate(name, data, seed), data)
            results[name] = [*results.get(name, [])[:seed], row]
            print(f"   {name:20s} seed={seed} NPMI {row['npmi']:+.3f}  TD {row['td']:.2f}  train {row['train_s']:.1f}s", flush=True)
    summary = {name: {metric: (float(np.mean([r[metric] for r in results[name]])), float(np.std([r[metric] for r in results[name]])))
                      for metric in ("npmi", "td", "train_s")}
               for name in [REFERENCE, *CANDIDATES] if name in results}  # the reference first, then the candidates' order
    harness.write_results(args.out, stem, dict(meta=meta, summary=summary, runs=results), markdown(meta, summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
