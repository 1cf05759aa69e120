"""Tokenise a training corpus once; cache its bag-of-words vocabulary and CSR count matrix.

Workers tokenise chunks of texts with ``nlp.pipe`` and return, per document, the sorted
unique hashes of the tokens that pass the vocabulary's filters (``vocab.token_hashes``)
with their counts, plus the strings of hashes they have not sent before. Each chunk is a
shard file, logged by a ``ChunkLog`` (an interrupted run resumes). Then document
frequencies select the vocabulary, by the rules of ``BagOfWordsVocab.build``, and the
shards become one CSR matrix over it: the same matrix as ``docs_to_csr`` on the Docs.

Files in the cache folder: ``vocab.json``, ``matrix.npz`` and, written last, ``cache.json``
holding the key (corpus fingerprint, reader, tokenizer and featurizer settings). A run with
the same key reuses the files without tokenising.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

import numpy as np
import scipy.sparse as sp

from ..errors import Errors
from ..io import FORMAT_VERSION, atomic_path, read_json, write_json_atomic
from ..text.vocab import BagOfWordsVocab, DocumentFrequencies, HashIndex, VocabConfig, token_hashes
from .chunks import ChunkLog, CorpusOptions, chunk_memory_zone, chunked, map_chunks

if TYPE_CHECKING:
    from spacy.language import Language

CACHE_FILE = "cache.json"


@dataclass(frozen=True)
class TokenizerSpec:
    """What a worker process needs to tokenise like a pipeline and filter tokens like its vocabulary.

    config (str): the pipeline's config. nlp_bytes (bytes): the data of its other components.
    skip (str): the ``sparsecode`` component, left out of tokenising. vocab_config: the token filters.
    """

    config: str
    nlp_bytes: bytes
    skip: str
    vocab_config: VocabConfig

    @classmethod
    def of(cls, nlp: "Language", name: str) -> "TokenizerSpec":
        """The spec of ``nlp`` whose ``sparsecode`` component is called ``name``."""
        return cls(nlp.config.to_str(), nlp.to_bytes(exclude=[name]), name, nlp.get_pipe(name).vocab_config)


@dataclass
class CorpusCache:
    """A tokenised corpus: vocabulary, count matrix (docs × vocabulary) and reading stats."""

    vocab: BagOfWordsVocab
    matrix: sp.csr_matrix
    n_skipped: int
    skipped: List[str]
    reused: bool


# --- worker side ------------------------------------------------------------------------
_WORKER: Dict[str, Any] = {}


def _setup_worker(spec: TokenizerSpec) -> None:
    from spacy.util import load_model_from_config
    from thinc.api import Config

    nlp = load_model_from_config(Config().from_str(spec.config), auto_fill=False, validate=False)
    nlp.from_bytes(spec.nlp_bytes, exclude=[spec.skip])
    _WORKER.update(nlp=nlp, skip=spec.skip, config=spec.vocab_config, sent=HashIndex(), seen_docs=0)


def _bag_chunk(texts: List[str]) -> Dict[str, np.ndarray]:
    """Per-doc unique filtered term hashes (sorted) and counts, plus new hashes' strings."""
    nlp, config = _WORKER["nlp"], _WORKER["config"]
    with chunk_memory_zone(nlp, _WORKER, len(texts)):  # new strings are resolved before it closes
        arrays = [token_hashes(doc, config) for doc in nlp.pipe(texts, disable=[_WORKER["skip"]])]
        return _bags(arrays, nlp.vocab.strings)


def _bags(arrays: List[np.ndarray], strings: Any) -> Dict[str, np.ndarray]:
    """Per-doc (sorted unique hash, count) runs from per-doc token hashes, vectorised."""
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    hashes = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.uint64)
    rows = np.repeat(np.arange(len(arrays)), lengths)
    order = np.lexsort((hashes, rows))
    hashes, rows = hashes[order], rows[order]
    first = np.ones(len(hashes), dtype=bool)
    first[1:] = (hashes[1:] != hashes[:-1]) | (rows[1:] != rows[:-1])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(hashes))).astype(np.int32)
    keys = hashes[starts]
    row_nnz = np.bincount(rows[starts], minlength=len(arrays)).astype(np.int32)
    unique = np.unique(keys)
    new = unique[_WORKER["sent"].get(unique) == -1]
    _WORKER["sent"].insert(new, np.zeros(len(new), dtype=np.int32))
    encoded = [strings[int(key)].encode("utf8") for key in new]
    offsets = np.cumsum([0] + [len(b) for b in encoded], dtype=np.int64)
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return {"keys": keys, "counts": counts, "row_nnz": row_nnz, "new_keys": new, "offsets": offsets, "blob": blob}


# --- parent side ------------------------------------------------------------------------
def _shard_path(directory: Path, index: int) -> Path:
    return directory / f"shard-{index:08d}.npz"


