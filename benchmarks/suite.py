"""The development suite (issue 19): where ``sparsecode train`` with its defaults stands on every corpus.

    python -m benchmarks.suite                    # every corpus, 3 seeds, K=50 -> suite.json, suite.md
    python -m benchmarks.suite --quick            # 1 seed, <= 2,000 training docs a corpus -> suite_quick.*
    python -m benchmarks.suite --corpora bbc,foldoc_en --seeds 1 --out /tmp/suite
    python -m benchmarks.suite --resume           # keep the corpora a previous run with the same settings finished
    python -m benchmarks.suite --from-json        # train nothing: rewrite the targets and tables

(``python benchmarks/suite.py`` works the same.) Corpora: every ``corpora/*.jsonl.gz`` (their own
split), BBC (seeded stratified split) and 20 Newsgroups bydate from the shared corpora (skipped
with a printed reason when absent). Each corpus is tokenised once with ``spacy.blank(lang)`` into
bags over the ``sparsecode`` component's default vocabulary, built on the training split, and
cached (``benchmarks.harness.devsuite``). On the same training bags, for each seed:

- ``ours-default``: ``sparsecode train CORPUS OUT --n-latents K --seed SEED`` as the command
  trains once its corpus cache is built (the default architecture, the command's TrainConfig);
  time = initialisation + training + checkpoints, what the command reports as training;
- ``nmf``: scikit-learn NMF on tf-idf, ``tomotopy``: tomotopy LDA, as in ``peers.py``.

Scored on the held-out bags: NPMI of each latent's top-10 words by document co-occurrence (held
out and train), TD of the top 25 (``spacy_sparsecode.metrics.topic_report``; ours on the words
``tasks.topics.topic_words`` shows), train seconds; for ours the code L0 and the share of empty
codes among held-out documents with in-vocabulary words. On labelled corpora: label
precision@10 of the nearest training documents (cosine) of held-out documents, for our codes
(at most 16 non-zeros) and for tf-idf. On corpora of >= 5k documents, once with seed 0: the
end-to-end wall time of ``sparsecode train`` (a subprocess, tokenising included) beside
CountVectorizer + tf-idf + NMF on the same training texts. The targets of the issue are checked
per corpus, and the worst corpus of each is named. Results are written after every corpus.

Every system runs on ``[suite] threads`` threads (1: the cores are shared, and torch with 2
threads on a loaded machine ran ~100x slower). To measure one state of the package while the
checkout is being edited, run from a snapshot of a commit, with its id in ``SNAPSHOT``:

    git archive HEAD spacy_sparsecode benchmarks corpora | tar -x -C /tmp/base
    git rev-parse --short HEAD > /tmp/base/SNAPSHOT
    cd /tmp/base && PYTHONPATH=/tmp/base python -m benchmarks.suite --out RESULTS --shared-corpora SHARED
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import scipy.sparse as sp

if __package__:
    from . import harness
    from .harness import devsuite
else:  # run as a file (python benchmarks/suite.py): this folder is the import root
    import harness
    from harness import devsuite

SETTINGS = harness.settings("suite")
OURS, NMF, TOMOTOPY, TFIDF = "ours-default", "nmf", "tomotopy", "tf-idf"
PEERS = {NMF: harness.topics.fit_nmf, TOMOTOPY: harness.topics.fit_tomotopy}
SYSTEMS = (OURS, NMF, TOMOTOPY)
BBC_DOCS = 2225  # for the order of the corpora only


# --------------------------------------------------------------------------- the run's settings
@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What decides a corpus' results (a resumed run keeps a corpus only when this is unchanged)."""

    K: int
    seeds: int
    max_train_docs: int
    max_test_docs: int
    cap_seed: int
    max_queries: int
    query_seed: int
    retrieval_k: int
    max_code_nnz: int
    systems: Tuple[str, ...]
    end_to_end: bool
    timed_min_docs: int

    def as_dict(self) -> Dict[str, Any]:
        return {**dataclasses.asdict(self), "systems": list(self.systems)}


def run_config(args: argparse.Namespace) -> RunConfig:
    quick = SETTINGS["quick"] if args.quick else {}
    pick = lambda key, given: given if given is not None else quick.get(key, SETTINGS[key])  # noqa: E731
    return RunConfig(K=args.K, seeds=pick("seeds", args.seeds), max_train_docs=pick("max_train_docs", args.max_train_docs),
                     max_test_docs=pick("max_test_docs", args.max_test_docs), cap_seed=SETTINGS["cap_seed"],
                     max_queries=pick("max_queries", args.max_queries), query_seed=SETTINGS["query_seed"],
                     retrieval_k=SETTINGS["retrieval_k"], max_code_nnz=SETTINGS["max_code_nnz"],
                     systems=tuple(args.systems.split(",")) if args.systems else SYSTEMS,
                     end_to_end=SETTINGS["end_to_end"] and not args.no_end_to_end, timed_min_docs=SETTINGS["timed_min_docs"])


