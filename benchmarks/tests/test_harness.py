"""The benchmark harness: corpora and splits, the System record, the timer, the results writer,
the settings and the paths. Tiny synthetic inputs; the shared corpora only where present."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.sparse as sp

from benchmarks import harness
from benchmarks.harness import corpora


def toy_documents(n_per_label: int = 10) -> harness.Documents:
    labels = np.array(["a"] * n_per_label + ["b"] * n_per_label)
    return harness.Documents([f"doc {i}" for i in range(len(labels))], labels, [f"id{i}" for i in range(len(labels))])


# --------------------------------------------------------------------------- corpora and splits
def test_stratified_split_is_seeded_sized_and_stratified():
    docs = toy_documents()
    split = harness.bbc_split(docs, seed=3)
    assert (len(split.train), len(split.test)) == (16, 4)
    assert sorted(np.concatenate([split.train, split.test]).tolist()) == list(range(20))
    assert sorted(docs.labels[split.test].tolist()) == ["a", "a", "b", "b"]
    again = harness.bbc_split(docs, seed=3)
    assert split.train.tolist() == again.train.tolist() and split.test.tolist() == again.test.tolist()
    assert harness.bbc_split(docs, seed=4).test.tolist() != split.test.tolist()


def test_permutation_split_draws_from_a_given_generator():
    docs = toy_documents()
    split = harness.bbc_split(docs, seed=0, stratified=False)
    assert (len(split.train), len(split.test)) == (16, 4)
    assert split.train.tolist() == np.random.default_rng(0).permutation(20)[:16].tolist()  # the draw order is kept
    rng = np.random.default_rng(0)
    assert harness.bbc_split(docs, rng, stratified=False).test.tolist() == split.test.tolist()
    reference = np.random.default_rng(0)
    reference.permutation(20)
    assert rng.integers(1000) == reference.integers(1000)  # the split advanced the caller's generator once
    ordered = split.sorted()
    assert ordered.train.tolist() == sorted(split.train.tolist()) and ordered.test.tolist() == sorted(split.test.tolist())


def test_documents_take_and_drop_blank_texts():
    docs = harness.Documents(["one", " ", "three"], np.array(["x", "y", "z"]), ["1", "2", "3"])
    kept = docs.nonempty()
    assert (kept.texts, kept.labels.tolist(), kept.ids) == (["one", "three"], ["x", "z"], ["1", "3"])
    assert docs.take([2, 0]).ids == ["3", "1"] and len(docs) == 3


def test_random_validation_rows_are_seeded_and_sorted():
    rows = harness.random_rows(50, 0.2, seed=123)
    assert len(rows) == 10 and rows.tolist() == sorted(rows.tolist())
    assert rows.tolist() == harness.random_rows(50, 0.2, seed=123).tolist()


def test_20ng_loader_keeps_the_bydate_split_and_drops_blank_posts(tmp_path):
    posts = [("train/a/1", "a", "first"), ("test/a/9", "a", "later"), ("train/b/2", "b", " "), ("train/b/3", "b", "third")]
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps({"id": i, "label": lab, "split": i.split("/")[0], "text": t}) + "\n"
                            for i, lab, t in posts), encoding="utf8")
    loaded = harness.load_20ng(path)
    assert loaded.train.ids == ["train/a/1", "train/b/3"] and loaded.train.labels.tolist() == ["a", "b"]
    assert loaded.test.texts == ["later"] and loaded.n_empty == 1
    assert harness.load_20ng(tmp_path / "absent.jsonl") is None


def test_dated_rows_hold_out_each_groups_latest_posts():
    ids = [f"train/{group}/{number}" for group, number in (("a", 5), ("b", 1), ("a", 1), ("a", 3), ("b", 7), ("a", 2), ("b", 4),
                                                         ("a", 4), ("b", 2), ("b", 3))]
    assert harness.dated_rows(ids, 0.2).tolist() == [0, 4]  # a/5 and b/7


def test_summary_loader_reads_the_shared_file_format(tmp_path):
    rows = [{"id": "business/001", "label": "business", "text": "Body one.", "summary": "One."},
            {"id": "tech/002", "label": "tech", "text": "Body two.", "summary": "Two."}]
    (tmp_path / corpora.BBC_SUMMARY_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf8")
    loaded = harness.load_bbc_summaries(tmp_path)
    assert loaded.summaries == ["One.", "Two."] and loaded.head(1).ids == ["business/001"]
    assert harness.load_bbc_summaries(tmp_path / "elsewhere") is None


def test_shared_bbc_summaries_load_when_present():
    loaded = harness.load_bbc_summaries(harness.shared_corpora())
    if loaded is None:
        pytest.skip(f"the shared corpora are absent ({harness.shared_corpora()})")
    assert len(loaded.texts) == len(loaded.summaries) == 2225


def test_synthetic_corpus_is_seeded_and_sized(tmp_path):
    first = harness.write_synthetic_corpus(tmp_path / "a.jsonl", 12, seed=1)
    second = harness.write_synthetic_corpus(tmp_path / "b.jsonl", 12, seed=1)
    lines = (tmp_path / "a.jsonl").read_text(encoding="utf8").splitlines()
    assert len(lines) == 12 and (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert first.stats() == second.stats() and 4 <= first.mean_sentences <= 16
    assert {json.loads(line)["label"] for line in lines} <= {"business", "entertainment", "politics", "sport", "tech"}
    head = harness.head(tmp_path / "a.jsonl", 5, tmp_path / "head.jsonl")
    assert head.read_text(encoding="utf8").splitlines() == lines[:5]


# --------------------------------------------------------------------------- matrices
def test_featurised_corpora_are_cached_once(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSECODE_BENCH_CACHE", str(tmp_path))
    built = []

    def build() -> harness.TopicCorpus:
        built.append(1)
        train = sp.csr_matrix(np.array([[1, 0, 2], [0, 3, 0]], dtype=np.float32))
        return harness.TopicCorpus("toy", train, train[:1], np.array(["x", "y"]), np.array(["x"]), ["u", "v", "w"],
                                   np.ones(3, dtype=np.float32), "a note")

    first = harness.cached("toy-key", build)
    again = harness.cached("toy-key", build)
    assert built == [1] and [p.name for p in tmp_path.iterdir()] == ["toy-key.npz"]
    assert (again.train != first.train).nnz == 0 and again.test.shape == (1, 3)
    assert (again.name, again.words, again.note, again.y_train.tolist()) == ("toy", ["u", "v", "w"], "a note", ["x", "y"])
    assert harness.vocab_tag({"min_df": 5, "alpha_only": True}) == harness.vocab_tag({"alpha_only": True, "min_df": 5})


# --------------------------------------------------------------------------- systems
def test_system_runs_its_fit_with_its_settings():
    system = harness.System("toy", "peer", lambda data, K, settings: (data, K, settings["alpha"]), {"alpha": 0.5})
    assert system.run("corpus", 20) == ("corpus", 20, 0.5)
    assert not system.ours and system.unavailable() is None
    with pytest.raises(ValueError, match="kind"):
        harness.System("bad", "theirs", print)


def test_unavailable_systems_have_a_reason():
    def broken():
        raise RuntimeError("broken install")

    systems = {"ok": harness.System("ok", "ours", print), "broken": harness.System("broken", "peer", print, check=broken),
               "absent": harness.System("absent", "peer", print, check=harness.needs_module("no_such_module_here"))}
    reasons = harness.unavailable(systems, ["ok", "broken", "absent", "nope"])
    assert reasons["ok"] is None and "broken install" in reasons["broken"]
    assert "no_such_module_here is not installed" in reasons["absent"] and "unknown system" in reasons["nope"]


# --------------------------------------------------------------------------- timer, writer
def test_timer_measures_a_block_and_runs_until_stopped():
    with harness.Timer() as clock:
        time.sleep(0.01)
    stopped = clock.seconds
    assert 0.005 < stopped < 5 and clock.seconds == stopped
    running = harness.Timer()
    first = running.seconds
    assert running.seconds >= first


def test_results_are_written_as_json_and_markdown(tmp_path, capsys):
    data = {"b": np.float32(0.5), "a": np.arange(3), "n": np.int64(7)}
    table = harness.markdown_table(("name", "value"), [["x", 1.5], ["y", ""]], "lr")
    assert table == "| name | value |\n|---|---:|\n| x | 1.5 |\n| y | |"
    harness.write_results(tmp_path, "toy", data, "# Toy\n\n" + table)
    assert json.loads((tmp_path / "toy.json").read_text()) == {"a": [0, 1, 2], "b": 0.5, "n": 7}
    assert (tmp_path / "toy.md").read_text() == "# Toy\n\n" + table + "\n"
    assert "| x | 1.5 |" in capsys.readouterr().out
    harness.write_results(tmp_path, "toy", {"a": 1}, "md", printed="console text")
    assert capsys.readouterr().out == "console text\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.json", "toy.md"]  # no temporary files left


def test_a_result_that_cannot_be_written_leaves_the_old_files(tmp_path):
    harness.write_results(tmp_path, "toy", {"a": 1}, "old")
    with pytest.raises(TypeError):
        harness.write_results(tmp_path, "toy", {"a": object()}, "new")
    assert json.loads((tmp_path / "toy.json").read_text()) == {"a": 1} and (tmp_path / "toy.md").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.json", "toy.md"]


# --------------------------------------------------------------------------- settings, paths
SCRIPTS = ("peers", "peers_select", "latent_profile", "model_zoo", "summarize", "compress", "generate", "pipe_speed",
           "cli_scale", "report_screenshot")


def test_every_script_has_its_settings_table_and_gets_a_copy():
    for script in SCRIPTS:
        assert isinstance(harness.settings(script), dict)
    late = harness.settings("peers")["systems"]["ours-topk-late"]
    assert late["model"]["encoder_input"] == "nonneg" and late["train"]["constrain_from"] == 0.7
    late["model"]["k"] = 99
    assert harness.settings("peers")["systems"]["ours-topk-late"]["model"]["k"] == 6
    with pytest.raises(KeyError, match="no \\[nope\\] table"):
        harness.settings("nope")


def test_candidates_override_known_fields_only():
    from dataclasses import fields

    from spacy_sparsecode.models.sae import SAEConfig
    from spacy_sparsecode.models.trainer import TrainConfig

    known = {f.name for f in fields(TrainConfig)} | {f.name for f in fields(SAEConfig)}
    for name, overrides in harness.settings("peers_select")["candidates"].items():
        assert set(overrides) <= known, name


def test_paths_come_from_arguments_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("SPARSECODE_SHARED_CORPORA", raising=False)
    assert harness.shared_corpora() == harness.REPO.parent / "shared" / "corpora"
    monkeypatch.setenv("SPARSECODE_SHARED_CORPORA", str(tmp_path))
    monkeypatch.setenv("SPARSECODE_BENCH_RESULTS", str(tmp_path / "results"))
    assert harness.shared_corpora() == tmp_path and harness.results_dir() == tmp_path / "results"
    parser = argparse.ArgumentParser()
    harness.add_path_arguments(parser, shared=True)
    args = parser.parse_args(["--out", str(tmp_path / "o")])
    assert (args.out, args.shared_corpora) == (tmp_path / "o", tmp_path)


@pytest.mark.parametrize("command", [["benchmarks/metrics_speed.py"], ["-m", "benchmarks.metrics_speed"]])
def test_scripts_run_as_files_and_as_modules(command):
    done = subprocess.run([sys.executable, *command, "--topics", "2", "--docs", "20", "--vocab", "30"], cwd=harness.REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "npmi K=2 x 10 words" in done.stdout
