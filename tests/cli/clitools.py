"""Running ``sparsecode`` commands in tests: in-process through typer's CliRunner, or as a subprocess."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

from typer.testing import CliRunner

from spacy_sparsecode.cli.app import app

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample.jsonl"
#: A small, fast model: --n-latents 32 --k 4, 2 epochs, one torch thread.
SMALL = ["--n-latents", "32", "--k", "4", "--epochs", "2", "--threads", "1"]
runner = CliRunner()


def run(*args: object, code: int = 0):
    """Invoke ``sparsecode ARGS`` in-process and check its exit code."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result


def fails_with(error: str, *args: object) -> str:
    """Invoke ``sparsecode ARGS``: it must exit 1 with one line on stderr, starting with ``error`` (e.g. "[E202]")."""
    result = run(*args, code=1)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(error), result.stderr
    return lines[0]


def cli(*args: object) -> List[str]:
    """The command line of ``python -m spacy_sparsecode ARGS``."""
    return [sys.executable, "-m", "spacy_sparsecode", *map(str, args)]
