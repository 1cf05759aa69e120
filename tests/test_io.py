"""io.py: atomic writes, JSON and safetensors files, format versions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from spacy_sparsecode.io import (FORMAT_VERSION, atomic_path, check_format_version, load_tensors, read_json,
                                 save_tensors, write_bytes_atomic, write_json_atomic)


def test_atomic_path_renames_only_on_success(tmp_path: Path):
    target = tmp_path / "sub" / "out.bin"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"complete")
        assert not target.exists() and tmp.parent == target.parent
    assert target.read_bytes() == b"complete"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"complete"  # the old file is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.bin"]  # no temporary file left


def test_written_files_get_the_usual_mode(tmp_path: Path):
    write_bytes_atomic(tmp_path / "a.bin", b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o666 & ~umask


def test_json_round_trip_and_clear_errors(tmp_path: Path):
    write_json_atomic(tmp_path / "a.json", {"b": [1, 2], "a": "ü"})
    assert read_json(tmp_path / "a.json") == {"a": "ü", "b": [1, 2]}
    with pytest.raises(FileNotFoundError, match="E020"):
        read_json(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"E021.*bad\.json"):
        read_json(tmp_path / "bad.json")


def test_tensors_round_trip_and_truncation(tmp_path: Path):
    tensors = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "n": torch.tensor([3], dtype=torch.long)}
    save_tensors(tmp_path / "m.safetensors", tensors)
    loaded = load_tensors(tmp_path / "m.safetensors")
    assert all(torch.equal(loaded[k], v) for k, v in tensors.items())
    data = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="E021"):
        load_tensors(tmp_path / "cut.safetensors")


def test_newer_format_is_refused():
    check_format_version({"format_version": FORMAT_VERSION}, "cfg.json")
    with pytest.raises(ValueError, match="E022.*upgrade spacy-sparsecode"):
        check_format_version({"format_version": FORMAT_VERSION + 1}, "cfg.json")
    assert json.dumps(FORMAT_VERSION)
