"""`python -m spacy train` on the shipped config, then `spacy.load` and `spacy package`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import spacy

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spacy", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_spacy_train_config_runs_and_loads(tmp_path, sample_texts):
    out = tmp_path / "training"
    result = _run("train", "configs/sae_topk.cfg", "--output", str(out), "--training.max_steps", "12",
                  "--training.eval_frequency", "6", "--components.sparsecode.model.n_latents", "32",
                  "--components.sparsecode.model.k", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    nlp = spacy.load(out / "model-best")
    doc = nlp(sample_texts[0])
    assert 0 < doc._.sparse_code.nnz <= 4

    (tmp_path / "pkg").mkdir()
    package = _run("package", str(out / "model-best"), str(tmp_path / "pkg"), "--name", "sparsecode_test",
                   "--version", "0.0.1", "--build", "none", "--force")
    assert package.returncode == 0, package.stdout + package.stderr
    assert list((tmp_path / "pkg").glob("en_sparsecode_test-0.0.1/en_sparsecode_test/*/sparsecode/model.safetensors"))
