"""No empty codes (issue 19 §6): the code L0 and the share of empty codes of every model family at
its default settings, before and after the format-5 changes, on BBC and corpora of the suite.

    python -m benchmarks.empty_codes                        # -> empty_codes.{json,md} in the results folder
    python -m benchmarks.empty_codes --corpora bbc --families topk,threshold --epochs 2 --out /tmp/ec

(``python benchmarks/empty_codes.py`` works the same.) The rule: with every family's default
settings, every held-out document with in-vocabulary words gets a non-empty code, and the mean L0
is within ``tolerance`` of the family's target ``k``.

Each corpus is tokenised once with ``spacy.blank(lang)`` into bags over the ``sparsecode``
component's default vocabulary, built on its training split (``harness.devsuite``; the suite's
corpora keep the split of their file, capped to a seeded subsample, BBC gets a seeded stratified
80/20 split). Each family is built from its default config (``models.build_model(family, {})``)
and trained by ``Trainer`` with the default ``TrainConfig`` (its 30 epochs unless ``--epochs``).

*Before* is the family at its format-4 defaults: the values ``models.upgrade_saved`` gives a
format-4 config for the fields format 5 added or whose default it changed (``fill_empty`` and
``calibrate_to_k`` off, the SAEs' old ``encoder_input``, the dictionary's lasso codes). A family
whose before and after differ only in how codes are read from a trained model (``INFERENCE_ONLY``)
is trained once and encoded both ways. Reported per corpus and family, on held-out documents with
words: mean, minimum and share-empty of the L0, whether the rule holds, the accuracy of a linear
probe of the labels on the codes (the training codes fit it), and the training seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from spacy_sparsecode.io import FORMAT_VERSION
from spacy_sparsecode.metrics import probe_accuracy
from spacy_sparsecode.models import MODEL_FAMILIES, build_model, upgrade_saved
from spacy_sparsecode.models.trainer import TrainConfig, Trainer

if __package__:
    from . import harness
    from .harness import devsuite
else:  # run as a file (python benchmarks/empty_codes.py): this folder is the import root
    import harness
    from harness import devsuite

SETTINGS = harness.settings("empty_codes")
#: Config fields that change only how codes are read from a trained model, not its training.
INFERENCE_ONLY = ("fill_empty", "coding")


def snapshot() -> Optional[str]:
    """The commit of a snapshot run (``SNAPSHOT`` next to ``benchmarks/``, as ``suite.py`` documents), else None."""
    path = harness.REPO / "SNAPSHOT"
    return f"snapshot of commit {path.read_text().strip()}" if path.exists() else None


def legacy_config(family: str) -> Dict[str, Any]:
    """The config that makes ``family`` behave as its defaults did in format 4."""
    return upgrade_saved(family, {}, {}, FORMAT_VERSION - 1)[0]


def load_corpus(name: str) -> devsuite.SplitCorpus:
    """BBC (seeded stratified split) or a suite corpus ``corpora/<name>.jsonl.gz``, capped."""
    if name == "bbc":
        corpus = devsuite.load_bbc_corpus(SETTINGS["bbc_split_seed"])
    else:
        corpus = devsuite.load_jsonl_corpus(devsuite.SUITE_DIR / f"{name}{devsuite.SUITE_SUFFIX}")
    return devsuite.capped(corpus, SETTINGS["max_train_docs"], SETTINGS["max_test_docs"], SETTINGS["cap_seed"])


def code_stats(model: Any, counts: harness.TopicCorpus, k: int) -> Dict[str, Any]:
    """L0 of the held-out codes of documents with words, against the rule; probe accuracy."""
    test_codes = model.encode(counts.test)
    l0 = test_codes.l0[np.diff(counts.test.indptr) > 0]
    tolerance = SETTINGS["tolerance"]
    stats = {"k": k, "mean_l0": round(float(l0.mean()), 2), "min_l0": int(l0.min()), "empty_share": round(float(np.mean(l0 == 0)), 4),
             "n_docs_with_words": int(l0.size)}
    stats["rule_met"] = bool(stats["empty_share"] == 0 and abs(l0.mean() - k) <= tolerance * k)
    if counts.y_train is not None and len(set(counts.y_train.tolist())) > 1:
        train_codes = model.encode(counts.train)
        stats["probe_accuracy"] = round(probe_accuracy(train_codes.matrix, counts.y_train, test_codes.matrix, counts.y_test,
                                                       seed=SETTINGS["seed"]), 4)
    return stats


def run_family(family: str, counts: harness.TopicCorpus, train: TrainConfig) -> Dict[str, Any]:
    """The family before and after, each trained (once when they differ only at inference)."""
    configs = {"before": legacy_config(family), "after": {}}
    result: Dict[str, Any] = {"before_config": configs["before"]}
    trained: Dict[str, Any] = {}
    for when, config in configs.items():
        training_key = repr(sorted((name, value) for name, value in config.items() if name not in INFERENCE_ONLY))
        if training_key not in trained:
            model = build_model(family, {name: value for name, value in config.items() if name not in INFERENCE_ONLY},
                                counts.train.shape[1], counts.idf)
            with harness.Timer() as clock:
                Trainer(model, train, progress=False).fit(counts.train)
            trained[training_key] = (model, clock.seconds)
        model, seconds = trained[training_key]
        defaults = {spec.name: spec.default for spec in dataclasses.fields(model.config)}
        inference = {name: config.get(name, defaults[name]) for name in INFERENCE_ONLY if name in defaults}
        model.config = dataclasses.replace(model.config, **inference)
        result[when] = {**code_stats(model, counts, model.config.k), "train_seconds": round(seconds, 1)}
    return result


def markdown(result: Dict[str, Any]) -> str:
    rows = []
    for corpus, families in result["corpora"].items():
        for family, r in families["families"].items():
            before, after = r["before"], r["after"]
            probe = (f"{before['probe_accuracy']:.3f} → {after['probe_accuracy']:.3f}" if "probe_accuracy" in after else "")
            rows.append([corpus, family, after["k"], f"{before['mean_l0']:.2f}", f"{100 * before['empty_share']:.2f}%",
                         "yes" if before["rule_met"] else "**no**", f"{after['mean_l0']:.2f}", f"{100 * after['empty_share']:.2f}%",
                         after["min_l0"], "yes" if after["rule_met"] else "**no**", probe,
                         f"{before['train_seconds']:.0f} / {after['train_seconds']:.0f}"])
    header = ("corpus", "family", "target k", "L0 before", "empty before", "rule before", "L0 after", "empty after",
              "min L0 after", "rule after", "probe acc. before → after", "train s before / after")
    corpora = "\n".join(f"- **{name}**: {c['n_train']:,} training, {c['n_test']:,} held-out documents ({c['note']}), "
                        f"vocabulary {c['n_vocab']:,}" for name, c in result["corpora"].items())
    failing = [f"{corpus}/{family}" for corpus, c in result["corpora"].items() for family, r in c["families"].items()
               if not r["after"]["rule_met"]]
    return "\n".join([
        "# No empty codes (issue 19 §6)", "",
        f"Every family at its default settings, trained by `Trainer` with the default `TrainConfig` "
        f"({result['epochs']} epoch{'s' if result['epochs'] != 1 else ''}, seed {result['seed']}); L0 of the codes of held-out documents with "
        f"in-vocabulary words. Rule: no empty code, mean L0 within {int(100 * result['tolerance'])}% of k. "
        f"*Before*: the defaults of format 4 (`upgrade_saved` of a format-4 config); *after*: the defaults "
        f"of format {result['format_version']}. `python -m benchmarks.empty_codes`, settings `[empty_codes]`.", "",
        corpora, "",
        harness.markdown_table(header, rows, "llrrrlrrrlll"), "",
        "Rule met after the change: " + ("every corpus and family." if not failing else "not by " + ", ".join(failing) + "."),
        "", f"Machine: {result['machine']['platform']}, {result['machine']['torch_threads']} torch thread(s); "
            f"package: {result.get('snapshot') or 'the working tree'}."]) + "\n"


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=",".join(SETTINGS["corpora"]), help="comma-separated (default %(default)s)")
    parser.add_argument("--families", default=",".join(MODEL_FAMILIES), help="comma-separated (default: every family)")
    parser.add_argument("--epochs", type=int, default=TrainConfig().epochs, help="training epochs (default %(default)s)")
    harness.add_path_arguments(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(SETTINGS["threads"])
    train = TrainConfig(epochs=args.epochs, seed=SETTINGS["seed"])
    result: Dict[str, Any] = {"epochs": args.epochs, "seed": SETTINGS["seed"], "tolerance": SETTINGS["tolerance"],
                              "format_version": FORMAT_VERSION, "train": dataclasses.asdict(train), "corpora": {},
                              "machine": {"platform": platform.platform(), "torch_threads": torch.get_num_threads()},
                              "snapshot": snapshot()}
    for name in args.corpora.split(","):
        corpus = load_corpus(name)
        counts, _ = devsuite.suite_counts(corpus, devsuite.default_vocab_config(corpus.lang))
        entry = {"n_train": counts.train.shape[0], "n_test": counts.test.shape[0], "n_vocab": counts.train.shape[1],
                 "note": corpus.note, "families": {}}
        result["corpora"][name] = entry
        for family in args.families.split(","):
            entry["families"][family] = run_family(family, counts, train)
            after = entry["families"][family]["after"]
            print(f"{name} {family}: L0 {after['mean_l0']} of {after['k']}, empty {after['empty_share']}", flush=True)
        harness.write_results(args.out, "empty_codes", result, markdown(result), printed="")  # after every corpus
    print(markdown(result))


if __name__ == "__main__":
    main()