# --------------------------------------------------------------------------- corpora
def corpus_names(spec: str, folder: Path, shared: Path) -> List[str]:
    """``spec`` (a comma list, in its order), or every suite file in ``folder`` and the extra
    corpora, fewest documents first (the largest, slowest ones last)."""
    if spec:
        return [name.strip() for name in spec.split(",") if name.strip()]
    sizes = {name: devsuite.count_docs(Path(folder) / f"{name}{devsuite.SUITE_SUFFIX}") for name in devsuite.suite_names(folder)}
    for name in SETTINGS["extra_corpora"]:
        path = {"bbc": None, "20ng": Path(shared) / harness.corpora.NEWSGROUPS_FILE}.get(name)
        sizes[name] = devsuite.count_docs(path) if path is not None and path.exists() else BBC_DOCS if name == "bbc" else 0
    return sorted(sizes, key=lambda name: (sizes[name], name))


def load_corpus(name: str, folder: Path, shared: Path) -> Tuple[Optional[devsuite.SplitCorpus], str]:
    """A corpus by name and "" , or None and why it is skipped."""
    if name == "bbc":
        return devsuite.load_bbc_corpus(SETTINGS["bbc_split_seed"]), ""
    if name == "20ng":
        corpus = devsuite.load_20ng_corpus(shared)
        return corpus, "" if corpus else f"{Path(shared) / harness.corpora.NEWSGROUPS_FILE} is absent"
    path = Path(folder) / f"{name}{devsuite.SUITE_SUFFIX}"
    if not path.exists():
        return None, f"{path} is absent"
    return devsuite.load_jsonl_corpus(path), ""


# --------------------------------------------------------------------------- the systems
def _topics(weights: np.ndarray, counts: harness.TopicCorpus) -> Dict[str, float]:
    from spacy_sparsecode.metrics import topic_report

    report = topic_report(np.asarray(weights, dtype=np.float64), counts.test, counts.train)
    return {"npmi_heldout": report["npmi_heldout"], "npmi_train": report["npmi_train"], "td": report["td"]}


@dataclasses.dataclass
class Retrieval:
    """Queries (held-out rows) and base (training rows) of the labelled documents, and their labels."""

    queries: np.ndarray
    base: np.ndarray
    y_queries: np.ndarray
    y_base: np.ndarray
    n_labelled_test: int

    @classmethod
    def of(cls, counts: harness.TopicCorpus, config: RunConfig) -> Optional["Retrieval"]:
        if counts.y_train is None:
            return None
        base = np.flatnonzero(counts.y_train != devsuite.NO_LABEL)
        labelled = np.flatnonzero(counts.y_test != devsuite.NO_LABEL)
        if not base.size or not labelled.size:
            return None
        queries = labelled[devsuite.query_rows(len(labelled), config.max_queries, config.query_seed)]
        return cls(queries, base, counts.y_test[queries], counts.y_train[base], len(labelled))

    def precision(self, train_repr: Any, test_repr: Any, k: int) -> float:
        return float(devsuite.precision_at_k(sp.csr_matrix(test_repr)[self.queries], sp.csr_matrix(train_repr)[self.base],
                                             self.y_queries, self.y_base, k).mean())

    def note(self) -> str:
        sampled = len(self.queries) < self.n_labelled_test
        return (f"{len(self.queries):,} held-out queries" + (f" (a seeded sample of {self.n_labelled_test:,} labelled)"
                                                            if sampled else " (every labelled held-out document)")
                + f" against {len(self.base):,} labelled training documents")


def run_ours(counts: harness.TopicCorpus, vocab: Any, lang: str, seed: int, config: RunConfig,
             retrieval: Optional[Retrieval]) -> Dict[str, Any]:
    fitted = devsuite.fit_default(counts, vocab, lang, config.K, seed)
    component = fitted.component
    row: Dict[str, Any] = {"system": OURS, "seed": seed, "train_s": fitted.seconds,
                           **_topics(devsuite.shown_topic_weights(component, 25), counts)}
    test_codes = component.torch_model.encode(counts.test).matrix
    test_l0 = np.diff(test_codes.indptr)
    has_words = np.diff(counts.test.indptr) > 0
    row.update(l0=float(test_l0[has_words].mean()) if has_words.any() else 0.0,
               empty_codes=float((test_l0[has_words] == 0).mean()) if has_words.any() else 0.0,
               n_empty_codes=int((test_l0[has_words] == 0).sum()),
               dead_latents=float((test_codes.getnnz(axis=0) == 0).mean()))
    if retrieval is not None:
        train_codes = devsuite.keep_top(component.torch_model.encode(counts.train).matrix, config.max_code_nnz)
        test_cut = devsuite.keep_top(test_codes, config.max_code_nnz)
        row["p_at_k"] = retrieval.precision(train_codes, test_cut, config.retrieval_k)
        row["retrieval_l0"] = float(np.diff(test_cut.indptr)[retrieval.queries].mean())
    last = fitted.history[-1] if fitted.history else {}
    row["last_epoch"] = {key: last[key] for key in ("epoch", "loss", "l0", "dead") if key in last}
    row["epochs"] = len(fitted.history)
    row["settings"] = {"model": fitted.model, "train": fitted.train}
    return row


