"""jobs/evaluate.py: corpus figures and the per-latent diagnostics."""

from __future__ import annotations

from pathlib import Path

from spacy_sparsecode.jobs.evaluate import evaluate_corpus

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample.jsonl"


def test_evaluate_reports_every_latent(saved_pipeline):
    result = evaluate_corpus(saved_pipeline, str(SAMPLE))
    latents = result["latents"]
    assert [row["latent"] for row in latents] == list(range(result["n_latents"]))
    for row in latents:
        assert len(row["top_words"]) == 10 and -1.0 <= row["npmi_heldout"] <= 1.0
        assert 0 <= row["docs_served"] <= result["n_docs"] and row["top_df_median"] >= 1
        assert row["supported"] or row["npmi_heldout"] == -1.0
    unsupported = sum(not row["supported"] for row in latents) / len(latents)
    assert result["unsupported_share"] == unsupported
    assert abs(sum(row["npmi_heldout"] for row in latents) / len(latents) - result["npmi_heldout"]) < 1e-9
