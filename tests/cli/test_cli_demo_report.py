"""``demo`` on a small corpus, ``report`` for real, ``--version`` and ``python -m spacy_sparsecode``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import spacy
from clitools import SAMPLE, cli, run

import spacy_sparsecode

pytest.importorskip("matplotlib")

PLOTS = ("training.png", "topics.png", "doc_map.png", "l0_hist.png")


def test_demo_trains_shows_and_saves_a_pipeline(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run("demo", SAMPLE, out, "--limit", "60", "--n-latents", "16", "--k", "3", "--epochs", "2")
    assert "Tokenised 60 documents" in result.output and "Most used latents" in result.output
    assert "Codes of a few documents" in result.output and "Saved the pipeline" in result.output
    assert spacy.load(out)("Shares rose after strong sales.")._.sparse_code.dim == 16
    run("demo", SAMPLE, out, "--limit", "30", "--n-latents", "8", "--k", "2", "--epochs", "1")
    assert spacy.load(out).get_pipe("sparsecode").torch_model.config.n_latents == 8  # its own folder: replaced


def test_demo_alone_reads_bbc_into_sparsecode_bbc(monkeypatch: pytest.MonkeyPatch) -> None:
    """`sparsecode demo` (the README's set-up command): CORPUS and OUTPUT_DIR are optional positionals."""
    import spacy_sparsecode.cli.train as train_module
    from spacy_sparsecode.jobs.chunks import CorpusOptions

    seen = {}

    def read(reading: CorpusOptions, corpus: str) -> None:
        seen["corpus"] = corpus
        raise ValueError("stopped before reading")

    monkeypatch.setattr(train_module, "check_output_dir", lambda path, overwrite: seen.update(output_dir=path))
    monkeypatch.setattr(CorpusOptions, "read", read)
    assert run("demo", code=1).stderr.strip() == "stopped before reading"
    assert seen == {"corpus": "bbc", "output_dir": Path("sparsecode-bbc")}
    assert "[corpus] [output_dir]" in run("demo", "--help").output.lower()


def test_report_writes_the_plots_and_the_page(cli_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run("report", cli_model, SAMPLE, out, "--max-docs", "80")
    assert "4 PNG plots" in result.output
    for name in PLOTS:  # training.png: from the history `sparsecode train` keeps in meta.json
        assert (out / name).stat().st_size > 1000, name
    page = (out / "report.html").read_text(encoding="utf8")
    assert page.count('src="data:image/png;base64,') == len(PLOTS) and "Pass --peers" in page
    run("report", cli_model, SAMPLE, out, "--limit", "40", "--overwrite")
    assert "the 40 sampled documents" in (out / "report.html").read_text(encoding="utf8")


def test_version() -> None:
    assert run("--version").stdout.strip() == f"spacy-sparsecode {spacy_sparsecode.__version__}"


def test_python_m_runs_the_app() -> None:
    result = subprocess.run(cli("--help"), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Usage: sparsecode" in result.stdout
    assert all(command in result.stdout for command in ("train", "encode", "compress", "decompress", "report", "demo"))