def run_peer(name: str, counts: harness.TopicCorpus, seed: int, config: RunConfig) -> Dict[str, Any]:
    settings = {**SETTINGS["systems"][name], **({"workers": threads()} if name == TOMOTOPY else {})}
    fitted = PEERS[name](counts, config.K, seed, settings)
    return {"system": name, "seed": seed, "train_s": fitted.train_seconds, **_topics(fitted.topic_word, counts),
            "settings": dict(fitted.settings or {})}


def tfidf_precision(counts: harness.TopicCorpus, retrieval: Retrieval, k: int) -> float:
    from sklearn.feature_extraction.text import TfidfTransformer

    tfidf = TfidfTransformer().fit(counts.train)
    return retrieval.precision(tfidf.transform(counts.train), tfidf.transform(counts.test), k)


# --------------------------------------------------------------------------- end to end
def _cli() -> List[str]:
    script = shutil.which("sparsecode")
    return [script] if script else [sys.executable, "-m", "spacy_sparsecode"]


def end_to_end(corpus: devsuite.SplitCorpus, vocab_config: Any, config: RunConfig, ours: Dict[str, Any]) -> Dict[str, Any]:
    """``sparsecode train TRAIN OUT --n-latents K`` (a subprocess; ``--lang`` when not English) on
    the training texts, against CountVectorizer + tf-idf + NMF on the same texts, seed 0."""
    from sklearn.decomposition import NMF as SklearnNMF
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    result: Dict[str, Any] = {"n_docs": len(corpus.train)}
    with tempfile.TemporaryDirectory(prefix="suite-e2e-") as work:
        source = Path(work) / "train.jsonl"
        with open(source, "w", encoding="utf8") as f:
            for doc_id, text in zip(corpus.train.ids, corpus.train.texts):
                f.write(json.dumps({"id": doc_id, "text": text}) + "\n")
        command = [*_cli(), "train", str(source), str(Path(work) / "model"), "--n-latents", str(config.K)]
        if corpus.lang != "en":
            command += ["--lang", corpus.lang]
        result["command"] = " ".join(["sparsecode", *command[len(_cli()):]]).replace(str(work), "$TMP")
        with harness.Timer() as clock:
            limits = {name: str(threads()) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
            done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1", **limits})
        result["ours_wall_s"] = clock.seconds
        if done.returncode != 0:
            result["error"] = (done.stderr or done.stdout)[-2000:]
            return result
        meta = json.loads((Path(work) / "model" / "meta.json").read_text(encoding="utf8")).get("sparsecode_train", {})
        result.update(ours_tokenise_s=meta.get("tokenise_seconds"), ours_train_s=meta.get("train_seconds"),
                      ours_n_vocab=meta.get("n_vocab"))
        # the in-process runs must be the command's: same model block and training settings
        in_process = ours["settings"]
        cli_train = {k: v for k, v in meta.get("train", {}).items() if k != "seed"}
        mine = {k: v for k, v in in_process["train"].items() if k != "seed"}
        cli_model = {k: v for k, v in meta.get("model", {}).items() if k != "seed"}
        my_model = {k: v for k, v in in_process["model"].items() if k != "seed"}
        result["same_settings_as_in_process"] = cli_train == mine and cli_model == my_model
        if not result["same_settings_as_in_process"]:
            result["cli_settings"] = {"model": cli_model, "train": cli_train}
    low, high = vocab_config.min_df, vocab_config.max_df
    vectorizer = CountVectorizer(min_df=low, max_df=high, max_features=vocab_config.max_size)
    with harness.Timer() as clock:
        counts = vectorizer.fit_transform(corpus.train.texts)
        nmf = SklearnNMF(n_components=config.K, random_state=0, **SETTINGS["systems"][NMF])
        nmf.fit(TfidfTransformer().fit_transform(counts))
    result.update(peer_wall_s=clock.seconds, peer_n_vocab=len(vectorizer.vocabulary_),
                  peer=f"CountVectorizer(min_df={low}, max_df={high}, max_features={vocab_config.max_size}) + "
                       f"TfidfTransformer + NMF({config.K}, {SETTINGS['systems'][NMF]})")
    return result


# --------------------------------------------------------------------------- one corpus
def _mean_std(values: List[float]) -> Tuple[float, float]:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    if not arr.size:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


AVERAGED = ("npmi_heldout", "npmi_train", "td", "train_s", "l0", "empty_codes", "dead_latents", "p_at_k", "retrieval_l0")


def summarise_runs(runs: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Per system: mean and std over seeds of every metric it has."""
    out: Dict[str, Dict[str, Any]] = {}
    for system in dict.fromkeys(r["system"] for r in runs):
        members = [r for r in runs if r["system"] == system]
        entry: Dict[str, Any] = {"n_seeds": len(members)}
        for metric in AVERAGED:
            values = [m[metric] for m in members if m.get(metric) is not None]
            if values:
                entry[metric], entry[metric + "_std"] = _mean_std(values)
        out[system] = entry
    return out


def _print_run(corpus: str, row: Dict[str, Any]) -> None:
    extra = "".join(f"  {label} {row[key]:{fmt}}" for key, label, fmt in
                    (("l0", "L0", ".1f"), ("empty_codes", "empty", ".1%"), ("p_at_k", "P@k", ".3f")) if key in row)
    print(f"   {corpus:22s} {row['system']:13s} seed={row['seed']} train {row['train_s']:7.1f}s  NPMI {row['npmi_heldout']:+.3f} "
          f"(train {row['npmi_train']:+.3f})  TD {row['td']:.2f}{extra}", flush=True)


def threads() -> int:
    """Threads of every system: ``SPARSECODE_THREADS``, else ``[suite] threads``."""
    return int(os.environ.get("SPARSECODE_THREADS", SETTINGS["threads"]))


def run_corpus(corpus: devsuite.SplitCorpus, config: RunConfig) -> Dict[str, Any]:
    """Every system and seed on one corpus: its entry of the results."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads())
    with threadpool_limits(limits=threads()):
        return _run_corpus(corpus, config)


def _run_corpus(corpus: devsuite.SplitCorpus, config: RunConfig) -> Dict[str, Any]:
    load = os.getloadavg()[0]
    n_docs = corpus.n_docs
    corpus = devsuite.capped(corpus, config.max_train_docs or None, config.max_test_docs or None, config.cap_seed)
    vocab_config = devsuite.default_vocab_config(corpus.lang)
    counts, tokenise_s = devsuite.suite_counts(corpus, vocab_config)
    vocab = devsuite.bag_vocab(counts, vocab_config)
    retrieval = Retrieval.of(counts, config)
    info = {"lang": corpus.lang, "n_docs": n_docs, "n_train": counts.train.shape[0], "n_test": counts.test.shape[0],
            "n_vocab": counts.train.shape[1], "note": counts.note, "capped": "capped" in counts.note,
            "tokenise_s": tokenise_s or None, "labelled": retrieval is not None,
            "mean_words_train": float(counts.train.sum() / max(counts.train.shape[0], 1)),
            "vocab_config": dataclasses.asdict(vocab_config), "load_average_start": load}
    if retrieval is not None:
        info["retrieval"] = retrieval.note()
    print(f"== {corpus.name} ({corpus.lang}): train {info['n_train']:,}, test {info['n_test']:,}, V={info['n_vocab']:,}, "
          f"{info['mean_words_train']:.1f} in-vocabulary words a training document; {counts.note}"
          + (f"; tokenised in {tokenise_s:.1f}s" if tokenise_s else "; bags from the cache"), flush=True)
    runs: List[Dict[str, Any]] = []
    for seed in range(config.seeds):
        for system in config.systems:
            row = run_ours(counts, vocab, corpus.lang, seed, config, retrieval) if system == OURS else run_peer(system, counts, seed, config)
            _print_run(corpus.name, row)
            runs.append(row)
    entry: Dict[str, Any] = {"info": info, "runs": runs, "systems": summarise_runs(runs)}
    if retrieval is not None:
        with harness.Timer() as clock:
            entry["systems"][TFIDF] = {"p_at_k": tfidf_precision(counts, retrieval, config.retrieval_k), "n_seeds": 1}
        print(f"   {corpus.name:22s} {TFIDF:13s} P@{config.retrieval_k} {entry['systems'][TFIDF]['p_at_k']:.3f} "
              f"({clock.seconds:.1f}s)", flush=True)
    if config.end_to_end and n_docs >= config.timed_min_docs and OURS in config.systems:
        ours0 = next(r for r in runs if r["system"] == OURS)
        entry["end_to_end"] = end_to_end(corpus, vocab_config, config, ours0)
        e2e = entry["end_to_end"]
        print(f"   {corpus.name:22s} end to end: sparsecode train {e2e['ours_wall_s']:.1f}s"
              + (f" (error: {e2e['error'][-300:]})" if "error" in e2e else
                 f" (tokenise {e2e['ours_tokenise_s']:.1f}s, train {e2e['ours_train_s']:.1f}s), "
                 f"CountVectorizer + NMF {e2e['peer_wall_s']:.1f}s"), flush=True)
    info["load_average_end"] = os.getloadavg()[0]
    return entry


# --------------------------------------------------------------------------- targets
def corpus_summary(name: str, entry: Dict[str, Any], config: RunConfig, min_td: float) -> Dict[str, Any]:
    """One row of the summary: the corpus's figures and its three target checks (None: not applicable)."""
    systems, info = entry["systems"], entry["info"]
    ours = systems.get(OURS, {})
    row: Dict[str, Any] = {"corpus": name, "lang": info["lang"], "n_docs": info["n_docs"], "n_train": info["n_train"],
                           "n_test": info["n_test"], "n_vocab": info["n_vocab"], "capped": info["capped"]}
    for system in SYSTEMS:
        for metric in ("npmi_heldout", "npmi_heldout_std", "td", "train_s"):
            if metric in systems.get(system, {}):
                row[f"{system}:{metric}"] = systems[system][metric]
    for metric in ("l0", "empty_codes", "retrieval_l0"):
        if metric in ours:
            row[f"{OURS}:{metric}"] = ours[metric]
    peers = [s for s in (NMF, TOMOTOPY) if "npmi_heldout" in systems.get(s, {})]
    row["topics_met"] = None
    if "npmi_heldout" in ours and peers:
        best = max(peers, key=lambda s: systems[s]["npmi_heldout"])
        row.update(best_peer=best, topics_margin=ours["npmi_heldout"] - systems[best]["npmi_heldout"],
                   topics_met=bool(ours["npmi_heldout"] >= systems[best]["npmi_heldout"] and ours["td"] >= min_td))
    row["time_met"] = None
    if info["n_docs"] >= config.timed_min_docs and "train_s" in ours and "train_s" in systems.get(NMF, {}):
        row["time_ratio"] = ours["train_s"] / systems[NMF]["train_s"]
        row["time_met"] = bool(row["time_ratio"] <= 1.0)
    e2e = entry.get("end_to_end")
    if e2e and "error" not in e2e:
        row.update(e2e_ours_s=e2e["ours_wall_s"], e2e_peer_s=e2e["peer_wall_s"])
    row["retrieval_met"] = None
    if "p_at_k" in ours and TFIDF in systems:
        row.update(p_ours=ours["p_at_k"], p_tfidf=systems[TFIDF]["p_at_k"],
                   retrieval_margin=ours["p_at_k"] - systems[TFIDF]["p_at_k"])
        row["retrieval_met"] = bool(row["retrieval_margin"] >= 0)
    return row


TARGETS = {
    "topics": ("topics_met", "topics_margin", min, "NPMI held-out >= max(NMF, tomotopy) with TD >= {min_td}"),
    "time": ("time_met", "time_ratio", max, "training time <= NMF's fit time (corpora of >= {timed} documents)"),
    "retrieval": ("retrieval_met", "retrieval_margin", min, "P@{k} of codes (<= {nnz} non-zeros) >= tf-idf cosine"),
}


def check_targets(rows: List[Dict[str, Any]], config: RunConfig, min_td: float) -> List[Dict[str, Any]]:
    """Per target: the corpora it applies to, how many meet it, and the worst corpus (lowest
    margin; for time the highest ours/NMF ratio)."""
    checks = []
    for target, (met_key, margin_key, pick, text) in TARGETS.items():
        applicable = [r for r in rows if r.get(met_key) is not None]
        check: Dict[str, Any] = {"target": target, "text": text.format(min_td=min_td, timed=f"{config.timed_min_docs:,}",
                                                                      k=config.retrieval_k, nnz=config.max_code_nnz),
                                 "n_corpora": len(applicable), "n_met": sum(bool(r[met_key]) for r in applicable),
                                 "failed": [r["corpus"] for r in applicable if not r[met_key]]}
        if applicable:
            worst = pick(applicable, key=lambda r: r[margin_key])
            check.update(worst=worst["corpus"], worst_value=worst[margin_key],
                         mean_value=float(np.mean([r[margin_key] for r in applicable])), met=not check["failed"])
            if target == "topics":
                low_td = min(applicable, key=lambda r: r[f"{OURS}:td"])
                check.update(lowest_td=low_td["corpus"], lowest_td_value=low_td[f"{OURS}:td"])
        else:
            check["met"] = None
        checks.append(check)
    return checks


# --------------------------------------------------------------------------- tables
def _f(value: Any, digits: int, std: Any = None) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:.{digits}f}" + (f" ± {std:.{digits}f}" if std else "")


MET = {None: "n/a", True: "yes", False: "**no**"}


def summary_table(rows: List[Dict[str, Any]], config: RunConfig) -> str:
    header = ("corpus", "docs train / test", "V", f"NPMI {OURS} (TD)", "NPMI NMF (TD)", "NPMI tomotopy (TD)", "topics",
              f"train s {OURS} / NMF", "time", "end to end s: ours / CV+NMF", f"P@{config.retrieval_k} codes / tf-idf",
              "retrieval", "codes: L0, empty")
    lines = []
    for r in rows:
        npmi = lambda s: (_f(r.get(f"{s}:npmi_heldout"), 3) + f" ({_f(r.get(f'{s}:td'), 2)})") if f"{s}:npmi_heldout" in r else "–"  # noqa: E731
        lines.append([
            r["corpus"] + (" (capped)" if r["capped"] else ""), f"{r['n_train']:,} / {r['n_test']:,}", f"{r['n_vocab']:,}",
            npmi(OURS), npmi(NMF), npmi(TOMOTOPY), MET[r["topics_met"]],
            f"{_f(r.get(f'{OURS}:train_s'), 1)} / {_f(r.get(f'{NMF}:train_s'), 1)}",
            MET[r["time_met"]] + (f" (×{r['time_ratio']:.2f})" if "time_ratio" in r else ""),
            f"{_f(r.get('e2e_ours_s'), 1)} / {_f(r.get('e2e_peer_s'), 1)}" if "e2e_ours_s" in r else "–",
            f"{_f(r.get('p_ours'), 3)} / {_f(r.get('p_tfidf'), 3)}" if "p_ours" in r else "–",
            MET[r["retrieval_met"]],
            f"{_f(r.get(f'{OURS}:l0'), 1)}, {100 * r[f'{OURS}:empty_codes']:.2f}%" if f"{OURS}:empty_codes" in r else "–",
        ])
    return harness.markdown_table(header, lines, "lrrrrrlrlrrll")


def checks_table(checks: List[Dict[str, Any]]) -> str:
    lines = []
    for c in checks:
        if c["met"] is None:
            lines.append([c["target"], c["text"], "0", "n/a", "–", "–"])
            continue
        if c["target"] == "time":
            worst, mean = f"{c['worst']} (ours/NMF ×{c['worst_value']:.2f})", f"×{c['mean_value']:.2f}"
        else:
            worst, mean = f"{c['worst']} ({c['worst_value']:+.3f})", f"{c['mean_value']:+.3f}"
        if c["target"] == "topics":
            worst += f"; lowest TD: {c['lowest_td']} ({c['lowest_td_value']:.2f})"
        lines.append([c["target"], c["text"], f"{c['n_met']} of {c['n_corpora']}", MET[c["met"]], worst, mean])
    return harness.markdown_table(("target", "check", "corpora met", "met everywhere", "worst corpus (margin)", "mean margin"),
                                  lines, "llrlll")


def corpus_table(name: str, entry: Dict[str, Any], config: RunConfig) -> str:
    info, systems = entry["info"], entry["systems"]
    lines = []
    for system in [*SYSTEMS, TFIDF]:
        s = systems.get(system)
        if s is None:
            continue
        std = lambda m: s.get(m + "_std") if s.get("n_seeds", 1) > 1 else None  # noqa: E731
        lines.append([system, _f(s.get("npmi_heldout"), 3, std("npmi_heldout")), _f(s.get("npmi_train"), 3),
                      _f(s.get("td"), 2), _f(s.get("train_s"), 1, std("train_s")), _f(s.get("p_at_k"), 3, std("p_at_k")),
                      _f(s.get("l0"), 1), _f(100 * s["empty_codes"], 2) if "empty_codes" in s else "–",
                      _f(100 * s["dead_latents"], 1) if "dead_latents" in s else "–"])
    text = [f"### {name}", "",
            f"{info['lang']}; {info['n_train']:,} training / {info['n_test']:,} held-out documents of {info['n_docs']:,}; "
            f"V={info['n_vocab']:,}; {info['mean_words_train']:.1f} in-vocabulary words a training document; {info['note']}; "
            f"load average {info.get('load_average_start', float('nan')):.1f} at the start, "
            f"{info.get('load_average_end', float('nan')):.1f} at the end."
            + (f" Retrieval: {info['retrieval']}." if info.get("retrieval") else " No labels: no retrieval check."), "",
            harness.markdown_table(("system", "NPMI held-out", "NPMI train", "TD", "train s", f"P@{config.retrieval_k}",
                                    "L0", "empty codes %", "dead latents %"), lines, "lrrrrrrrr")]
    e2e = entry.get("end_to_end")
    if e2e:
        if "error" in e2e:
            text += ["", f"End to end (seed 0): `{e2e['command']}` failed after {e2e['ours_wall_s']:.1f}s: "
                         f"`{e2e['error'].strip().splitlines()[-1] if e2e['error'].strip() else '?'}`"]
        else:
            text += ["", f"End to end (seed 0, {e2e['n_docs']:,} training texts): `{e2e['command']}` {e2e['ours_wall_s']:.1f}s "
                         f"(it reports tokenising {e2e['ours_tokenise_s']:.1f}s, training {e2e['ours_train_s']:.1f}s; "
                         f"V={e2e['ours_n_vocab']:,}); {e2e['peer']} {e2e['peer_wall_s']:.1f}s (V={e2e['peer_n_vocab']:,})."
                         + ("" if e2e.get("same_settings_as_in_process") else
                            " **The command's settings differ from the in-process runs'**: " + json.dumps(e2e.get("cli_settings")))]
    return "\n".join(text)


def markdown(data: Dict[str, Any]) -> str:
    meta, config = data["meta"], RunConfig(**{**data["meta"]["config"], "systems": tuple(data["meta"]["config"]["systems"])})
    done = [name for name in meta["corpora"] if name in data["corpora"]]
    lines = [f"# Development suite: `sparsecode train` at its defaults (K={config.K})", "",
             f"Measured {meta['date']} on {meta['machine']}; package at {meta['package']}; command `{meta['command']}`. "
             f"{config.seeds} seed{'s' if config.seeds > 1 else ''} (mean ± std over seeds); held-out split of each corpus. "
             f"Our system is `sparsecode train CORPUS OUT --n-latents {config.K}` with every other setting at its default "
             f"(model {json.dumps(meta['ours_model'], sort_keys=True)}, training {json.dumps(meta['ours_train'], sort_keys=True)}); "
             f"peers: NMF on tf-idf {json.dumps(meta['settings']['systems'][NMF], sort_keys=True)}, "
             f"tomotopy LDA {json.dumps(meta['settings']['systems'][TOMOTOPY], sort_keys=True)}. "
             f"NPMI of each latent's top 10 words by document co-occurrence in the held-out bags (ours: the words "
             f"`topic_words` shows), TD of the top 25. Train seconds from the cached bags to a trained model, "
             f"side by side in this run." + (f" Wall time of the run: {meta['wall_s'] / 60:.1f} min." if meta.get("wall_s") else ""), ""]
    if meta.get("pending"):
        lines += [f"**Partial results**: {len(done)} of {len(meta['corpora'])} corpora done; missing: "
                  f"{', '.join(meta['pending'])}.", ""]
    lines += ["## Summary", "", summary_table(data["summary"], config), "", "## Targets", "", checks_table(data["checks"]), ""]
    capped = [r["corpus"] for r in data["summary"] if r["capped"]]
    notes = []
    if capped:
        notes.append(f"Capped (seeded subsample of {config.max_train_docs or 'all'} training / "
                     f"{config.max_test_docs or 'all'} held-out documents): {', '.join(capped)}.")
    sampled = [name for name in done if "seeded sample" in data["corpora"][name]["info"].get("retrieval", "")]
    if sampled:
        notes.append(f"Retrieval queries: a seeded sample of {config.max_queries:,} labelled held-out documents on "
                     f"{', '.join(sampled)} (every labelled one elsewhere).")
    if meta.get("skipped"):
        notes.append("Skipped: " + "; ".join(f"{k}: {v}" for k, v in meta["skipped"].items()) + ".")
    if notes:
        lines += ["Notes: " + " ".join(notes), ""]
    lines += ["## Per corpus", ""]
    for name in done:
        lines += [corpus_table(name, data["corpora"][name], config), ""]
    return "\n".join(lines)


def assemble(corpora: Dict[str, Any], meta: Dict[str, Any], config: RunConfig) -> Dict[str, Any]:
    rows = [corpus_summary(name, corpora[name], config, SETTINGS["min_td"]) for name in meta["corpora"] if name in corpora]
    return {"meta": meta, "summary": rows, "checks": check_targets(rows, config, SETTINGS["min_td"]), "corpora": corpora}


# --------------------------------------------------------------------------- main
def _package_state() -> str:
    """The package's commit (and uncommitted changes) in a git checkout; in a snapshot of one
    (``git archive``), the commit written in its ``SNAPSHOT`` file."""
    import spacy_sparsecode

    where = Path(spacy_sparsecode.__file__).resolve().parent.parent
    if (where / "SNAPSHOT").exists():
        return (where / "SNAPSHOT").read_text(encoding="utf8").strip()
    try:
        git = lambda *a: subprocess.run(["git", *a], cwd=where, capture_output=True, text=True).stdout.strip()  # noqa: E731
        head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "--", "spacy_sparsecode")
    except OSError:
        head, dirty = "", ""
    if not head:
        return f"{where} (not a git checkout)"
    return f"commit {head}" + (f" with uncommitted changes to {len(dirty.splitlines())} package files" if dirty else "")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default="", help="comma list (default: every corpora/*.jsonl.gz, then "
                        + ", ".join(SETTINGS["extra_corpora"]) + ")")
    parser.add_argument("--seeds", type=int, default=None, help=f"seeds per system (default {SETTINGS['seeds']})")
    parser.add_argument("--K", type=int, default=SETTINGS["K"], help="latents / topics (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help="smoke run: " + ", ".join(f"{k} {v}" for k, v in SETTINGS["quick"].items())
                        + "; writes suite_quick.*")
    parser.add_argument("--max-train-docs", type=int, default=None,
                        help=f"cap each training split with a seeded subsample (0: no cap; default {SETTINGS['max_train_docs']})")
    parser.add_argument("--max-test-docs", type=int, default=None, help=f"the same for held-out splits (default {SETTINGS['max_test_docs']})")
    parser.add_argument("--max-queries", type=int, default=None, help=f"retrieval queries per corpus (default {SETTINGS['max_queries']})")
    parser.add_argument("--systems", default="", help="comma list (default: " + ",".join(SYSTEMS) + ")")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the end-to-end timing")
    parser.add_argument("--resume", action="store_true", help="keep the corpora that the results file already has with the same settings")
    parser.add_argument("--stem", default=None, help="results file name (default suite, suite_quick with --quick)")
    parser.add_argument("--corpora-dir", type=Path, default=devsuite.SUITE_DIR, help="folder of the suite's .jsonl.gz files")
    parser.add_argument("--from-json", action="store_true", help="train nothing: recompute the targets and tables from the saved results")
    harness.add_path_arguments(parser, shared=True)
    args = parser.parse_args(argv)
    if args.from_json:
        stem = args.stem or ("suite_quick" if args.quick else "suite")
        saved = json.loads((Path(args.out) / f"{stem}.json").read_text(encoding="utf8"))
        config = RunConfig(**{**saved["meta"]["config"], "systems": tuple(saved["meta"]["config"]["systems"])})
        data = assemble(saved["corpora"], saved["meta"], config)
        harness.write_results(args.out, stem, data, markdown(data), printed=f"rewrote {Path(args.out) / stem}.json/.md")
        return 0
    config = run_config(args)
    unknown = [s for s in config.systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown systems {unknown} (known: {', '.join(SYSTEMS)})")
    stem = args.stem or ("suite_quick" if args.quick else "suite")
    names = corpus_names(args.corpora, args.corpora_dir, args.shared_corpora)

    corpora: Dict[str, Any] = {}
    previous = Path(args.out) / f"{stem}.json"
    if args.resume and previous.exists():
        old = json.loads(previous.read_text(encoding="utf8"))
        if old["meta"]["config"] == config.as_dict():
            corpora = {name: entry for name, entry in old["corpora"].items() if name in names}
            print(f"resume: keeping {', '.join(corpora) or 'no corpora'} from {previous}")
        else:
            print(f"resume: {previous} was run with other settings; starting afresh")
    import torch

    from spacy_sparsecode.jobs.pipelines import build_pipeline

    nlp, name = build_pipeline(None, "en", None, {"n_latents": config.K})
    meta: Dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"), "command": " ".join(["python -m benchmarks.suite", *(argv if argv is not None else sys.argv[1:])]),
        "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores shared with other work (torch {torch.__version__}; "
                   f"{threads()} thread{'s' if threads() > 1 else ''} a system)",
        "package": _package_state(), "config": config.as_dict(), "corpora": names, "skipped": {},
        "ours_model": json.loads(json.dumps(nlp.config["components"][name]["model"], default=str)),
        "ours_train": {k: v for k, v in dataclasses.asdict(devsuite.cli_train_config(0)).items() if k != "seed"},
        "settings": SETTINGS,
    }
    with harness.Timer() as total:
        for index, corpus_name in enumerate(names):
            meta["pending"] = [n for n in names[index:] if n not in corpora and n not in meta["skipped"]]
            if corpus_name in corpora:
                continue
            corpus, reason = load_corpus(corpus_name, args.corpora_dir, args.shared_corpora)
            if corpus is None:
                print(f"skip corpus {corpus_name}: {reason}", flush=True)
                meta["skipped"][corpus_name] = reason
                continue
            with harness.Timer() as clock:
                corpora[corpus_name] = run_corpus(corpus, config)
            corpora[corpus_name]["info"]["seconds"] = clock.seconds
            meta["pending"] = [n for n in names[index + 1:] if n not in corpora]
            meta["wall_s"] = total.seconds
            data = assemble(corpora, meta, config)
            harness.write_results(args.out, stem, data, markdown(data), printed=f"   wrote {Path(args.out) / stem}.json/.md "
                                  f"({clock.seconds:.0f}s for {corpus_name}; {total.seconds / 60:.1f} min so far)")
    meta["pending"], meta["wall_s"] = [], total.seconds
    data = assemble(corpora, meta, config)
    harness.write_results(args.out, stem, data, markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
