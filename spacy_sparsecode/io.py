"""Atomic file writes and the on-disk model format (safetensors weights + JSON config).

No pickle anywhere: weights are safetensors, everything else is JSON. Every file is written
to a temporary name in the same folder and renamed into place when complete, so an
interrupted write never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, Union

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load_bytes
from safetensors.torch import save as st_save_bytes

from .errors import Errors

PathLike = Union[str, os.PathLike]

_UMASK = os.umask(0)
os.umask(_UMASK)

#: Version of the model folder layout written by this package. Bump on breaking changes.
#: 2: sparse autoencoder configs carry ``pre_encoder_bias`` (version 1 ones always used it).
#: 3: VAE configs carry ``prior_components`` (versions 1-2 have no ex-post prior buffers).
#: 4: SAE configs carry ``encoder_input`` instead of ``pre_encoder_bias`` / ``nonneg_encoder``;
#:    the VAEs' topic-word tensor is ``topic_word`` (was ``beta``).
#: 5: SAE and dictionary configs carry ``fill_empty``, threshold SAE configs ``calibrate_to_k``
#:    (with its ``log_threshold_scale`` buffer); the SAEs' ``encoder_input`` and the dictionary's
#:    ``coding`` have new defaults (older configs that leave them out keep the old ones).
FORMAT_VERSION = 5
#: Versions this package still reads (older ones are upgraded on load: ``models.upgrade_saved``).
READABLE_FORMAT_VERSIONS = (1, 2, 3, 4, 5)


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual file mode
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def check_output_file(path: PathLike, overwrite: bool) -> None:
    """Refuse (E501) to replace an existing ``path`` unless ``overwrite``."""
    path = Path(path)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(Errors.E501.format(path=path))


def write_bytes_atomic(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (fsync'd before the rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_json_atomic(path: PathLike, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON, atomically."""
    write_bytes_atomic(path, json.dumps(obj, indent=2, sort_keys=True).encode("utf8"))


def read_json(path: PathLike) -> Any:
    """Read a JSON file, with errors that name the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(Errors.E020.format(path=path))
    try:
        return json.loads(path.read_text(encoding="utf8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(Errors.E021.format(path=path, reason=err)) from err


def check_format_version(meta: Dict[str, Any], path: PathLike) -> None:
    """Fail clearly when a file was written by a newer/unknown format."""
    found = meta.get("format_version")
    if found not in READABLE_FORMAT_VERSIONS:
        raise ValueError(Errors.E022.format(path=path, found=found, supported=" or ".join(map(str, READABLE_FORMAT_VERSIONS))))


def save_tensor_bytes(tensors: Dict[str, torch.Tensor]) -> bytes:
    """Tensors as safetensors bytes (on the CPU, contiguous), stamped with the format version."""
    data = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    return st_save_bytes(data, metadata={"format_version": str(FORMAT_VERSION)})


def load_tensor_bytes(data: bytes, where: PathLike) -> Dict[str, torch.Tensor]:
    """Tensors from safetensors bytes; truncated or corrupt bytes raise an error naming ``where``."""
    try:
        return st_load_bytes(data)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise ValueError(Errors.E021.format(path=where, reason=err)) from err


def save_tensors(path: PathLike, tensors: Dict[str, torch.Tensor]) -> None:
    """Write tensors as safetensors, atomically."""
    write_bytes_atomic(path, save_tensor_bytes(tensors))


def load_tensors(path: PathLike) -> Dict[str, torch.Tensor]:
    """Read a safetensors file; a missing or truncated file raises an error naming it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(Errors.E020.format(path=path))
    return load_tensor_bytes(path.read_bytes(), path)
