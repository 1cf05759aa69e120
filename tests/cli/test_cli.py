"""The ``sparsecode`` CLI: train / encode / topics / evaluate, bad records, resume after SIGKILL.

Small models on corpora/sample.jsonl (150 docs): --n-latents 32 --k 4 --epochs 2. Commands
run in-process through typer's CliRunner, except the SIGKILL tests (subprocesses).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import List

import numpy as np
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
import spacy
import torch
from clitools import SAMPLE, SMALL, cli, run
from spacy.tokens import DocBin

from spacy_sparsecode import fit_component
from spacy_sparsecode.io import load_tensors
from spacy_sparsecode.models.trainer import TrainConfig
from spacy_sparsecode.text.corpora import read_corpus
from spacy_sparsecode.text.vocab import BagOfWordsVocab, VocabConfig


def lines_of(path: Path) -> List[str]:
    return path.read_text(encoding="utf8").splitlines()


def repeat_sample(path: Path, times: int) -> Path:
    """sample.jsonl repeated ``times`` times, with unique ids."""
    with open(path, "w", encoding="utf8") as f:
        for r in range(times):
            for line in lines_of(SAMPLE):
                row = json.loads(line)
                row["id"] = f"{row['id']}#{r}"
                f.write(json.dumps(row) + "\n")
    return path


def same_weights(a: Path, b: Path) -> bool:
    x, y = load_tensors(a / "sparsecode" / "model.safetensors"), load_tensors(b / "sparsecode" / "model.safetensors")
    return x.keys() == y.keys() and all(bool((x[k] == y[k]).all()) for k in x)


# --- train ------------------------------------------------------------------------------
def test_train_matches_component_fit(cli_model: Path) -> None:
    """The CLI's cached-CSR path gives exactly the weights of SparseCoder.fit on the Docs."""
    nlp = spacy.load(cli_model)
    assert nlp.pipe_names == ["sparsecode"] and nlp("Shares rose.")._.sparse_code.dim == 32
    assert "sparsecode_train" in json.loads((cli_model / "meta.json").read_text())
    torch.set_num_threads(1)  # as the CLI run (--threads 1): CPU sums depend on the thread count
    ref = spacy.blank("en")
    component = ref.add_pipe("sparsecode", config={"model": {"n_latents": 32, "k": 4, "seed": 0}})
    docs = list(ref.tokenizer.pipe(r.text for r in read_corpus(SAMPLE)))
    fit_component(component, docs, TrainConfig(epochs=2), progress=False)
    assert component.bow_vocab.strings == nlp.get_pipe("sparsecode").bow_vocab.strings
    saved = load_tensors(cli_model / "sparsecode" / "model.safetensors")
    for name, tensor in component.torch_model.weight_tensors().items():
        assert bool((tensor.cpu() == saved[name]).all()), name
    assert not (cli_model.parent / "model.cache" / "checkpoints").exists()  # removed after success


def test_train_reuses_cache_and_parallel_tokenising_agrees(cli_model: Path, tmp_path: Path) -> None:
    cache = cli_model.parent / "model.cache"
    again = run("train", SAMPLE, tmp_path / "again", *SMALL, "--cache-dir", cache)
    assert "reused the cached corpus" in again.output
    assert same_weights(cli_model, tmp_path / "again")
    parallel = run("train", SAMPLE, tmp_path / "par", *SMALL, "--n-process", "2", "--chunk-size", "40")
    assert "tokenised" in parallel.output
    assert same_weights(cli_model, tmp_path / "par")


@pytest.mark.parametrize("config", [
    dict(min_df=1, max_df=1.0, max_size=None),
    dict(min_df=3, max_df=0.2, max_size=None),
    dict(min_df=0.02, max_df=0.5, max_size=50),
    dict(min_df=2, max_df=40, max_size=7, drop_stop=False),
])
def test_vocab_from_document_frequencies_matches_build(config) -> None:
    """The cache's term selection from document frequencies gives what BagOfWordsVocab.build gives."""
    from spacy_sparsecode.text.vocab import token_hashes

    nlp = spacy.blank("en")
    docs = list(nlp.pipe(r.text for r in read_corpus(SAMPLE)))
    vocab_config = VocabConfig(**config)
    keys, df = np.unique(np.concatenate([np.unique(token_hashes(d, vocab_config)) for d in docs]), return_counts=True)
    got = BagOfWordsVocab.from_document_frequencies(keys, df, len(docs), vocab_config, lambda ks: [nlp.vocab.strings[int(k)] for k in ks])
    want = BagOfWordsVocab.build(docs, vocab_config)
    assert got.strings == want.strings and got.df.tolist() == want.df.tolist() and got.n_docs == want.n_docs


