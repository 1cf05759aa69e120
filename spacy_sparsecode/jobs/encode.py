"""``sparsecode encode``: stream a corpus through a trained pipeline into codes on disk.

Chunks of ``chunk_size`` records go to worker processes (``chunks.map_chunks``); each
runs the pipeline's tokenizer and other components, then the ``sparsecode`` model, and
sends back the chunk's codes. This process writes each chunk as a part file and logs it
(``ChunkLog``), so ``resume`` skips finished chunks. At the end the parts are combined,
streaming, into the output under a temporary name, which is then renamed. The output
suffix picks the format:

- ``.npz``: scipy CSR (``scipy.sparse.load_npz``) plus an ``ids`` array (one per row);
- ``.parquet``: columns ``id``, ``indices`` (list<int32>), ``values`` (list<float32>);
- ``.spacy``: a ``DocBin`` whose Docs carry ``Doc._.sparse_code`` (and the record id in
  ``doc.user_data["sparsecode.id"]``). A DocBin is one object: its memory grows with the corpus.
"""

from __future__ import annotations

import hashlib
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..errors import Errors
from ..io import atomic_path, check_output_file, write_bytes_atomic
from .chunks import ChunkLog, CorpusOptions, chunked, map_chunks
from .pipelines import check_model_dir, encode_chunk, setup_encoder

#: Output suffix → format name.
FORMATS = {".npz": "npz", ".parquet": "parquet", ".spacy": "docbin"}


