"""Fixtures of the CLI tests: a small pipeline trained by ``sparsecode train``, torch's thread count kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from clitools import SAMPLE, SMALL, run


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """``--threads`` sets torch's global thread count: give other tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def cli_model(tmp_path_factory) -> Path:
    """A pipeline trained on corpora/sample.jsonl by ``sparsecode train`` (its meta.json keeps the history)."""
    out = tmp_path_factory.mktemp("train") / "model"
    threads = torch.get_num_threads()
    result = run("train", SAMPLE, out, *SMALL)
    torch.set_num_threads(threads)
    assert "150 documents" in result.output
    return out
