"""The visual report: PNGs + a self-contained HTML page for a tiny trained pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spacy_sparsecode import fit_component
from spacy_sparsecode.models.trainer import TrainConfig

pytest.importorskip("matplotlib")

from spacy_sparsecode.jobs.report import build_report  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample.jsonl"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, sample_texts, make_pipeline):
    import spacy

    path = tmp_path_factory.mktemp("report") / "nlp"
    nlp = spacy.blank("en")
    component = nlp.add_pipe("sparsecode", config={"model": {"n_latents": 16, "k": 3, "seed": 0}})
    history = fit_component(component, [nlp.make_doc(t) for t in sample_texts], TrainConfig(epochs=4, batch_size=32), progress=False)
    nlp.to_disk(path)
    (path / "history.json").write_text(json.dumps(history), encoding="utf8")
    return path


def test_report_writes_pngs_and_self_contained_html(tiny_model, tmp_path):
    peers = tmp_path / "peers.json"
    peers.write_text(json.dumps({"meta": {}, "summary": [
        {"corpus": "bbc", "system": "ours-topk", "K": 50, "train_s": 3.0, "npmi_heldout": 0.2},
        {"corpus": "bbc", "system": "sklearn-nmf", "K": 50, "train_s": 5.0, "npmi_heldout": 0.19}]}))
    out = tmp_path / "report"
    page = build_report(tiny_model, out, corpus=str(SAMPLE), max_docs=100, peers_json=peers)
    for name in ("training.png", "topics.png", "doc_map.png", "l0_hist.png", "peers.png"):
        assert (out / name).stat().st_size > 1000, name
    text = page.read_text(encoding="utf8")
    assert text.count('src="data:image/png;base64,') == 5
    assert "file://" not in text and "<script" not in text
    assert "Latents: documents served, coherence, word rarity" in text and "median df of top words" in text
    assert text.count("<tr><td>") >= 10  # a row per latent
    with pytest.raises(FileExistsError, match="E501"):
        build_report(tiny_model, out, corpus=str(SAMPLE), max_docs=100)


def test_report_without_history_or_peers_says_so(tiny_model, tmp_path):
    import shutil

    model = tmp_path / "nlp"
    shutil.copytree(tiny_model, model)
    (model / "history.json").unlink()
    with pytest.raises(FileNotFoundError, match="E703"):
        build_report(model, tmp_path / "out", corpus=str(SAMPLE), max_docs=50, peers_json=tmp_path / "missing.json")
    page = build_report(model, tmp_path / "out", corpus=str(SAMPLE), max_docs=50)
    text = page.read_text(encoding="utf8")
    assert "No history.json" in text and "Pass --peers" in text
    assert not (tmp_path / "out" / "training.png").exists()


def test_peer_labels_of_nearby_points_go_to_separate_lines():
    from spacy_sparsecode.jobs.report import _label_lifts

    # two systems at about the same time and NPMI, a third far away in time, a fourth far below
    lifts = _label_lifts([2.0, 2.2, 300.0, 2.0], [0.25, 0.25, 0.25, -0.2])
    assert lifts[0] != lifts[1]
    assert lifts[2] == 0 and lifts[3] == 0
    assert _label_lifts([], []) == []