def test_train_config_and_model_options(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("sparsecode", config={"min_df": 3})
    config = tmp_path / "sc.cfg"
    config.write_text(nlp.config.to_str(), encoding="utf8")
    run("train", SAMPLE, tmp_path / "cfg", *SMALL, "--config", config, "--family", "topk")
    trained = spacy.load(tmp_path / "cfg").get_pipe("sparsecode")
    assert trained.vocab_config.min_df == 3 and trained.torch_model.config.n_latents == 32
    bad = run("train", SAMPLE, tmp_path / "x", "--family", "nosuch", code=1)
    assert "[E505]" in bad.output and "topk" in bad.output
    bad = run("train", SAMPLE, tmp_path / "x", "--config", tmp_path / "sc.cfg", "--family", "topk", "--n-latents", "0", code=2)
    empty = tmp_path / "empty.cfg"
    empty.write_text("[nlp]\nlang = \"en\"\npipeline = []\n\n[components]\n", encoding="utf8")
    assert "[E508]" in run("train", SAMPLE, tmp_path / "x", "--config", empty, code=1).output


def test_train_model_is_a_deprecated_name_of_family(tmp_path: Path) -> None:
    """``--model/-m`` still names the family (MODEL is a pipeline folder elsewhere), with a warning; not in --help."""
    for name in ("--model", "-m"):
        old = run("train", SAMPLE, tmp_path / "x", name, "nosuch", code=1)
        assert "deprecated" in old.stderr and "--family" in old.stderr and "[E505]" in old.stderr
    both = run("train", SAMPLE, tmp_path / "x", "--family", "topk", "--model", "l1", code=2)
    assert "deprecated name of --family" in " ".join(both.output.split())
    shown = run("train", "--help").output
    assert "--family" in shown and "--model" not in shown and not (tmp_path / "x").exists()


def test_topic_preset_constrains_the_decoder_late(tmp_path: Path) -> None:
    preset = Path(__file__).resolve().parents[2] / "configs" / "sae_topk_topics.cfg"
    run("train", SAMPLE, tmp_path / "topics", "--config", preset, "--n-latents", "16", "--epochs", "4",
        "--constrain-from", "0.5", "--threads", "1")
    model = spacy.load(tmp_path / "topics").get_pipe("sparsecode").torch_model
    assert model.config.scaling == "log1p-tfidf" and model.config.exclusivity == 0.6 and model.config.encoder_input == "nonneg"
    assert bool((model.W_enc >= 0).all())
    weights = model.decoder_weights().detach()
    largest = weights.amax(dim=0, keepdim=True)
    # the constraint holds at the end (up to the rows' renormalisation after the last mask)
    assert bool(((weights == 0) | (weights >= 0.5 * largest)).all())
    assert "--constrain-from" in run("train", SAMPLE, tmp_path / "x", "--constrain-from", "1.5", code=2).output


def test_output_dir_that_is_not_ours_is_kept(cli_model: Path, tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("precious")
    result = run("train", SAMPLE, theirs, *SMALL, code=1)
    assert "[E500]" in result.output and (theirs / "notes.txt").read_text() == "precious"
    run("train", SAMPLE, theirs, *SMALL, "--overwrite")
    assert not (theirs / "notes.txt").exists() and (theirs / "meta.json").exists()
    run("train", SAMPLE, theirs, *SMALL)  # ours now: replaced without --overwrite
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "[E500]" in run("train", SAMPLE, afile, *SMALL, code=1).output and afile.read_text() == "x"


# --- encode -----------------------------------------------------------------------------
def test_encode_formats_agree_with_the_pipeline(cli_model: Path, tmp_path: Path) -> None:
    nlp = spacy.load(cli_model)
    records = list(read_corpus(SAMPLE))
    expected = [doc._.sparse_code for doc in nlp.pipe(r.text for r in records)]
    run("encode", cli_model, SAMPLE, tmp_path / "c.npz", "--chunk-size", "64")
    codes = sp.load_npz(tmp_path / "c.npz")
    ids = np.load(tmp_path / "c.npz")["ids"]
    assert codes.shape == (150, 32) and ids.tolist() == [r.id for r in records]
    for i, code in enumerate(expected):
        assert codes[i].indices.tolist() == code.indices.tolist()
        np.testing.assert_allclose(codes[i].data, code.values, rtol=1e-6)
    run("encode", cli_model, SAMPLE, tmp_path / "c.parquet", "--chunk-size", "40", "--n-process", "2")
    table = pq.read_table(tmp_path / "c.parquet").to_pylist()
    assert [row["id"] for row in table] == ids.tolist()
    assert all(row["indices"] == codes[i].indices.tolist() for i, row in enumerate(table))
    run("encode", cli_model, SAMPLE, tmp_path / "c.spacy", "--chunk-size", "100")
    docs = list(DocBin().from_disk(tmp_path / "c.spacy").get_docs(nlp.vocab))
    assert [d.user_data["sparsecode.id"] for d in docs] == ids.tolist()
    assert all(d._.sparse_code.indices.tolist() == codes[i].indices.tolist() for i, d in enumerate(docs))
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob(".*.tmp"))
    assert "[E501]" in run("encode", cli_model, SAMPLE, tmp_path / "c.npz", code=1).output
    run("encode", cli_model, SAMPLE, tmp_path / "c.npz", "--overwrite")
    assert "[E502]" in run("encode", cli_model, SAMPLE, tmp_path / "c.csv", code=1).output
    assert "[E507]" in run("encode", tmp_path, SAMPLE, tmp_path / "d.npz", code=1).output


def bad_corpora(tmp_path: Path) -> dict:
    good = [json.dumps({"text": f"Shares of the retailer rose {i} percent after strong sales."}) for i in range(6)]
    files = {
        "malformed": ("\n".join(good[:3] + ['{"text": oops}'] + good[3:]) + "\n").encode(),
        "undecodable": ("\n".join(good[:2]) + "\n").encode() + b'{"text": "caf\xe9 au lait"}\n' + ("\n".join(good[2:]) + "\n").encode(),
        "missing_field": ("\n".join(good[:4] + [json.dumps({"body": "x", "title": "y"})] + good[4:]) + "\n").encode(),
        "huge": ("\n".join(good[:1] + [json.dumps({"text": "word " * 400_000})] + good[1:]) + "\n").encode(),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / f"{name}.jsonl"
        paths[name].write_bytes(data)
    return paths


@pytest.mark.parametrize("name,code,where", [
    ("malformed", "[E204]", "line 4"), ("undecodable", "[E208]", "line 3"),
    ("missing_field", "[E206]", "line 5"), ("huge", "[E209]", "line 2"),
])
def test_bad_input_fails_with_file_and_line_or_is_skipped(cli_model: Path, tmp_path: Path, name: str, code: str, where: str) -> None:
    path = bad_corpora(tmp_path)[name]
    failed = run("encode", cli_model, path, tmp_path / "out.npz", code=1)
    assert code in failed.output and f"{path}, {where}" in failed.output
    assert not (tmp_path / "out.npz").exists() and not (tmp_path / "out.npz.partial").exists()
    skipped = run("encode", cli_model, path, tmp_path / "out.npz", "--on-error", "skip")
    assert "Skipped 1 bad records" in skipped.output and f"{path}, {where}" in skipped.output
    assert sp.load_npz(tmp_path / "out.npz").shape[0] == 6
    if name == "missing_field":
        assert "Available fields: 'body', 'title'" in failed.output


def test_missing_text_field_and_empty_corpus(cli_model: Path, tmp_path: Path) -> None:
    wrong = run("train", SAMPLE, tmp_path / "m", *SMALL, "--text-field", "body", code=1)
    assert "[E206]" in wrong.output and "line 1" in wrong.output and "'text'" in wrong.output
    assert not (tmp_path / "m").exists()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert "[E210]" in run("encode", cli_model, empty, tmp_path / "e.npz", code=1).output
    assert "[E210]" in run("train", empty, tmp_path / "e", *SMALL, code=1).output
    assert not (tmp_path / "e.npz.partial").exists() and not (tmp_path / "e.cache" / "corpus" / "shards").exists()


def test_train_skips_bad_lines_and_reports_them(tmp_path: Path) -> None:
    corpus = tmp_path / "mixed.jsonl"
    lines = lines_of(SAMPLE)
    corpus.write_text("\n".join(lines[:70] + ["not json"] + lines[70:]) + "\n", encoding="utf8")
    failed = run("train", corpus, tmp_path / "m", *SMALL, code=1)
    assert f"{corpus}, line 71" in failed.output
    result = run("train", corpus, tmp_path / "m", *SMALL, "--on-error", "skip", "--chunk-size", "50", "--resume")
    assert "Skipped 1 bad records" in result.output and "150 documents" in result.output


def test_encode_failure_midway_keeps_work_and_resumes(cli_model: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "mid.jsonl"
    lines = lines_of(SAMPLE)
    corpus.write_text("\n".join(lines[:100] + ["{broken"] + lines[100:]) + "\n", encoding="utf8")
    out = tmp_path / "mid.npz"
    failed = run("encode", cli_model, corpus, out, "--chunk-size", "30", code=1)
    assert "[E509]" in failed.output and "90 documents before it" in failed.output and f"{corpus}, line 101" in failed.output
    assert "[E503]" in run("encode", cli_model, corpus, out, "--chunk-size", "30", code=1).output
    assert "[E504]" in run("encode", cli_model, corpus, out, "--chunk-size", "20", "--resume", code=1).output
    resumed = run("encode", cli_model, corpus, out, "--chunk-size", "30", "--resume", "--on-error", "skip")
    assert "90 from the interrupted run" in resumed.output
    run("encode", cli_model, SAMPLE, tmp_path / "ref.npz", "--chunk-size", "30")
    assert abs(sp.load_npz(out) - sp.load_npz(tmp_path / "ref.npz")).max() == 0


# --- SIGKILL ------------------------------------------------------------------------------
def kill_when(args: List[str], ready, timeout: float = 60.0) -> None:
    """Start the command, SIGKILL it (and its workers) as soon as ``ready()``; it must still run."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, "the command finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert proc.poll() is None, "the command finished before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_train_sigkill_then_resume_gives_the_uninterrupted_result(cli_model: Path, tmp_path: Path) -> None:
    args = ["--n-latents", "32", "--k", "4", "--epochs", "12", "--batch-size", "16", "--checkpoint-every", "5", "--threads", "1"]
    out = tmp_path / "killed"
    latest = tmp_path / "killed.cache" / "checkpoints" / "latest.json"
    kill_when(cli("train", SAMPLE, out, *args), latest.exists)
    assert not out.exists()  # no pipeline under the final name until it is complete
    assert "[E503]" in run("train", SAMPLE, out, *args, code=1).output
    run("train", SAMPLE, out, *args, "--resume")
    run("train", SAMPLE, tmp_path / "straight", *args)
    assert same_weights(out, tmp_path / "straight")


def test_encode_sigkill_then_resume_completes(cli_model: Path, tmp_path: Path) -> None:
    corpus = repeat_sample(tmp_path / "big.jsonl", 30)
    out = tmp_path / "codes.parquet"
    progress = tmp_path / "codes.parquet.partial" / "progress.jsonl"
    kill_when(cli("encode", cli_model, corpus, out, "--chunk-size", "50", "--threads", "1"),
              lambda: progress.exists() and len(progress.read_bytes().splitlines()) >= 3)
    assert not out.exists()
    assert "from the interrupted run" in run("encode", cli_model, corpus, out, "--chunk-size", "50", "--resume", "--threads", "1").output
    run("encode", cli_model, corpus, tmp_path / "ref.parquet", "--chunk-size", "50", "--threads", "1")
    assert pq.read_table(out).equals(pq.read_table(tmp_path / "ref.parquet"))
    assert not (tmp_path / "codes.parquet.partial").exists()


# --- topics / evaluate -----------------------------------------------------------------
def test_topics_and_evaluate(cli_model: Path, tmp_path: Path) -> None:
    table = run("topics", cli_model, "--top-n", "5")
    assert "top words" in table.output
    topics = json.loads(run("topics", cli_model, "--json").stdout)["topics"]
    assert len(topics) == 32 and all(len(words) == 10 for words in topics.values())
    shown = run("evaluate", cli_model, SAMPLE).output
    assert "probe_accuracy" in shown and "unsupported_share" in shown and "least coherent top words" in shown
    metrics = json.loads(run("evaluate", cli_model, SAMPLE, "--json", "--output", tmp_path / "m.json").stdout)
    assert metrics == json.loads((tmp_path / "m.json").read_text())
    assert metrics["n_docs"] == 150 and metrics["mean_l0"] <= 4
    for key in ("npmi_heldout", "td", "unsupported_share", "dead_share", "reconstruction_fit", "probe_accuracy",
                "cluster_nmi"):
        assert isinstance(metrics[key], float), key
    assert len(metrics["latents"]) == 32 and {"top_words", "docs_served", "top_df_median"} <= set(metrics["latents"][0])
    unlabelled = tmp_path / "plain.txt"
    unlabelled.write_text("\n".join(r.text for r in read_corpus(SAMPLE)), encoding="utf8")
    plain = json.loads(run("evaluate", cli_model, unlabelled, "--json", "--probe-seed", "3").stdout)
    assert plain["probe_accuracy"] is None and plain["cluster_nmi"] is None and plain["n_docs"] == 150
    assert "No such option: --seed" in run("evaluate", cli_model, SAMPLE, "--seed", "1", code=2).output  # --probe-seed


def test_evaluate_probe_seed_is_the_split_seed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import spacy_sparsecode.cli.app as app_module

    seen = {}

    def evaluate_corpus(model: Path, corpus: str, reading: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise ValueError("stopped here")

    monkeypatch.setattr(app_module, "evaluate_corpus", evaluate_corpus)
    run("evaluate", tmp_path, SAMPLE, "--probe-seed", "7", code=1)
    assert seen["seed"] == 7
