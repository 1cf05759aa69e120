"""The development suite (benchmarks/suite.py): corpora and splits, retrieval precision, targets, a tiny run."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import scipy.sparse as sp

from benchmarks import harness, suite
from benchmarks.harness import devsuite

SAMPLE = harness.REPO / "corpora" / "sample.jsonl"


def write_corpus(path, records):
    with gzip.open(path, "wt", encoding="utf8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    return path


def sample_corpus(folder, name="tiny_en", n_train=120):
    """corpora/sample.jsonl with a split: the first ``n_train`` articles train, the rest held out."""
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf8").splitlines() if line.strip()]
    return write_corpus(folder / f"{name}.jsonl.gz", [{**r, "split": "train" if i < n_train else "test"} for i, r in enumerate(rows)])


# --------------------------------------------------------------------------- corpora
def test_loader_keeps_the_files_split_labels_and_language(tmp_path):
    path = write_corpus(tmp_path / "toy_de.jsonl.gz", [
        {"id": "a", "text": "Erster Text", "split": "train", "label": "x", "lang": "de"},
        {"id": "b", "text": "Zweiter Text", "split": "train", "lang": "de"},  # no label
        {"id": "c", "text": "   ", "split": "train", "label": "x", "lang": "de"},  # blank: dropped
        {"id": "d", "text": "Dritter Text", "split": "test", "label": "y", "lang": "de"},
    ])
    corpus = devsuite.load_jsonl_corpus(path)
    assert corpus.name == "toy_de" and corpus.lang == "de" and corpus.n_docs == 3
    assert corpus.train.ids == ["a", "b"] and corpus.train.labels.tolist() == ["x", devsuite.NO_LABEL]
    assert corpus.test.ids == ["d"] and corpus.labelled() and "1 blank" in corpus.note
    again = devsuite.load_jsonl_corpus(path)
    assert again.fingerprint == corpus.fingerprint


def test_loader_refuses_mixed_languages_and_a_missing_split(tmp_path):
    mixed = write_corpus(tmp_path / "mixed.jsonl.gz", [{"id": "a", "text": "x", "split": "train", "lang": "de"},
                                                      {"id": "b", "text": "y", "split": "test", "lang": "nl"}])
    with pytest.raises(ValueError, match="several languages"):
        devsuite.load_jsonl_corpus(mixed)
    no_test = write_corpus(tmp_path / "no_test.jsonl.gz", [{"id": "a", "text": "x", "split": "train"}])
    with pytest.raises(ValueError, match="held-out"):
        devsuite.load_jsonl_corpus(no_test)


def test_suite_names_smallest_file_first_and_absent_corpora_are_skipped(tmp_path):
    write_corpus(tmp_path / "big.jsonl.gz", [{"id": str(i), "text": f"text {i} " * 50, "split": "train"} for i in range(200)])
    write_corpus(tmp_path / "small.jsonl.gz", [{"id": "a", "text": "x", "split": "train"}])
    assert devsuite.suite_names(tmp_path) == ["small", "big"] and devsuite.count_docs(tmp_path / "big.jsonl.gz") == 200
    # fewest documents first; an absent shared corpus sorts first (and is skipped with its reason)
    assert suite.corpus_names("", tmp_path, tmp_path) == ["20ng", "small", "big", "bbc"]
    assert suite.corpus_names("big, bbc", tmp_path, tmp_path) == ["big", "bbc"]
    corpus, reason = suite.load_corpus("nothing", tmp_path, tmp_path)
    assert corpus is None and "absent" in reason
    corpus, reason = suite.load_corpus("20ng", tmp_path, tmp_path)
    assert corpus is None and harness.corpora.NEWSGROUPS_FILE in reason


def test_cap_is_a_seeded_subsample_in_corpus_order(tmp_path):
    corpus = devsuite.load_jsonl_corpus(sample_corpus(tmp_path))
    small = devsuite.capped(corpus, 50, 10, seed=3)
    assert len(small.train) == 50 and len(small.test) == 10 and "capped to 50 of 120" in small.note
    rows = [corpus.train.ids.index(i) for i in small.train.ids]
    assert rows == sorted(rows) and devsuite.capped(corpus, 50, 10, seed=3).train.ids == small.train.ids
    assert small.fingerprint != corpus.fingerprint
    assert devsuite.capped(corpus, None, 1000, seed=3) is corpus


# --------------------------------------------------------------------------- bags and our default
def test_bags_use_the_components_default_vocabulary_and_are_cached(tmp_path, monkeypatch):
    import spacy

    from spacy_sparsecode.text.vocab import BagOfWordsVocab

    monkeypatch.setenv("SPARSECODE_BENCH_CACHE", str(tmp_path / "cache"))
    corpus = devsuite.load_jsonl_corpus(sample_corpus(tmp_path))
    config = devsuite.default_vocab_config(corpus.lang)
    counts, seconds = devsuite.suite_counts(corpus, config)
    again, cached_seconds = devsuite.suite_counts(corpus, config)
    assert seconds > 0 and cached_seconds == 0 and (again.train != counts.train).nnz == 0
    expected = BagOfWordsVocab.build(spacy.blank("en").pipe(corpus.train.texts), config)
    assert counts.words == expected.strings and counts.test.shape == (30, len(expected))
    vocab = devsuite.bag_vocab(counts, config)
    assert vocab.df.tolist() == expected.df.tolist() and vocab.n_docs == 120


def test_our_training_settings_are_the_commands_defaults():
    defaults = devsuite.cli_defaults()
    config = devsuite.cli_train_config(seed=2)
    assert config.seed == 2 and defaults["n_latents"] is None and defaults["k"] is None
    for name in devsuite.CLI_TRAIN_FIELDS:
        assert getattr(config, name) == defaults[name]


# --------------------------------------------------------------------------- retrieval
def test_precision_at_k_on_a_toy_case():
    base = np.array([[1, 0, 0], [2, 0, 0], [0, 1, 0], [1, 1, 0]], dtype=float)
    y_base = ["a", "a", "b", "b"]
    queries = np.array([[1, 0, 0], [0, 3, 0], [0, 0, 0], [0, 0, 1]], dtype=float)
    # query 0: a, a (cosine 1), then b (0.71): 2 of 3; query 1: b (1), b (0.71), nothing else shares a word
    # query 2 and 3 are empty or share nothing: no neighbours, precision 0
    p = devsuite.precision_at_k(sp.csr_matrix(queries), sp.csr_matrix(base), ["a", "b", "a", "a"], y_base, k=3)
    assert np.allclose(p, [2 / 3, 2 / 3, 0, 0])
    assert np.allclose(devsuite.precision_at_k(queries, base, ["a", "b", "a", "a"], y_base, k=1), [1, 1, 0, 0])


def test_precision_at_k_shares_tied_slots():
    base = np.array([[1, 0], [1, 0], [1, 0], [1, 0], [0, 1]], dtype=float)
    # four rows tie at cosine 1 for two slots: half of them are "a", so 1 of the 2 slots on average
    p = devsuite.precision_at_k(np.array([[1.0, 0.0]]), base, ["a"], ["a", "b", "a", "b", "a"], k=2)
    assert np.allclose(p, [0.5])
    p = devsuite.precision_at_k(np.array([[1.0, 0.0]]), base, ["a"], ["b", "a", "a", "a", "a"], k=2)
    assert np.allclose(p, [0.75])


def test_keep_top_and_query_rows():
    codes = sp.csr_matrix(np.array([[0.1, 3.0, 0.5, 0.0], [1.0, 0.0, 0.0, 0.2]]))
    assert devsuite.keep_top(codes, 2).toarray().tolist() == [[0, 3.0, 0.5, 0], [1.0, 0, 0, 0.2]]
    assert devsuite.keep_top(codes, 1).getnnz(axis=1).tolist() == [1, 1]
    rows = devsuite.query_rows(100, 10, seed=0)
    assert len(rows) == 10 and rows.tolist() == sorted(rows.tolist()) and rows.tolist() == devsuite.query_rows(100, 10, 0).tolist()
    assert devsuite.query_rows(5, 10, 0).tolist() == [0, 1, 2, 3, 4]


# --------------------------------------------------------------------------- summary and targets
def entry(n_docs, ours, nmf, tomotopy, td=0.85, p=(0.5, 0.4), seconds=(1.0, 2.0)):
    systems = {suite.OURS: {"npmi_heldout": ours, "td": td, "train_s": seconds[0], "p_at_k": p[0], "l0": 16.0, "empty_codes": 0.0},
               suite.NMF: {"npmi_heldout": nmf, "td": 0.8, "train_s": seconds[1]},
               suite.TOMOTOPY: {"npmi_heldout": tomotopy, "td": 0.7, "train_s": 3.0},
               suite.TFIDF: {"p_at_k": p[1]}}
    info = {"lang": "en", "n_docs": n_docs, "n_train": n_docs * 4 // 5, "n_test": n_docs // 5, "n_vocab": 100, "capped": False}
    return {"info": info, "systems": systems, "runs": []}


CONFIG = suite.RunConfig(K=50, seeds=3, max_train_docs=0, max_test_docs=0, cap_seed=19, max_queries=100, query_seed=0,
                         retrieval_k=10, max_code_nnz=16, systems=suite.SYSTEMS, end_to_end=False, timed_min_docs=5000)


def test_targets_per_corpus_and_the_worst_corpus():
    corpora = {
        "small": entry(1000, ours=0.20, nmf=0.10, tomotopy=0.15),  # topics met; too small for the time target
        "big": entry(9000, ours=0.10, nmf=0.12, tomotopy=0.05, seconds=(3.0, 2.0), p=(0.3, 0.4)),
        "low_td": entry(6000, ours=0.30, nmf=0.10, tomotopy=0.10, td=0.5, seconds=(1.0, 4.0)),
    }
    rows = [suite.corpus_summary(name, e, CONFIG, min_td=0.8) for name, e in corpora.items()]
    by = {r["corpus"]: r for r in rows}
    assert by["small"]["topics_met"] is True and by["small"]["time_met"] is None and by["small"]["best_peer"] == suite.TOMOTOPY
    assert by["big"]["topics_met"] is False and np.isclose(by["big"]["topics_margin"], -0.02)
    assert by["low_td"]["topics_met"] is False  # NPMI above the peers, TD below 0.8
    assert by["big"]["time_met"] is False and by["big"]["time_ratio"] == 1.5 and by["low_td"]["time_met"] is True
    assert by["big"]["retrieval_met"] is False and by["small"]["retrieval_met"] is True
    checks = {c["target"]: c for c in suite.check_targets(rows, CONFIG, min_td=0.8)}
    assert checks["topics"]["n_met"] == 1 and checks["topics"]["worst"] == "big" and checks["topics"]["lowest_td"] == "low_td"
    assert checks["time"]["n_corpora"] == 2 and checks["time"]["worst"] == "big" and checks["time"]["met"] is False
    assert checks["retrieval"]["failed"] == ["big"] and checks["retrieval"]["worst"] == "big"
    assert "worst corpus" in suite.checks_table(list(checks.values()))


def test_unlabelled_corpus_has_no_retrieval_check():
    e = entry(1000, ours=0.2, nmf=0.1, tomotopy=0.1)
    del e["systems"][suite.TFIDF], e["systems"][suite.OURS]["p_at_k"]
    row = suite.corpus_summary("unlabelled", e, CONFIG, min_td=0.8)
    assert row["retrieval_met"] is None
    checks = {c["target"]: c for c in suite.check_targets([row], CONFIG, min_td=0.8)}
    assert checks["retrieval"]["met"] is None and checks["retrieval"]["n_corpora"] == 0


# --------------------------------------------------------------------------- a tiny run
def test_tiny_run_writes_results_and_resumes(tmp_path, monkeypatch):
    from spacy_sparsecode.models.trainer import TrainConfig

    monkeypatch.setenv("SPARSECODE_BENCH_CACHE", str(tmp_path / "cache"))
    # the command's settings but 2 epochs, to keep the test fast
    monkeypatch.setattr(devsuite, "cli_train_config", lambda seed: TrainConfig(epochs=2, checkpoint_every=500, seed=seed))
    sample_corpus(tmp_path)
    args = ["--corpora", "tiny_en,absent", "--corpora-dir", str(tmp_path), "--seeds", "1", "--K", "20",
            "--systems", f"{suite.OURS},{suite.NMF}", "--no-end-to-end", "--out", str(tmp_path / "out")]
    assert suite.main(args) == 0
    data = json.loads((tmp_path / "out" / "suite.json").read_text(encoding="utf8"))
    assert data["meta"]["skipped"] == {"absent": f"{tmp_path / 'absent.jsonl.gz'} is absent"} and data["meta"]["pending"] == []
    (row,) = data["summary"]
    assert row["corpus"] == "tiny_en" and row["n_train"] == 120 and 0 <= row["p_ours"] <= 1 and row["topics_met"] is not None
    ours = data["corpora"]["tiny_en"]["systems"][suite.OURS]
    assert ours["l0"] > 0 and 0 <= ours["empty_codes"] <= 1
    assert data["meta"]["ours_train"]["epochs"] == 2 and ours["n_seeds"] == 1
    markdown = (tmp_path / "out" / "suite.md").read_text(encoding="utf8")
    assert "### tiny_en" in markdown and "| tiny_en |" in markdown

    def no_training(*a, **k):
        raise AssertionError("a resumed run trained a finished corpus again")

    monkeypatch.setattr(suite, "run_corpus", no_training)
    assert suite.main([*args, "--resume"]) == 0
    resumed = (tmp_path / "out" / "suite.md").read_text(encoding="utf8")
    assert "### tiny_en" in resumed
    (tmp_path / "out" / "suite.md").unlink()
    assert suite.main(["--from-json", "--out", str(tmp_path / "out")]) == 0  # the tables again, without training
    assert (tmp_path / "out" / "suite.md").read_text(encoding="utf8") == resumed