def _folder_signature(path: Path) -> str:
    """A hex sha256 of the model folder's files (relative path, size, mtime)."""
    h = hashlib.sha256()
    for file in sorted(p for p in Path(path).rglob("*") if p.is_file()):
        stat = file.stat()
        h.update(f"{file.relative_to(path).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


# --- output writers ---------------------------------------------------------------------
def _part(directory: Path, index: int, suffix: str = ".npz") -> Path:
    return directory / f"part-{index:08d}{suffix}"


def _npy_header(dtype: np.dtype, shape: Tuple[int, ...]) -> bytes:
    buffer = BytesIO()
    np.lib.format.write_array_header_2_0(buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                  "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def write_npz(path: Path, parts: List[Path], entries: List[Dict[str, Any]], dim: int) -> None:
    """Concatenate part files into one scipy CSR ``.npz`` (+ ``ids``), streaming each array."""
    n_rows = sum(e["n_docs"] for e in entries)
    nnz = sum(e["nnz"] for e in entries)
    width = max([e["id_width"] for e in entries] + [1])
    index_dtype = np.int32 if max(nnz, dim) < np.iinfo(np.int32).max else np.int64
    arrays = {"indices": (index_dtype, (nnz,)), "data": (np.float32, (nnz,)),
              "indptr": (index_dtype, (n_rows + 1,)), "ids": (f"<U{width}", (n_rows,))}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, (dtype, shape) in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as f:
                f.write(_npy_header(dtype, shape))
                offset = 0
                if key == "indptr":
                    f.write(np.zeros(1, dtype=dtype).tobytes())
                for part in parts:
                    with np.load(part) as arrays_in:
                        if key == "indptr":
                            f.write((arrays_in["indptr"][1:] + offset).astype(dtype).tobytes())
                            offset += int(arrays_in["indptr"][-1])
                        else:
                            f.write(arrays_in[key].astype(dtype).tobytes())
        for key, value in {"format": np.array(b"csr"), "shape": np.array([n_rows, dim], dtype=np.int64)}.items():
            with archive.open(f"{key}.npy", "w") as f:
                np.lib.format.write_array(f, value, allow_pickle=False)


def write_parquet(path: Path, parts: List[Path], entries: List[Dict[str, Any]], dim: int) -> None:
    """Concatenate part files into one Parquet file, one row group per part."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("id", pa.string()), ("indices", pa.list_(pa.int32())), ("values", pa.list_(pa.float32()))],
                       metadata={"sparsecode.n_latents": str(dim)})
    with pq.ParquetWriter(path, schema) as writer:
        for part in parts:
            with np.load(part) as p:
                offsets = pa.array(p["indptr"].astype(np.int32))
                table = pa.Table.from_arrays([
                    pa.array(p["ids"].tolist(), type=pa.string()),
                    pa.ListArray.from_arrays(offsets, pa.array(p["indices"], type=pa.int32())),
                    pa.ListArray.from_arrays(offsets, pa.array(p["data"], type=pa.float32())),
                ], schema=schema)
            writer.write_table(table)


def write_docbin(path: Path, parts: List[Path], entries: List[Dict[str, Any]], dim: int) -> None:
    """Merge the parts' DocBins into one ``.spacy`` file."""
    from spacy.tokens import DocBin

    merged = DocBin(store_user_data=True)
    for part in parts:
        merged.merge(DocBin(store_user_data=True).from_bytes(part.with_suffix(".spacy").read_bytes()))
    with open(path, "wb") as f:
        f.write(merged.to_bytes())


WRITERS: Dict[str, Callable[[Path, List[Path], List[Dict[str, Any]], int], None]] = {
    "npz": write_npz, "parquet": write_parquet, "docbin": write_docbin}


def output_format(path: Path) -> str:
    """The format of an output path, by suffix (E502 for an unknown suffix)."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(Errors.E502.format(suffix=Path(path).suffix, path=path, valid=", ".join(FORMATS)))
    return fmt


# --- the job ------------------------------------------------------------------------------
@dataclass
class EncodeJob:
    """Everything ``sparsecode encode`` was asked to do."""

    model: Path
    corpus: Any
    output: Path
    reading: CorpusOptions = field(default_factory=CorpusOptions)
    gpu_id: int = -1
    resume: bool = False
    overwrite: bool = False

    @property
    def parts_dir(self) -> Path:
        return self.output.with_name(f"{self.output.name}.partial")


def encode_corpus(job: EncodeJob, on_chunk: Optional[Callable[[int], None]] = None) -> Dict[str, Any]:
    """Run an ``EncodeJob``; return a summary (docs, skipped, seconds, docs/s, output)."""
    start = time.perf_counter()
    fmt = output_format(job.output)
    check_output_file(job.output, job.overwrite)
    check_model_dir(job.model)
    if job.overwrite:
        shutil.rmtree(job.parts_dir, ignore_errors=True)
    for stale in job.output.parent.glob(f".{job.output.name}.*.tmp"):  # left by a kill while combining
        stale.unlink()
    signature = {"model": _folder_signature(job.model), **job.reading.reading_key(job.corpus),
                 "chunk_size": job.reading.chunk_size, "format": fmt}
    log = ChunkLog(job.parts_dir, signature, job.resume)
    resumed = sum(e["n_docs"] for e in log.done.values())
    if on_chunk is not None and resumed:
        on_chunk(resumed)
    reader = job.reading.read(job.corpus)
    docbin = fmt == "docbin"
    todo = ((i, [r.id for r in chunk], ([r.id for r in chunk] if docbin else None, [r.text for r in chunk]))
            for i, chunk in chunked(reader, job.reading.chunk_size) if i not in log.done)
    with log.running():
        for index, ids, result in map_chunks(todo, encode_chunk, n_process=job.reading.n_process, setup=partial(
                setup_encoder, str(job.model), gpu_id=job.gpu_id, docbin=docbin)):
            _write_part(job.parts_dir, index, result, ids)
            codes = result["codes"]
            log.commit(index, {"n_docs": len(ids), "nnz": len(codes["indices"]), "dim": result["dim"],
                               "id_width": max((len(i) for i in ids), default=1)})
            if on_chunk is not None:
                on_chunk(len(ids))
    entries = log.ordered()
    parts = [_part(job.parts_dir, e["chunk"]) for e in entries]
    with atomic_path(job.output) as tmp:
        WRITERS[fmt](tmp, parts, entries, entries[0]["dim"])
    log.remove()
    n_docs = sum(e["n_docs"] for e in entries)
    seconds = time.perf_counter() - start
    return {"output": str(job.output), "format": fmt, "n_docs": n_docs, "n_resumed": resumed,
            "n_skipped": reader.n_skipped, "skipped": list(reader.skipped), "seconds": seconds,
            "docs_per_s": (n_docs - resumed) / max(seconds, 1e-9)}


def _write_part(directory: Path, index: int, result: Dict[str, Any], ids: List[str]) -> None:
    """Write one chunk's files (the ``.spacy`` part first: the ``.npz`` one completes the chunk)."""
    if "docbin" in result:
        write_bytes_atomic(_part(directory, index, ".spacy"), result["docbin"])
    with atomic_path(_part(directory, index)) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, ids=np.array(ids, dtype=str), **result["codes"])
