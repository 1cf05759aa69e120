"""CLI at scale: ``sparsecode encode`` throughput and memory, fast trainer vs ``spacy train``.

1. Builds a synthetic corpus of BBC sentences (``make_large_corpus.py``) of ``--n-docs``
   documents in a temporary folder, plus its first ``--n-small`` documents.
2. Trains the model to encode with: ``sparsecode train`` on the small corpus,
   ``configs/sae_topk.cfg`` (K=256, k=16, vocabulary up to 20,000 words).
3. Encodes the small and the large corpus with ``--n-process 1`` and ``2``: wall time,
   docs/s, and peak memory of the whole process tree (sum of RSS, and sum of PSS, which
   counts pages shared by the fork-server workers once), sampled from /proc every 0.1 s.
4. Fast trainer vs ``spacy train`` on the built-in BBC corpus (2,225 articles), the same
   model (``configs/sae_topk.cfg``), Adam lr 3e-3, 3 epochs each, at the same batch size
   for both (128, the config's, and 1024), plus a smaller model at 128: docs/s per epoch. Ours: the trainer's own per-epoch timing (tokenising done once, before).
   spaCy (run one epoch longer): the time between the first steps of consecutive epochs,
   from a ``before_update`` callback, so it includes re-reading and tokenising as spacy
   train does; epoch 0, which also holds spaCy's evaluation at step 0, is left out.
5. GPU: recorded as not lent when CUDA is unavailable.

Every command runs as a subprocess with the same torch thread count (``--threads``,
default 1: the machine is shared; OMP_NUM_THREADS is set for both trainers). The load
average is recorded with each figure. Settings: ``[cli_scale]`` in ``settings.toml``.

    python -m benchmarks.cli_scale [--n-docs 200000] [--n-small 20000]   # -> cli_scale.{json,md}
    python -m benchmarks.cli_scale --from-json      # measure nothing: rewrite the summary and table
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

if __package__:
    from . import harness
else:  # run as a file (python benchmarks/cli_scale.py): this folder is the import root
    import harness

SETTINGS = harness.settings("cli_scale")
CONFIG = harness.REPO / "configs" / "sae_topk.cfg"
STEP_TIMER = '''
import json, time
import spacy

@spacy.registry.callbacks("cli_scale.step_timer.v1")
def make_step_timer(path: str):
    log = open(path, "a")
    def before_update(nlp, info):
        log.write(json.dumps({"t": time.perf_counter(), **info}) + "\\n")
        log.flush()
    return before_update
'''


# --- measuring a command ------------------------------------------------------------------
def _tree(root: int) -> List[int]:
    """``root`` and all its descendants, from /proc/*/stat."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _memory_kb(pid: int) -> tuple:
    """(RSS, PSS) of one process in kB; (0, 0) if it is gone."""
    try:
        rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("VmRSS:"))
        pss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
                   if line.startswith("Pss:"))
        return rss, pss
    except (OSError, StopIteration):
        return 0, 0


def measure(args: List[str], env: Dict[str, str]) -> Dict[str, Any]:
    """Run a command; wall time, peak tree RSS/PSS (MB), CPU seconds of its children, load."""
    load_before = os.getloadavg()[0]
    usage_before = os.times()
    peak = {"rss": 0, "pss": 0, "n_processes": 0}
    clock = harness.Timer()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = _tree(proc.pid)
            mems = [_memory_kb(pid) for pid in pids]
            peak["rss"] = max(peak["rss"], sum(m[0] for m in mems))
            peak["pss"] = max(peak["pss"], sum(m[1] for m in mems))
            peak["n_processes"] = max(peak["n_processes"], sum(1 for m in mems if m[0]))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.communicate()[0]
    wall = clock.seconds
    done.set()
    sampler.join()
    usage_after = os.times()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{output[-3000:]}")
    cpu = (usage_after.children_user - usage_before.children_user) + (usage_after.children_system - usage_before.children_system)
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak["rss"] / 1024, "peak_pss_mb": peak["pss"] / 1024,
            "max_processes": peak["n_processes"], "load_before": load_before, "load_after": os.getloadavg()[0],
            "output": output}


def sparsecode(*args: Any) -> List[str]:
    return [sys.executable, "-m", "spacy_sparsecode", *map(str, args)]


# --- the parts --------------------------------------------------------------------------
def encode_runs(model: Path, corpora: Dict[str, Path], work: Path, env: Dict[str, str], threads: int) -> List[Dict[str, Any]]:
    runs = []
    for name, corpus in corpora.items():
        n_docs = sum(1 for _ in open(corpus, "rb"))
        for n_process in (1, 2):
            out = work / f"codes-{name}-{n_process}.npz"
            result = measure(sparsecode("encode", model, corpus, out, "--n-process", n_process, "--threads", threads), env)
            reported = re.search(r"Encoded ([\d,]+) documents.* in ([\d.]+)s", result.pop("output"))
            assert reported and int(reported.group(1).replace(",", "")) == n_docs, reported
            runs.append({"corpus": name, "n_docs": n_docs, "n_process": n_process, **result,
                         "encode_s": float(reported.group(2)), "docs_per_s": n_docs / result["wall_s"],
                         "output_mb": out.stat().st_size / 2**20})
            print(json.dumps({k: v for k, v in runs[-1].items()}), flush=True)
            out.unlink()
    return runs


def spacy_train_epochs(work: Path, env: Dict[str, str], epochs: int, overrides: Dict[str, Any], batch_size: int) -> Dict[str, Any]:
    """``spacy train`` for ``epochs + 2`` epochs; durations of epochs 1..epochs (see module doc)."""
    code = work / "step_timer.py"
    code.write_text(STEP_TIMER)
    steps = work / "steps.jsonl"
    steps.unlink(missing_ok=True)
    options = [item for key, value in overrides.items() for item in (f"--components.sparsecode.model.{key}", str(value))]
    result = measure([sys.executable, "-m", "spacy", "train", str(CONFIG), "--output", str(work / "spacy-train"),
                      "--code", str(code), "--paths.train", "bbc", "--paths.dev", str(harness.REPO / "corpora" / "sample.jsonl"),
                      "--training.max_epochs", str(epochs + 2), "--training.eval_frequency", "1000000",
                      "--training.batcher.size", str(batch_size),
                      "--training.before_update", '{"@callbacks": "cli_scale.step_timer.v1", "path": "%s"}' % steps,
                      *options], env)
    result.pop("output")
    log = [json.loads(line) for line in steps.read_text().splitlines()]
    starts: Dict[int, float] = {}
    for entry in log:
        starts.setdefault(entry["epoch"], entry["t"])
    durations = [starts[e + 1] - starts[e] for e in sorted(starts) if e + 1 in starts]
    # Epoch 0 also holds spaCy's evaluation at step 0: it is kept apart, not averaged.
    return {**result, "epoch_seconds_all": durations, "epoch_seconds": durations[1:],
            "steps_per_epoch": sum(1 for e in log if e["epoch"] == 0)}


def fast_train_epochs(work: Path, env: Dict[str, str], epochs: int, threads: int, overrides: Dict[str, Any],
                      batch_size: int) -> Dict[str, Any]:
    out = work / "fast-bbc"
    options = [item for key, value in overrides.items() for item in (f"--{key.replace('_', '-')}", value)]
    result = measure(sparsecode("train", "bbc", out, "--config", CONFIG, "--epochs", epochs, "--batch-size", batch_size,
                                "--lr", SETTINGS["lr"], "--threads", threads, "--overwrite", *options), env)
    result.pop("output")
    meta = json.loads((out / "meta.json").read_text())["sparsecode_train"]
    return {**result, "epoch_seconds": [h["seconds"] for h in meta["history"]],
            "docs_per_s_per_epoch": [h["docs_per_s"] for h in meta["history"]],
            "tokenise_s": meta["tokenise_seconds"], "train_s": meta["train_seconds"], "n_docs": meta["n_docs"]}


def compare_trainers(work: Path, env: Dict[str, str], epochs: int, threads: int, batch_sizes: List[int]) -> List[Dict[str, Any]]:
    """Fast trainer vs spacy train at equal batch sizes: the config's model at each batch size, a smaller one at the first."""
    rows = []
    small = SETTINGS["smaller_model"]
    config_model, smaller = ("configs/sae_topk.cfg (K=256, k=16)", {}), (f"smaller: K={small['n_latents']}, k={small['k']}", small)
    for (name, overrides), batch_size in [*((config_model, size) for size in batch_sizes), (smaller, batch_sizes[0])]:
        fast = fast_train_epochs(work, env, epochs, threads, overrides, batch_size)
        print(json.dumps(fast), flush=True)
        slow = spacy_train_epochs(work, env, epochs, overrides, batch_size)
        print(json.dumps(slow), flush=True)
        fast_rate = fast["n_docs"] / (sum(fast["epoch_seconds"]) / len(fast["epoch_seconds"]))
        slow_rate = fast["n_docs"] / (sum(slow["epoch_seconds"]) / len(slow["epoch_seconds"]))
        rows.append({"model": name, "batch_size": batch_size, "fast": fast, "spacy": slow, "fast_docs_per_s": fast_rate,
                     "spacy_docs_per_s": slow_rate, "ratio": fast_rate / slow_rate})
    return rows


def summarize(results: Dict[str, Any], small_key: str, large_key: str) -> Dict[str, Any]:
    """Headline figures and targets from the measured runs."""
    by = {(r["corpus"], r["n_process"]): r for r in results["encode"]}
    compare = {(row["model"].startswith("configs"), row.get("batch_size", 128)): row for row in results["train_compare"]}
    main_model = compare[(True, 128)]
    peak_small = max(by[(small_key, n)]["peak_rss_mb"] for n in (1, 2))
    peak_large = max(by[(large_key, n)]["peak_rss_mb"] for n in (1, 2))
    one, two = by[(large_key, 1)], by[(large_key, 2)]
    summary = {
        "speedup_n2_large": two["docs_per_s"] / one["docs_per_s"],
        "speedup_n2_small": by[(small_key, 2)]["docs_per_s"] / by[(small_key, 1)]["docs_per_s"],
        # How many cores the runs got (CPU s / wall s), and the CPU cost of parallel work:
        # with 2 idle cores, the speed-up would be about 2 / cpu_overhead_n2.
        "cores_used_n1_large": one["cpu_s"] / one["wall_s"], "cores_used_n2_large": two["cpu_s"] / two["wall_s"],
        "cpu_overhead_n2_large": two["cpu_s"] / one["cpu_s"],
        "peak_rss_small_mb": peak_small, "peak_rss_large_mb": peak_large, "rss_ratio": peak_large / peak_small,
        "fast_docs_per_s": main_model["fast_docs_per_s"], "spacy_docs_per_s": main_model["spacy_docs_per_s"],
        "train_ratio": main_model["ratio"], "train_ratio_smaller_model": compare[(False, 128)]["ratio"],
    }
    if (True, 1024) in compare:
        summary["train_ratio_batch_1024"] = compare[(True, 1024)]["ratio"]
    summary["speedup_met"] = summary["speedup_n2_large"] >= 1.7
    summary["memory_met"] = peak_large <= 1536 and summary["rss_ratio"] <= 1.15
    summary["train_ratio_met"] = max(summary["train_ratio"], summary.get("train_ratio_batch_1024", 0)) >= 10
    return summary


def gpu_status() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU lent"


def markdown(results: Dict[str, Any]) -> str:
    lines = [
        "# CLI at scale (`benchmarks/cli_scale.py`)", "",
        f"Machine: {results['machine']['cpus']} CPU cores (shared with other jobs: the load average is listed "
        f"with each run), {results['machine']['python']}, torch threads {results['threads']}. GPU: {results['gpu']}.",
        f"Corpus: {results['corpus']['n_docs']:,} synthetic documents of sampled BBC sentences "
        f"(mean {results['corpus']['mean_chars']:.0f} characters, {results['corpus']['mean_sentences']:.1f} sentences); "
        f"encoding model: `configs/sae_topk.cfg` trained by `sparsecode train` on the first {results['n_small']:,} "
        f"({results['model']['n_vocab']:,} words, K=256, k=16).", "",
        "## `sparsecode encode` (output .npz)", "",
        "| corpus | docs | --n-process | wall s | docs/s | peak RSS, tree (MB) | peak PSS, tree (MB) | CPU s | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["encode"]:
        lines.append(f"| {r['corpus']} | {r['n_docs']:,} | {r['n_process']} | {r['wall_s']:.1f} | {r['docs_per_s']:,.0f} | "
                     f"{r['peak_rss_mb']:,.0f} | {r['peak_pss_mb']:,.0f} | {r['cpu_s']:.0f} | {r['load_before']:.1f}→{r['load_after']:.1f} |")
    s = results["summary"]
    lines += ["", f"- Speed-up of `--n-process 2` over `1` at {results['corpus']['n_docs']:,} docs: "
              f"**{s['speedup_n2_large']:.2f}×** (target ≥ 1.7×: {'met' if s['speedup_met'] else 'missed'}); "
              f"at {results['n_small']:,} docs: {s['speedup_n2_small']:.2f}× (each run pays ~4 s to start its worker "
              f"process). The machine was shared: the {results['corpus']['n_docs']:,}-doc runs got "
              f"{s['cores_used_n1_large']:.2f} and {s['cores_used_n2_large']:.2f} cores on average (CPU s / wall s); "
              f"`--n-process 2` spent {s['cpu_overhead_n2_large']:.2f}× the CPU time of `1`, so on two idle cores the "
              f"speed-up would be about {2 / s['cpu_overhead_n2_large']:.2f}× (an estimate, not a measurement).",
              f"- Peak memory (RSS summed over the process tree, the largest of the runs): {s['peak_rss_small_mb']:,.0f} MB at "
              f"{results['n_small']:,} docs, {s['peak_rss_large_mb']:,.0f} MB at {results['corpus']['n_docs']:,} docs "
              f"(ratio {s['rss_ratio']:.2f}; target flat and ≤ 1,536 MB: {'met' if s['memory_met'] else 'missed'}).", "",
              "## Fast trainer vs `spacy train` (BBC, 2,225 articles, same model and batch size for both, "
              f"Adam {results.get('lr', SETTINGS['lr']):g})", "",
              "| model | batch | trainer | seconds per epoch | docs/s per epoch | whole run, wall s | ratio |",
              "|---|---:|---|---|---:|---:|---:|"]
    for row in results["train_compare"]:
        f, t = row["fast"], row["spacy"]
        lines.append(f"| {row['model']} | {row.get('batch_size', 128)} | `sparsecode train`, {len(f['epoch_seconds'])} epochs | "
                     f"{', '.join(f'{x:.2f}' for x in f['epoch_seconds'])} | {row['fast_docs_per_s']:,.0f} | "
                     f"{f['wall_s']:.1f} (tokenising once: {f['tokenise_s']:.1f}) | **{row['ratio']:.1f}×** |")
        lines.append(f"| | | `spacy train`, {len(t['epoch_seconds_all']) + 1} epochs | "
                     f"{', '.join(f'{x:.2f}' for x in t['epoch_seconds'])} | {row['spacy_docs_per_s']:,.0f} | {t['wall_s']:.1f} | |")
    at_1024 = f"; at batch size 1024 (both trainers): **{s['train_ratio_batch_1024']:.1f}×**" if "train_ratio_batch_1024" in s else ""
    lines += ["", f"Ratio for the config's model at batch size 128: **{s['train_ratio']:.1f}×**{at_1024} (expected ≥ 10×: "
              f"{'met' if s['train_ratio_met'] else 'missed'}); smaller model at 128: {s['train_ratio_smaller_model']:.1f}×.",
              "Fast trainer: per-epoch time of its loop (the corpus is tokenised once, before). `spacy train`: time "
              "between the first steps of consecutive epochs, epoch 0 (which holds an evaluation) left out; its "
              "reader re-tokenises the corpus every epoch. Both run the same torch model and the same per-step work, "
              "so the ratio is 1 + (tokenising + spaCy overhead per epoch) / (model steps per epoch).", "",
              f"GPU: {results['gpu']}.", ""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-docs", type=int, default=200_000)
    parser.add_argument("--n-small", type=int, default=20_000)
    parser.add_argument("--train-epochs", type=int, default=3, help="Epochs of each trainer in the comparison.")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="Temporary folder (default: a new one, deleted).")
    parser.add_argument("--batch-sizes", default=",".join(map(str, SETTINGS["batch_sizes"])),
                        help="Batch sizes of the trainer comparison, comma-separated (default %(default)s).")
    harness.add_path_arguments(parser)
    parser.add_argument("--from-json", action="store_true",
                        help="Measure nothing: recompute the summary and the table from the saved cli_scale.json.")
    args = parser.parse_args(argv)
    if args.from_json:
        results = json.loads((args.out / "cli_scale.json").read_text())
        keys = sorted({r["corpus"] for r in results["encode"]}, key=lambda key: int(key.rstrip("k")))
        results["summary"] = summarize(results, keys[0], keys[-1])
        harness.write_results(args.out, "cli_scale", results, markdown(results))
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="cli_scale."))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(harness.REPO)}
    results: Dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                           "platform": platform.platform()},
                               "threads": args.threads, "n_small": args.n_small, "gpu": gpu_status(), "lr": SETTINGS["lr"]}
    try:
        large = work / "large.jsonl"
        results["corpus"] = harness.write_synthetic_corpus(large, args.n_docs).stats()
        small = harness.head(large, args.n_small, work / "small.jsonl")
        model = work / "model"
        trained = measure(sparsecode("train", small, model, "--config", CONFIG, "--epochs", 1, "--n-process", 2,
                                     "--threads", args.threads), env)
        trained.pop("output")
        meta = json.loads((model / "meta.json").read_text())["sparsecode_train"]
        results["model"] = {**trained, "n_vocab": meta["n_vocab"], "tokenise_s": meta["tokenise_seconds"],
                            "train_s": meta["train_seconds"]}
        print(json.dumps(results["model"]), flush=True)
        results["encode"] = encode_runs(model, {f"{args.n_small // 1000}k": small, f"{args.n_docs // 1000}k": large},
                                        work, env, args.threads)
        results["train_compare"] = compare_trainers(work, env, args.train_epochs, args.threads,
                                                    [int(size) for size in args.batch_sizes.split(",")])
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    results["summary"] = summarize(results, f"{args.n_small // 1000}k", f"{args.n_docs // 1000}k")
    harness.write_results(args.out, "cli_scale", results, markdown(results))


if __name__ == "__main__":
    main()
