"""Peer comparison: spacy-sparsecode against classical and neural topic models.

One command trains every system on the same corpus, vocabulary and split, for several
seeds, and writes ``peers.json`` + ``peers.md`` to the results folder:

    python -m benchmarks.peers                    # BBC + 20 Newsgroups, 3 seeds, all systems
    python -m benchmarks.peers --quick            # BBC, 1 seed, fast systems only
    python -m benchmarks.peers --corpora bbc --seeds 5 --topics 50
    python -m benchmarks.peers --from-json        # train nothing: rewrite the tables

(``python benchmarks/peers.py`` works the same.) The systems, corpora and timing rules are in
``benchmarks.harness.topics``, their settings in ``settings.toml`` (``[peers]``). Systems whose
package is missing are skipped with a printed reason. Topic quality uses
``spacy_sparsecode.metrics``: NPMI of each topic's top-10 words by document co-occurrence on the
held-out split (and the training split), TD of the top-25 words; codes are probed (logistic
regression on the labels) and clustered (NMI). ``check_targets`` scores the run against the
targets of the issue that asked for it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import scipy.sparse as sp

if __package__:
    from . import harness
else:  # run as a file (python benchmarks/peers.py): this folder is the import root
    import harness

SETTINGS = harness.settings("peers")
SYSTEMS = harness.topics.topic_systems()


def _dense(rep: Any) -> np.ndarray:
    return rep.toarray() if sp.issparse(rep) else np.asarray(rep)


def truncate_top_abs(rep: np.ndarray, k: Union[int, np.ndarray]) -> sp.csr_matrix:
    """Keep each row's ``k`` largest absolute values (the rest zero); ``k`` may differ per row."""
    rep = np.asarray(rep)
    per_row = np.broadcast_to(np.asarray(k, dtype=np.int64), (rep.shape[0],))
    per_row = np.clip(per_row, 0, rep.shape[1])
    order = np.argsort(-np.abs(rep), axis=1, kind="stable")
    keep = np.arange(rep.shape[1])[None, :] < per_row[:, None]  # rank < k, per row
    out = np.zeros_like(rep)
    np.put_along_axis(out, order, np.where(keep, np.take_along_axis(rep, order, axis=1), 0), axis=1)
    return sp.csr_matrix(out)


def _row_nnz(rep: Any) -> np.ndarray:
    return np.diff(rep.indptr) if sp.issparse(rep) else np.count_nonzero(np.asarray(rep), axis=1)


RowNnz = Tuple[np.ndarray, np.ndarray]  # non-zeros per (train, test) document


def evaluate(name: str, fitted: harness.Fitted, corpus: harness.TopicCorpus, K: int,
             ours_nnz: Optional[Dict[str, RowNnz]] = None) -> Tuple[Dict[str, Any], Optional[RowNnz]]:
    """Score one fitted system: its result row, and for our systems their codes' non-zeros per
    document (None for peers). For LSA, ``ours_nnz`` maps each of our systems to those counts:
    LSA is also probed truncated to them."""
    from spacy_sparsecode.metrics import cluster_nmi, mean_l0, probe_accuracy, topic_report

    report = topic_report(np.asarray(fitted.topic_word, dtype=np.float64), corpus.test, corpus.train)
    with harness.Timer() as clock:
        test_repr = fitted.encode(corpus.test)
    row: Dict[str, Any] = dict(system=name, K=K, train_s=fitted.train_seconds, npmi_heldout=report["npmi_heldout"],
                               npmi_train=report["npmi_train"], td=report["td"], encode_docs_per_s=corpus.test.shape[0] / max(clock.seconds, 1e-9))
    row["l0"] = mean_l0(sp.csr_matrix(_dense(test_repr)) if not sp.issparse(test_repr) else test_repr)
    if corpus.y_train is None:
        row["label_note"] = "corpus has no labels: probe and NMI skipped"
        return row, None
    train_repr = fitted.train_repr if fitted.train_repr is not None else fitted.encode(corpus.train)
    row["probe"] = probe_accuracy(train_repr, corpus.y_train, test_repr, corpus.y_test)
    row["nmi"] = cluster_nmi(sp.csr_matrix(_dense(test_repr)) if not sp.issparse(test_repr) else test_repr, corpus.y_test)
    if name == "lsa":
        for system, (train_nnz, test_nnz) in (ours_nnz or {}).items():
            row[MATCHED_PROBE + system] = probe_accuracy(truncate_top_abs(_dense(train_repr), train_nnz), corpus.y_train,
                                                          truncate_top_abs(_dense(test_repr), test_nnz), corpus.y_test)
    elif name.startswith("ours"):
        return row, (_row_nnz(train_repr), _row_nnz(test_repr))
    return row, None


