"""The peer benchmark and its settings selection: skips, targets, tables and splits."""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import numpy as np
import pytest
import scipy.sparse as sp

from benchmarks import harness, latent_profile, peers
from benchmarks import peers_select as select


def test_missing_peer_is_skipped_with_reason(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tomotopy" else real(name, *a))
    status = harness.unavailable(peers.SYSTEMS, ["tomotopy-lda", "sklearn-nmf", "no-such-system"])
    assert status["sklearn-nmf"] is None
    assert "not installed" in status["tomotopy-lda"] and "bench" in status["tomotopy-lda"]
    assert "unknown system" in status["no-such-system"]


def test_broken_peer_check_is_a_skip_not_a_crash(monkeypatch):
    def boom():
        raise RuntimeError("broken install")

    monkeypatch.setitem(peers.SYSTEMS, "sklearn-nmf", dataclasses.replace(peers.SYSTEMS["sklearn-nmf"], check=boom))
    assert "broken install" in harness.unavailable(peers.SYSTEMS, ["sklearn-nmf"])["sklearn-nmf"]


def test_missing_20ng_file_is_skipped(tmp_path):
    assert harness.topics.newsgroups_counts(tmp_path / "absent.jsonl") is None
    assert harness.topics.topic_corpus("20ng", tmp_path) is None


def test_every_system_has_its_settings_and_ours_come_first():
    kinds = [system.kind for system in peers.SYSTEMS.values()]
    assert kinds == sorted(kinds)  # "ours" before "peer": LSA is probed at our codes' non-zeros
    assert peers.SYSTEMS["ours-topk-late"].settings["model"]["encoder_input"] == "nonneg"
    assert peers.SYSTEMS["tomotopy-lda"].settings == {"iterations": 500, "workers": 2}
    assert set(peers.SETTINGS["quick_systems"]) <= set(peers.SYSTEMS)


def test_truncate_top_abs_keeps_k_per_row():
    rep = np.array([[0.1, -3.0, 2.0, 0.5], [1.0, 0.0, -0.2, 0.3]])
    out = peers.truncate_top_abs(rep, 2).toarray()
    assert (out != 0).sum(axis=1).tolist() == [2, 2]
    assert out[0, 1] == -3.0 and out[1, 0] == 1.0


def test_truncate_top_abs_takes_a_count_per_row():
    rep = np.array([[0.1, -3.0, 2.0, 0.5], [1.0, 0.0, -0.2, 0.3], [4.0, 1.0, 1.0, 1.0]])
    out = peers.truncate_top_abs(rep, np.array([1, 4, 0])).toarray()
    assert (out != 0).sum(axis=1).tolist() == [1, 3, 0]  # row 1 keeps all 4 values, one of them 0.0
    assert out[0].tolist() == [0, -3.0, 0, 0] and out[1].tolist() == [1.0, 0, -0.2, 0.3]


def test_probe_target_compares_each_of_ours_to_lsa_at_its_own_non_zeros():
    summary = [dict(corpus="bbc", system="ours-topk", K=50, probe=0.95, l0=12.0),
               dict(corpus="bbc", system="ours-topk-plain", K=50, probe=0.96, l0=6.0),
               dict(corpus="bbc", system="lsa", K=50, probe=0.97, **{"probe_at_l0:ours-topk": 0.965, "probe_at_l0:ours-topk-plain": 0.95})]
    (check,) = [c for c in peers.check_targets(summary) if c["target"].startswith("probe")]
    assert check["met"] is True and check["ours"].startswith("ours-topk-plain 0.960")
    assert "ours-topk 0.950 vs 0.965" in check["peer"]
    summary[1]["probe"] = 0.94
    (check,) = [c for c in peers.check_targets(summary) if c["target"].startswith("probe")]
    assert check["met"] is False


def test_tables_are_rewritten_from_the_saved_json(tmp_path):
    summary = [dict(corpus="bbc", system=name, K=50, n_seeds=1, train_s=t, npmi_heldout=n, td=td)
               for name, t, n, td in (("ours-topk", 1.0, 0.22, 0.91), ("ours-topk-plain", 0.9, 0.30, 0.6),
                                      ("sklearn-nmf", 2.0, 0.25, 0.7), ("gensim-lda", 15.0, 0.02, 0.5))]
    (tmp_path / "peers.json").write_text(json.dumps(dict(meta=dict(date="d", machine="m", seeds=1), summary=summary, checks=[])))
    table = peers.rewrite_tables(tmp_path)
    checks = json.loads((tmp_path / "peers.json").read_text())["checks"]
    npmi = next(c for c in checks if c["target"].startswith("NPMI"))
    assert npmi["ours"].startswith("ours-topk 0.220") and npmi["met"] is False  # the TD < 0.9 system does not count
    assert "| bbc | ours-topk | 50 |" in table and (tmp_path / "peers.md").exists()


def test_speed_is_checked_on_the_system_that_reaches_the_quality():
    summary = [dict(corpus="20ng", system=name, K=50, train_s=t, npmi_heldout=n, td=td)
               for name, t, n, td in (("ours-topk", 2.0, 0.18, 0.97), ("ours-topk-late", 5.0, 0.26, 0.93),
                                      ("sklearn-nmf", 7.0, 0.25, 0.73), ("gensim-lda", 30.0, 0.07, 0.66))]
    checks = {c["target"]: c for c in peers.check_targets(summary)}
    assert checks["NPMI held-out K=50: our best with TD >= 0.9 >= best peer"]["met"] is True
    assert checks["train time K=50: sklearn-nmf / ours-topk-late >= 1"]["met"] is True
    # 6x: the faster ours-topk (10x faster than gensim) does not count, it misses the quality
    assert checks["train time K=50: gensim-lda / ours-topk-late >= 10"]["met"] is False


def test_settings_are_chosen_on_a_split_of_the_training_set_only():
    train = sp.csr_matrix(np.arange(100, dtype=np.float32)[:, None] + 1)  # row i holds i + 1
    test = sp.csr_matrix(np.full((7, 1), -1.0, dtype=np.float32))
    corpus = harness.TopicCorpus("toy", train, test, np.zeros(100), np.zeros(7), ["w"], np.ones(1))
    split = select.validation_corpus(corpus)
    fit_rows, val_rows = split.train.toarray().ravel(), split.test.toarray().ravel()
    assert (len(fit_rows), len(val_rows)) == (80, 20)
    assert sorted(np.concatenate([fit_rows, val_rows])) == list(range(1, 101))  # disjoint, all training docs
    assert split.y_train is None and split.y_test is None  # no labels: the test set is never touched


def test_unknown_selection_candidate_is_named_before_any_corpus_loads(monkeypatch, capsys):
    monkeypatch.setattr(harness.topics, "topic_corpus", lambda *a: pytest.fail("the corpus was loaded"))
    with pytest.raises(SystemExit) as stop:
        select.main(["--candidates", "lr 1.2e-2;batch 999"])
    assert stop.value.code == 2
    assert "unknown candidate 'batch 999'" in capsys.readouterr().err


def test_earlier_selection_runs_are_kept_only_for_the_same_split_seeds_and_base(tmp_path):
    meta = dict(corpus="c", seeds=2, split_seed=1, K=50, base=dict(model={"k": 8}, train={"lr": 0.1}))
    runs = {"sklearn-nmf": [{"npmi": 0.1}], "k 5": [{"npmi": 0.2}], "a candidate since removed": [{"npmi": 0.3}]}
    path = tmp_path / "peers_select_c.json"
    path.write_text(json.dumps(dict(meta=meta, runs=runs)), encoding="utf8")
    assert select.earlier_runs(path, meta) == {"sklearn-nmf": [{"npmi": 0.1}], "k 5": [{"npmi": 0.2}]}
    other_base = dict(meta, base=dict(model={"k": 8, "init_neighbours": 50}, train={"lr": 0.1}))
    assert select.earlier_runs(path, other_base) == {}
    assert select.earlier_runs(path, dict(meta, seeds=3)) == {}
    assert select.earlier_runs(tmp_path / "absent.json", meta) == {}


def test_dated_validation_holds_out_each_groups_latest_training_posts(tmp_path):
    posts = [("train/a/105", "late a"), ("train/b/7", "early b"), ("test/a/200", "a test post"), ("train/a/101", "early a"),
             ("train/b/9", "late b"), ("train/a/102", " "), ("train/a/103", "a"), ("train/a/104", "a"), ("train/b/8", "b"),
             ("train/b/6", "b"), ("train/b/5", "b")]
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps({"id": i, "split": i.split("/")[0], "text": t}) + "\n" for i, t in posts), encoding="utf8")
    # training rows without the test post and the empty one: a/105, b/7, a/101, b/9, a/103, a/104, b/8, b/6, b/5
    assert select.dated_validation_rows(9, path).tolist() == [0, 3]  # a/105 and b/9, each group's latest fifth
    with pytest.raises(ValueError, match="corpus cache"):
        select.dated_validation_rows(10, path)


def test_latent_profile_counts_each_latents_documents_and_word_rarity(monkeypatch):
    monkeypatch.setattr(latent_profile, "TOP_N", 2)
    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 0, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 0]], dtype=np.float32))  # "d" never comes back
    corpus = harness.TopicCorpus("toy", train, test, None, None, list("abcd"), np.ones(4))
    codes = np.array([[1, 0], [2, 0], [0, 1], [1, 0]], dtype=np.float32)  # latent 0 in 3 documents, latent 1 in 1
    fitted = harness.Fitted(np.array([[1, 0.9, 0, 0], [0, 0, 1, 0.9]]), 0.0, lambda x: x, codes)
    row = latent_profile.profile(fitted, corpus, corpus.words)
    assert row["l0"] == 1.0 and row["median_active_docs"] == 2.0
    assert row["median_top_word_df"] == 1.75  # medians of (3, 2) and (1, 1)
    assert row["npmi"] == pytest.approx(0.0) and row["bad_share"] == 0.5  # "a b" at NPMI 1, "c d" at -1
    assert row["worst"] == "-1.00 (1 docs): c d"
