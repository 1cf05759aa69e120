"""The summarization sets (benchmarks/harness/summaries.py) and a tiny run of benchmarks/summarize.py."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from benchmarks import summarize
from benchmarks.harness import summaries


def write_set(path, records):
    with gzip.open(path, "wt", encoding="utf8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return path


def test_loader_keeps_texts_references_and_language(tmp_path):
    path = write_set(tmp_path / "toy_fr.jsonl.gz", [
        {"id": "a", "text": "le texte . deux", "summary": "le résumé .", "split": "test", "lang": "fr"},
        {"id": "b", "text": "   ", "summary": "vide", "split": "test", "lang": "fr"},  # blank text: dropped
        {"id": "c", "text": "un autre texte", "summary": "un autre résumé", "split": "test", "lang": "fr"},
    ])
    loaded = summaries.load_summary_file(path)
    assert (loaded.name, loaded.lang, loaded.ids) == ("toy_fr", "fr", ["a", "c"])
    assert loaded.references == ["le résumé .", "un autre résumé"] and len(loaded) == 2
    assert loaded.head(1).ids == ["a"] and loaded.head(0).ids == ["a", "c"]


@pytest.mark.parametrize("records, message", [
    ([{"id": "a", "text": "x", "summary": " "}], "no summary"),
    ([{"id": "a", "text": "x", "summary": "y"}, {"id": "b", "text": "x", "summary": "y", "lang": "fr"}], "more than one language"),
])
def test_loader_refuses_bad_files(tmp_path, records, message):
    with pytest.raises(ValueError, match=message):
        summaries.load_summary_file(write_set(tmp_path / "bad.jsonl.gz", records))


def test_bbc_references_get_their_spaces_back_and_absent_files_give_none(tmp_path):
    (tmp_path / "bbc_news_summary.jsonl").write_text(
        json.dumps({"id": "b1", "text": "One. Two.", "summary": "One.Two.\"Three,\" he said."}) + "\n", encoding="utf8")
    bbc = summaries.load_summary_set(summaries.BBC, tmp_path)
    assert (bbc.lang, bbc.references) == ("en", ["One. Two. \"Three,\" he said."])
    assert summaries.load_summary_set(summaries.BBC, tmp_path / "nowhere") is None
    assert summaries.load_summary_set("missing_set", tmp_path, folder=tmp_path) is None


def test_the_committed_sets_load():
    assert {"plos_papers_en", "public_meetings_fr"} <= set(summaries.summary_set_names())
    plos = summaries.load_summary_set("plos_papers_en", summaries.REPO)
    meetings = summaries.load_summary_set("public_meetings_fr", summaries.REPO)
    assert (len(plos), plos.lang) == (100, "en") and (len(meetings), meetings.lang) == (1069, "fr")


def test_french_rouge_keeps_accented_words_whole():
    assert summaries.UnicodeWords().tokenize("L' Année, déjà_vu 2019") == ["l", "année", "déjà", "vu", "2019"]
    scorer = summaries.rouge_scorer("fr")
    assert scorer.score("une année réussie", "une année ratée")["rouge1"].fmeasure == pytest.approx(2 / 3)
    # rouge-score's own tokenizer would cut "année" into "ann" + "e" and match "ann" in "anné"
    assert scorer.score("année", "anné")["rouge1"].fmeasure == 0.0
    assert summaries.rouge_scorer("en").score("the cats ran", "a cat runs")["rouge1"].fmeasure > 0  # stemmed


def test_sumy_languages():
    language, pattern, extra = summaries.sumy_language("fr")
    assert language == "french" and "l" in extra and summarize.re.findall(pattern, "l' été") == ["l", "été"]
    assert summaries.sumy_language("en")[0] == "english"
    with pytest.raises(ValueError, match="xx"):
        summaries.sumy_language("xx")


def test_meeting_segments_resample_together():
    ids = ["public_meetings/m1/1", "public_meetings/m1/2", "public_meetings/m2/7", "plos/10.1/x"]
    assert summaries.document_groups(ids) == ["public_meetings/m1", "public_meetings/m1", "public_meetings/m2", "plos/10.1/x"]
    same = summaries.paired_bootstrap([0.1, 0.1, 0.1], ["a", "b", "c"], n_boot=50)
    assert same["mean"] == pytest.approx(0.1) and same["low"] == pytest.approx(0.1) and same["high"] == pytest.approx(0.1)
    one_group = summaries.paired_bootstrap([0.0, 1.0], ["g", "g"], n_boot=50)
    assert one_group["groups"] == 1 and one_group["low"] == one_group["high"] == pytest.approx(0.5)
    spread = summaries.paired_bootstrap(np.linspace(-1, 1, 40), [str(i) for i in range(40)], n_boot=500, seed=1)
    assert spread["low"] < 0 < spread["high"]
    with pytest.raises(ValueError):
        summaries.paired_bootstrap([0.1], ["a", "b"])


def test_a_tiny_run_scores_every_system_at_both_lengths(tmp_path):
    summarize.main(["--sets", "public_meetings_fr", "missing_set", "--limit", "6", "--epochs", "1", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "summarize.json").read_text(encoding="utf8"))
    assert set(result["sets"]) == {"public_meetings_fr"} and "missing_set" in result["skipped"]
    meetings = result["sets"]["public_meetings_fr"]
    assert meetings["lead_priors"] == []  # the prior is scored on [summarize] lead_prior_sets only
    for length in ("reference", "fixed"):
        block = meetings["lengths"][length]
        assert block["n_docs"] == 6 and {summarize.OURS, summarize.ABLATION, summarize.LEAD, "random-N"} <= set(block["scores"])
        assert "ours - without codes" in block["rouge2_differences"]
    assert meetings["lengths"]["fixed"]["mean_sentences_selected"] <= 3
    assert "## public_meetings_fr (fr, 6 documents)" in (tmp_path / "summarize.md").read_text(encoding="utf8")
