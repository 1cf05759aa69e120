"""Pipelines on disk and in worker processes: the one way to find the ``sparsecode`` component.

Building a pipeline for ``sparsecode train`` (``spacy.blank`` or a ``spacy train`` config, with a
chosen model family), writing it atomically, refusing to overwrite what we did not write,
loading a trained one (``load_pipeline``), and encoding chunks of texts with it in each worker
process of ``chunks.map_chunks`` (``setup_encoder`` / ``encode_chunk``), which ``encode`` and
``evaluate`` share.
"""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import scipy.sparse as sp
import spacy
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.util import load_config, load_model_from_config, registry
from thinc.api import Config

from ..errors import Errors
from ..io import read_json
from ..models.trainer import resolve_device
from ..pipeline.architectures import ARCHITECTURES
from ..pipeline.component import DEFAULT_MODEL, SparseCoder
from .chunks import chunk_memory_zone

#: Key of ``meta.json`` that marks a pipeline folder written by ``sparsecode train``.
META_KEY = "sparsecode_train"
#: Key of ``doc.user_data`` holding the record id of an encoded Doc (``.spacy`` output).
ID_KEY = "sparsecode.id"
#: Model family name → its registered architecture (the current version of each).
FAMILY_ARCHITECTURES = {family: name for name, family in ARCHITECTURES.items()}


# --- trained pipelines ------------------------------------------------------------------
def find_sparsecode(nlp: Language, where: Any = "the pipeline") -> SparseCoder:
    """The pipeline's first ``sparsecode`` component (E701 naming ``where`` when it has none)."""
    component = next((proc for _, proc in nlp.pipeline if isinstance(proc, SparseCoder)), None)
    if component is None:
        raise ValueError(Errors.E701.format(path=where, names=", ".join(nlp.pipe_names) or "none"))
    return component


def sparsecode_components(config: Config) -> List[str]:
    """The names of a pipeline config's components made by the ``sparsecode`` factory."""
    return [name for name, block in config.get("components", {}).items() if block.get("factory") == "sparsecode"]


def check_model_dir(path: Path) -> None:
    """Fail early (E507) unless ``path`` holds a pipeline config with a sparsecode component."""
    config_path = Path(path) / "config.cfg"
    if not config_path.exists():
        raise ValueError(Errors.E507.format(path=path, reason="no config.cfg"))
    names = sparsecode_components(load_config(config_path, interpolate=False))
    if not names:
        raise ValueError(Errors.E507.format(path=path, reason="no component with factory 'sparsecode'"))
    if not (Path(path) / names[0] / "cfg.json").exists():
        raise ValueError(Errors.E507.format(path=path, reason=f"{names[0]}/cfg.json is missing"))


def load_pipeline(path: Path) -> Tuple[Language, SparseCoder]:
    """``spacy.load(path)`` and its sparsecode component (E507 if it has none)."""
    check_model_dir(path)
    nlp = spacy.load(path)
    return nlp, find_sparsecode(nlp, path)


# --- building and writing a pipeline ---------------------------------------------------
def _check_options(architecture: str, options: Dict[str, Any], family: str) -> None:
    params = inspect.signature(registry.architectures.get(architecture)).parameters
    for option in options:
        if option not in params:
            raise ValueError(Errors.E506.format(family=family, architecture=architecture, option=option,
                                                valid=", ".join(params)))


def model_block(base: Dict[str, Any], family: Optional[str], options: Dict[str, Any]) -> Dict[str, Any]:
    """The component's ``model`` block: ``base`` with ``options`` set, or ``family``'s architecture."""
    if family is not None:
        if family not in FAMILY_ARCHITECTURES:
            raise ValueError(Errors.E505.format(value=family, valid=", ".join(sorted(FAMILY_ARCHITECTURES))))
        _check_options(FAMILY_ARCHITECTURES[family], options, family)
        return {"@architectures": FAMILY_ARCHITECTURES[family], **options}
    architecture = base["@architectures"]
    _check_options(architecture, options, architecture)
    return {**base, **options}