def _mean_std(values: List[float]) -> Tuple[float, float]:
    arr = np.array([v for v in values if v is not None], dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


METRICS = ("train_s", "npmi_heldout", "npmi_train", "td", "probe", "nmi", "encode_docs_per_s", "l0")
#: LSA's probe accuracy with each document truncated to as many non-zeros as our system's code has.
MATCHED_PROBE = "probe_at_l0:"


def summarise(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    groups: Dict[Tuple[str, str, int], List[Dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["corpus"], row["system"], row["K"]), []).append(row)
    out = []
    for (corpus, system, K), members in groups.items():
        entry: Dict[str, Any] = dict(corpus=corpus, system=system, K=K, n_seeds=len(members))
        matched = sorted({key for m in members for key in m if key.startswith(MATCHED_PROBE)})
        for metric in (*METRICS, *matched):
            values = [m.get(metric) for m in members if m.get(metric) is not None]
            if values:
                entry[metric], entry[metric + "_std"] = _mean_std(values)
        out.append(entry)
    return out


def _probe_checks(summary: List[Dict[str, Any]], by: Dict[Tuple[str, str, int], Dict[str, Any]], corpus: str) -> List[Dict[str, Any]]:
    """Features target: our best codes' probe accuracy >= LSA's at the same non-zeros per document
    (``by``: the summary keyed by corpus, system and K)."""
    checks = []
    for K in (20, 50):
        lsa = by.get((corpus, "lsa", K))
        mine = [s for s in summary if s["corpus"] == corpus and s["K"] == K and f"{MATCHED_PROBE}{s['system']}" in (lsa or {})]
        if not mine:
            continue
        margins = {s["system"]: s["probe"] - lsa[f"{MATCHED_PROBE}{s['system']}"] for s in mine}
        best = max(mine, key=lambda s: margins[s["system"]])
        others = ", ".join(f"{s['system']} {s['probe']:.3f} vs {lsa[MATCHED_PROBE + s['system']]:.3f}" for s in mine if s is not best)
        checks.append(dict(corpus=corpus, target=f"probe K={K}: our best codes >= LSA with the same non-zeros per document",
                           ours=f"{best['system']} {best['probe']:.3f} (L0 {best['l0']:.1f})",
                           peer=f"{lsa[MATCHED_PROBE + best['system']]:.3f}" + (f"; {others}" if others else ""),
                           met=bool(margins[best["system"]] >= 0)))
    return checks


def check_targets(summary: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The issue's targets, computed from the summary (ratios within this run)."""
    checks = []
    by = {(s["corpus"], s["system"], s["K"]): s for s in summary}
    for corpus in sorted({s["corpus"] for s in summary}):
        ours = [s for s in summary if s["corpus"] == corpus and s["K"] == 50 and s["system"].startswith("ours")]
        peers = [s for s in summary if s["corpus"] == corpus and s["K"] == 50 and not s["system"].startswith("ours") and s["system"] != "lsa"]
        checks += _probe_checks(summary, by, corpus)
        if not ours or not peers:
            continue
        diverse = [s for s in ours if s["td"] >= 0.9]  # the target counts our systems with TD >= 0.9
        best_ours = max(diverse or ours, key=lambda s: s["npmi_heldout"])
        best_peer = max(peers, key=lambda s: s["npmi_heldout"])
        checks.append(dict(corpus=corpus, target="NPMI held-out K=50: our best with TD >= 0.9 >= best peer",
                           ours=f"{best_ours['system']} {best_ours['npmi_heldout']:.3f} (TD {best_ours['td']:.2f})",
                           peer=f"{best_peer['system']} {best_peer['npmi_heldout']:.3f} (TD {best_peer['td']:.2f})",
                           met=bool(best_ours["npmi_heldout"] >= best_peer["npmi_heldout"] and best_ours["td"] >= 0.9)))
        # speed: the system of the quality check must reach its quality fast enough
        fast = best_ours
        for peer, factor in (("sklearn-nmf", 1.0), ("gensim-lda", 10.0), ("prodlda-topmost", 10.0), ("tomotopy-lda", None)):
            other = by.get((corpus, peer, 50))
            if not other:
                continue
            ratio = other["train_s"] / fast["train_s"]
            checks.append(dict(corpus=corpus, target=f"train time K=50: {peer} / {fast['system']}" + (f" >= {factor:g}" if factor else " (report)"),
                               ours=f"{fast['train_s']:.1f}s", peer=f"{other['train_s']:.1f}s", ratio=round(ratio, 2),
                               met=None if factor is None else bool(ratio >= factor)))
    return checks


def _fmt(entry: Dict[str, Any], metric: str, digits: int) -> str:
    if metric not in entry or entry[metric] != entry[metric]:
        return "–"
    value = f"{entry[metric]:.{digits}f}"
    std = entry.get(metric + "_std")
    return value + (f" ± {std:.{digits}f}" if entry.get("n_seeds", 1) > 1 and std else "")


COLUMNS = ("corpus", "system", "K", "train s", "NPMI held-out", "NPMI train", "TD", "probe acc", "cluster NMI", "encode docs/s", "L0")


def markdown(summary: List[Dict[str, Any]], checks: List[Dict[str, Any]], meta: Dict[str, Any]) -> str:
    rows = []
    for e in sorted(summary, key=lambda s: (s["corpus"], s["K"], -s.get("npmi_heldout", -9))):
        system = e["system"] + (f" ({e['n_seeds']} seed{'s' if e['n_seeds'] > 1 else ''})" if e["n_seeds"] != meta["seeds"] else "")
        rows.append([e["corpus"], system, e["K"], _fmt(e, "train_s", 1), _fmt(e, "npmi_heldout", 3), _fmt(e, "npmi_train", 3),
                     _fmt(e, "td", 2), _fmt(e, "probe", 3), _fmt(e, "nmi", 3), _fmt(e, "encode_docs_per_s", 0), _fmt(e, "l0", 1)])
    lines = [f"Measured {meta['date']} on {meta['machine']}; seeds {meta['seeds']}; mean ± std over seeds.", "",
             harness.markdown_table(COLUMNS, rows, "llrrrrrrrrr")]
    if checks:
        met = {None: "n/a", True: "yes", False: "**no**"}
        rows = [[c["corpus"], c["target"], c["ours"], c["peer"] + (f" (×{c['ratio']})" if "ratio" in c else ""), met[c["met"]]]
                for c in checks]
        lines += ["", harness.markdown_table(("corpus", "target", "ours", "peer", "met"), rows)]
    if meta.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(f"{k}: {v}" for k, v in meta["skipped"].items())]
    return "\n".join(lines) + "\n"


def rewrite_tables(out: Path) -> str:
    """Recompute the targets and the markdown table from a saved ``peers.json`` (no training)."""
    data = json.loads((Path(out) / "peers.json").read_text(encoding="utf8"))
    data["checks"] = check_targets(data["summary"])
    return harness.write_results(out, "peers", data, markdown(data["summary"], data["checks"], data["meta"]))


def run_seed(corpus: harness.TopicCorpus, names: List[str], K: int, seed: int, skipped: Dict[str, str]) -> List[Dict[str, Any]]:
    """Train and score each system in ``names`` once; a failing system is recorded in ``skipped``."""
    rows: List[Dict[str, Any]] = []
    ours_nnz: Dict[str, RowNnz] = {}
    for name in names:
        if seed > 0 and name in SETTINGS["one_seed_systems"]:
            continue
        try:
            fitted = SYSTEMS[name].run(corpus, K, seed)
            row, nnz = evaluate(name, fitted, corpus, K, ours_nnz)
        except Exception as error:  # one failing peer must not sink the run
            print(f"   {name} K={K} seed={seed} failed: {type(error).__name__}: {error}")
            skipped[f"{name} K={K} seed={seed}"] = f"{type(error).__name__}: {error}"
            continue
        if nnz is not None:
            ours_nnz[name] = nnz
        row.update(corpus=corpus.name, seed=seed)
        if fitted.settings:
            row["settings"] = {k: v for k, v in fitted.settings.items() if k != "history"}
            if "history" in fitted.settings:
                row["history"] = fitted.settings["history"]
        rows.append(row)
        print(f"   {name:22s} K={K:<3d} seed={seed} train {row['train_s']:7.1f}s  NPMI {row['npmi_heldout']:+.3f} "
              f"(train {row['npmi_train']:+.3f})  TD {row['td']:.2f}  probe {row.get('probe', float('nan')):.3f}  "
              f"NMI {row.get('nmi', float('nan')):.3f}  encode {row['encode_docs_per_s']:,.0f}/s  L0 {row['l0']:.1f}", flush=True)
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=SETTINGS["seeds"], help="number of seeds per system (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help="1 seed, BBC only, fast systems only")
    parser.add_argument("--corpora", default=",".join(SETTINGS["corpora"]), help="comma list of bbc, 20ng")
    parser.add_argument("--systems", default="", help="comma list (default: all); known: " + ", ".join(SYSTEMS))
    parser.add_argument("--topics", default=",".join(map(str, SETTINGS["topics"])), help="comma list of K")
    parser.add_argument("--from-json", action="store_true", help="train nothing: rewrite the tables from the saved peers.json")
    harness.add_path_arguments(parser, shared=True)
    args = parser.parse_args(argv)
    if args.from_json:
        rewrite_tables(args.out)
        return 0
    seeds = 1 if args.quick else args.seeds
    corpora = ["bbc"] if args.quick and args.corpora == ",".join(SETTINGS["corpora"]) else args.corpora.split(",")
    names = args.systems.split(",") if args.systems else list(SETTINGS["quick_systems"] if args.quick else SYSTEMS)
    topics = [int(k) for k in args.topics.split(",")]

    availability = harness.unavailable(SYSTEMS, names)
    skipped = {name: reason for name, reason in availability.items() if reason}
    for name, reason in skipped.items():
        print(f"skip {name}: {reason}")
    runnable = [n for n in names if not availability[n]]

    rows: List[Dict[str, Any]] = []
    notes: Dict[str, str] = {}
    for corpus_name in corpora:
        with harness.Timer() as clock:
            corpus = harness.topics.topic_corpus(corpus_name, args.shared_corpora)
        if corpus is None:
            reason = (f"{args.shared_corpora / harness.corpora.NEWSGROUPS_FILE} is absent" if corpus_name == "20ng"
                      else "unknown corpus (use bbc or 20ng)")
            print(f"skip corpus {corpus_name}: {reason}")
            skipped[f"corpus {corpus_name}"] = reason
            continue
        notes[corpus_name] = (f"{corpus.note}; train {corpus.train.shape[0]} docs, test {corpus.test.shape[0]}, "
                              f"V={corpus.train.shape[1]}")
        print(f"== {corpus_name}: {notes[corpus_name]} (loaded in {clock.seconds:.1f}s)")
        if corpus.y_train is None:
            print(f"   {corpus_name} has no labels: probe accuracy and cluster NMI are skipped")
        for K in topics:
            for seed in range(seeds):
                rows += run_seed(corpus, runnable, K, seed, skipped)

    summary = summarise(rows)
    import torch

    meta = dict(date=time.strftime("%Y-%m-%d"), machine=f"{platform.machine()} CPU, {os.cpu_count()} cores (torch {torch.__version__}, "
                f"{torch.get_num_threads()} threads)", seeds=seeds, corpora=notes, skipped=skipped, command=" ".join(sys.argv))
    checks = check_targets(summary)
    harness.write_results(args.out, "peers", dict(meta=meta, summary=summary, checks=checks, runs=rows), markdown(summary, checks, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