def _save_npz(path: Path, arrays: Dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def _resolver(shards: List[Path]) -> Callable[[np.ndarray], List[str]]:
    def resolve(keys: np.ndarray) -> List[str]:
        found: Dict[int, str] = {}
        for path in shards:
            with np.load(path) as shard:
                new_keys = shard["new_keys"]
                hit = np.flatnonzero(np.isin(new_keys, keys))
                if hit.size:
                    offsets, blob = shard["offsets"], shard["blob"].tobytes()
                    for i in hit.tolist():
                        found.setdefault(int(new_keys[i]), blob[offsets[i]:offsets[i + 1]].decode("utf8"))
            if len(found) == len(keys):
                break
        return [found[int(key)] for key in keys]

    return resolve


def _assemble(shards: List[Path], vocab: BagOfWordsVocab) -> sp.csr_matrix:
    """The CSR count matrix over ``vocab`` of all shards' documents, in order."""
    indices: List[np.ndarray] = []
    data: List[np.ndarray] = []
    row_nnz: List[np.ndarray] = []
    for path in shards:
        with np.load(path) as shard:
            cols = vocab.columns(shard["keys"])
            keep = cols >= 0
            rows = np.repeat(np.arange(len(shard["row_nnz"])), shard["row_nnz"])
            indices.append(cols[keep])
            data.append(shard["counts"][keep].astype(np.float32))
            row_nnz.append(np.bincount(rows[keep], minlength=len(shard["row_nnz"])))
    nnz = np.concatenate(row_nnz) if row_nnz else np.zeros(0, dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64)
    matrix = sp.csr_matrix((np.concatenate(data) if data else np.zeros(0, np.float32),
                            np.concatenate(indices) if indices else np.zeros(0, np.int32), indptr),
                           shape=(len(nnz), len(vocab)))
    matrix.has_sorted_indices = True  # hash order within a doc is column order
    return matrix


def cache_key(source: Any, reading: CorpusOptions, nlp_config: Dict[str, Any], vocab_config: VocabConfig) -> Dict[str, Any]:
    """What the cached files depend on: the corpus, how it is read, tokenised and filtered."""
    return {"format_version": FORMAT_VERSION, **reading.reading_key(source), "nlp": nlp_config,
            "vocab": dataclasses.asdict(vocab_config)}


def load_cache(directory: Path, key: Dict[str, Any]) -> Optional[CorpusCache]:
    """The cached corpus if ``directory`` holds a complete one with this ``key``, else None."""
    meta_path = Path(directory) / CACHE_FILE
    if not meta_path.exists():
        return None
    meta = read_json(meta_path)
    if meta.get("key") != key:
        return None
    try:
        vocab = BagOfWordsVocab.from_dict(read_json(Path(directory) / "vocab.json"))
        matrix = sp.load_npz(Path(directory) / "matrix.npz").tocsr()
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(Errors.E511.format(path=directory, reason=err)) from err
    if matrix.shape != (meta["n_docs"], len(vocab)):
        raise ValueError(Errors.E511.format(path=directory, reason=f"matrix shape {matrix.shape}"))
    return CorpusCache(vocab, matrix, meta["n_skipped"], meta["skipped"], reused=True)


def build_cache(
    directory: Path,
    key: Dict[str, Any],
    source: Any,
    reading: CorpusOptions,
    spec: TokenizerSpec,
    *,
    resume: bool = False,
    on_chunk: Optional[Callable[[int], None]] = None,
) -> CorpusCache:
    """Tokenise ``source`` once, as ``reading`` says, and write the cache files in ``directory``.

    Each worker rebuilds the pipeline from ``spec``. ``resume`` continues from the shards of an
    interrupted run; ``on_chunk(n_docs)`` reports progress.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CACHE_FILE).unlink(missing_ok=True)
    shard_dir = directory / "shards"
    log = ChunkLog(shard_dir, {"key": key, "chunk_size": reading.chunk_size}, resume, what="a partly tokenised corpus")
    df = DocumentFrequencies()
    for entry in log.ordered():
        with np.load(_shard_path(shard_dir, entry["chunk"])) as shard:
            df.add(shard["keys"])
        if on_chunk is not None:
            on_chunk(entry["n_docs"])
    reader = reading.read(source)
    todo = ((i, len(chunk), [r.text for r in chunk]) for i, chunk in chunked(reader, reading.chunk_size) if i not in log.done)
    with log.running():
        for index, n_docs, bags in map_chunks(todo, _bag_chunk, n_process=reading.n_process, setup=partial(_setup_worker, spec)):
            _save_npz(_shard_path(shard_dir, index), bags)
            log.commit(index, {"n_docs": n_docs})
            df.add(bags["keys"])
            if on_chunk is not None:
                on_chunk(n_docs)
    shards = [_shard_path(shard_dir, entry["chunk"]) for entry in log.ordered()]
    n_docs = sum(entry["n_docs"] for entry in log.ordered())
    vocab = BagOfWordsVocab.from_document_frequencies(*df.table(), n_docs, spec.vocab_config, _resolver(shards))
    matrix = _assemble(shards, vocab)
    write_json_atomic(directory / "vocab.json", vocab.to_dict())
    with atomic_path(directory / "matrix.npz") as tmp:
        with open(tmp, "wb") as f:
            sp.save_npz(f, matrix, compressed=False)
    write_json_atomic(directory / CACHE_FILE, {"key": key, "n_docs": n_docs, "n_skipped": reader.n_skipped,
                                               "skipped": reader.skipped})
    shutil.rmtree(shard_dir, ignore_errors=True)
    return CorpusCache(vocab, matrix, reader.n_skipped, list(reader.skipped), reused=False)