def build_pipeline(config_path: Optional[Path], lang: str, family: Optional[str],
                   options: Dict[str, Any]) -> Tuple[Language, str]:
    """A pipeline with an uninitialised ``sparsecode`` component, and the component's name.

    config_path: a ``spacy train`` config (its [nlp] and [components] are used), or None
    for ``spacy.blank(lang)`` + ``sparsecode``. ``family``/``options`` set the model block.
    """
    if config_path is None:
        config = {"nlp": {"lang": lang, "pipeline": ["sparsecode"]},
                  "components": {"sparsecode": {"factory": "sparsecode", "model": dict(DEFAULT_MODEL)}}}
        name = "sparsecode"
    else:
        config = load_config(config_path)
        names = sparsecode_components(config)
        if not names:
            raise ValueError(Errors.E508.format(path=config_path))
        name = names[0]
    block = config["components"][name]
    block["model"] = model_block(dict(block.get("model", DEFAULT_MODEL)), family, options)
    nlp = load_model_from_config(Config(config), auto_fill=True, validate=True)
    others = [n for n in nlp.pipe_names if n != name]
    if others:  # e.g. a lookup lemmatizer: load its tables; the sparsecode model stays untouched
        with nlp.select_pipes(enable=others):
            nlp.initialize()
    return nlp, name


def _owned_pipeline(path: Path) -> bool:
    meta = path / "meta.json"
    try:
        return meta.exists() and META_KEY in read_json(meta)
    except ValueError:
        return False


def check_output_dir(path: Path, overwrite: bool) -> None:
    """Refuse an existing ``path`` that is not an empty folder or a pipeline we wrote (E500)."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir() and (not any(path.iterdir()) or _owned_pipeline(path)):
        return
    if not overwrite:
        what = "a file" if not path.is_dir() else "a folder without a `sparsecode train` meta.json"
        raise FileExistsError(Errors.E500.format(path=path, what=what))


def write_pipeline(nlp: Language, output_dir: Path) -> None:
    """Write ``nlp`` to a staging folder next to ``output_dir``, then swap it into place.

    A kill at any point leaves either the old folder, or none, under ``output_dir`` (and the
    complete new one in ``.<name>.new``): never a half-written pipeline.
    """
    staging = output_dir.with_name(f".{output_dir.name}.new")
    old = output_dir.with_name(f".{output_dir.name}.old")
    for leftover in (staging, old):
        shutil.rmtree(leftover, ignore_errors=True)
    nlp.to_disk(staging)
    if output_dir.is_dir():
        output_dir.rename(old)
    elif output_dir.exists() or output_dir.is_symlink():
        output_dir.unlink()
    staging.rename(output_dir)
    shutil.rmtree(old, ignore_errors=True)


# --- a pipeline in each worker process ----------------------------------------------------
_WORKER: Dict[str, Any] = {}


def setup_encoder(model: str, *, gpu_id: int = -1, docbin: bool = False, bags: bool = False) -> None:
    """Load the pipeline once per process (``map_chunks`` setup)."""
    nlp, component = load_pipeline(Path(model))
    component.torch_model.to(resolve_device(gpu_id))
    _WORKER.update(nlp=nlp, name=component.name, component=component, docbin=docbin, bags=bags, seen_docs=0)


def _csr_parts(matrix: sp.csr_matrix) -> Dict[str, np.ndarray]:
    return {"indptr": matrix.indptr.astype(np.int64), "indices": matrix.indices.astype(np.int32),
            "data": matrix.data.astype(np.float32)}


def encode_chunk(payload: Tuple[List[str], List[str]]) -> Dict[str, Any]:
    """Codes of one chunk ``(ids, texts)``: CSR arrays, ``dim``, and if asked DocBin bytes / bags."""
    ids, texts = payload  # ids only when a DocBin is asked for
    nlp, component = _WORKER["nlp"], _WORKER["component"]
    with chunk_memory_zone(nlp, _WORKER, len(texts)):
        docs = list(nlp.pipe(texts, disable=[_WORKER["name"]], batch_size=max(len(texts), 1)))
        bags = component.featurize(docs)
        codes = component.torch_model.encode(bags)
        result: Dict[str, Any] = {"codes": _csr_parts(codes.matrix), "dim": codes.dim}
        if _WORKER["bags"]:
            result["bags"] = _csr_parts(bags)
        if _WORKER["docbin"]:
            component.set_annotations(docs, codes)
            for doc, doc_id in zip(docs, ids):
                doc.user_data[ID_KEY] = doc_id
            result["docbin"] = DocBin(store_user_data=True, docs=docs).to_bytes()
    return result


def stack_parts(parts: List[Dict[str, np.ndarray]], n_cols: int) -> sp.csr_matrix:
    """Stack chunk CSR arrays (as ``encode_chunk`` returns them) into one matrix."""
    blocks = [sp.csr_matrix((p["data"], p["indices"], p["indptr"]), shape=(len(p["indptr"]) - 1, n_cols)) for p in parts]
    return sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, n_cols), dtype=np.float32)
