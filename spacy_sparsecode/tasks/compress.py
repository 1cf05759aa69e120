"""Pack sparse codes into bytes and back: delta + varint latent ids, quantised values.

Layout (little-endian), columnar so every section is one vectorised numpy pass:

    magic b"SPCD" | version u8 | value format u8 | model fingerprint 8 bytes
    | n_docs varint | dim varint | payload length varint
    | payload: per-doc nnz (varints) | latent ids, delta-coded within each doc (varints)
               | values: fp16 each, or int8 each + one fp16 max-abs scale per doc
    | crc32 of everything before it (u32)

The fingerprint ties the bytes to the model that made the codes (``models.weights_fingerprint``);
unpacking checks it, the length and the checksum, so truncated bytes or bytes from another
model raise a clear error instead of returning garbage codes. No spaCy here.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any, Dict, Iterable, Optional, Tuple

import numpy as np
import scipy.sparse as sp

from ..codes import SparseCodes
from ..errors import Errors
from ..models import FINGERPRINT_BYTES

if TYPE_CHECKING:
    from . import Coder

MAGIC = b"SPCD"
VERSION = 1
VALUE_FORMATS: Dict[str, int] = {"fp16": 0, "int8": 1}


# --- varints (LEB128), vectorised --------------------------------------------------------
def encode_varints(values: np.ndarray) -> bytes:
    """LEB128 bytes of non-negative integers (< 2**35)."""
    values = np.asarray(values, dtype=np.uint64)
    if values.size == 0:
        return b""
    n_bytes = np.ones(values.shape, dtype=np.int64)
    for shift in (7, 14, 21, 28):
        n_bytes += values >= (np.uint64(1) << np.uint64(shift))
    ends = np.cumsum(n_bytes)
    starts = ends - n_bytes
    out = np.zeros(int(ends[-1]), dtype=np.uint8)
    for j in range(int(n_bytes.max())):
        has = n_bytes > j
        chunk = (values[has] >> np.uint64(7 * j)) & np.uint64(0x7F)
        more = (n_bytes[has] > j + 1).astype(np.uint64) << np.uint64(7)
        out[starts[has] + j] = (chunk | more).astype(np.uint8)
    return out.tobytes()


def decode_varints(data: np.ndarray, count: int, pos: int) -> Tuple[np.ndarray, int]:
    """Read ``count`` varints from ``data`` (uint8 array) at ``pos``; return them and the new position."""
    if count == 0:
        return np.zeros(0, dtype=np.int64), pos
    window = data[pos:]
    ends = np.flatnonzero(window < 0x80)
    if ends.size < count:
        raise _corrupt("the data ends inside the varint section")
    ends = ends[:count]
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts + 1
    if lengths.max() > 5:
        raise _corrupt("a varint is longer than 5 bytes")
    out = np.zeros(count, dtype=np.int64)
    for j in range(int(lengths.max())):
        has = lengths > j
        out[has] |= (window[starts[has] + j].astype(np.int64) & 0x7F) << (7 * j)
    return out, pos + int(ends[-1]) + 1


def _corrupt(reason: str) -> ValueError:
    return ValueError(Errors.E401.format(reason=reason))


# --- pack / unpack -----------------------------------------------------------------------
def pack(codes: SparseCodes, fingerprint: bytes, values: str = "fp16") -> bytes:
    """Packed bytes of ``codes`` made by the model with ``fingerprint``.

    values (str): "fp16" (2 bytes per active latent) or "int8" (1 byte, plus a 2-byte
        scale per document; each value keeps its sign and stays non-zero).
    """
    if values not in VALUE_FORMATS:
        raise ValueError(Errors.E002.format(what="value format", value=values, valid=", ".join(VALUE_FORMATS)))
    if len(fingerprint) != FINGERPRINT_BYTES:
        raise ValueError(Errors.E303.format(name="fingerprint", expected=f"{FINGERPRINT_BYTES} bytes", value=fingerprint))
    matrix = codes.matrix
    nnz = np.diff(matrix.indptr)
    indices = matrix.indices.astype(np.int64)
    deltas = indices.copy()
    if indices.size:
        deltas[1:] -= indices[:-1]
        deltas[matrix.indptr[:-1][nnz > 0]] = indices[matrix.indptr[:-1][nnz > 0]]
    data = matrix.data.astype(np.float32)
    if values == "fp16":
        value_bytes = data.astype(np.float16).tobytes()
    else:
        rows = np.repeat(np.arange(len(nnz)), nnz)
        scale = np.zeros(len(nnz), dtype=np.float32)
        np.maximum.at(scale, rows, np.abs(data))
        scale16 = scale.astype(np.float16)
        safe = np.where(scale16 > 0, scale16.astype(np.float32), 1.0)
        q = np.clip(np.rint(data / safe[rows] * 127.0), -127, 127)
        q = np.where(q == 0, np.sign(data), q).astype(np.int8)
        value_bytes = scale16.tobytes() + q.tobytes()
    payload = encode_varints(nnz) + encode_varints(deltas) + value_bytes
    head = MAGIC + bytes([VERSION, VALUE_FORMATS[values]]) + bytes(fingerprint)
    head += encode_varints(np.array([len(nnz), codes.dim, len(payload)]))
    body = head + payload
    return body + zlib.crc32(body).to_bytes(4, "little")


def read_header(blob: bytes) -> Dict[str, object]:
    """The header fields of packed bytes (format, fingerprint, n_docs, dim), checked."""
    if len(blob) < len(MAGIC) + 2 + FINGERPRINT_BYTES + 3 + 4 or blob[:4] != MAGIC:
        raise ValueError(Errors.E400.format(n=len(blob)))
    if blob[4] != VERSION:
        raise ValueError(Errors.E403.format(found=blob[4], supported=VERSION))
    formats = {v: k for k, v in VALUE_FORMATS.items()}
    if blob[5] not in formats:
        raise _corrupt(f"unknown value format id {blob[5]}")
    data = np.frombuffer(blob, dtype=np.uint8)
    head, pos = decode_varints(data, 3, 6 + FINGERPRINT_BYTES)
    n_docs, dim, n_payload = (int(v) for v in head)
    return {"values": formats[blob[5]], "fingerprint": bytes(blob[6 : 6 + FINGERPRINT_BYTES]), "n_docs": n_docs,
            "dim": dim, "payload_start": pos, "payload_length": n_payload}


def unpack(blob: bytes, fingerprint: Optional[bytes] = None) -> SparseCodes:
    """Inverse of ``pack``. With ``fingerprint``, refuse bytes made by another model."""
    header = read_header(blob)
    start, n_payload = int(header["payload_start"]), int(header["payload_length"])
    if len(blob) != start + n_payload + 4:
        raise _corrupt(f"expected {start + n_payload + 4} bytes, got {len(blob)} (truncated or padded)")
    if zlib.crc32(blob[:-4]) != int.from_bytes(blob[-4:], "little"):
        raise _corrupt("the checksum does not match")
    if fingerprint is not None and header["fingerprint"] != bytes(fingerprint):
        raise ValueError(Errors.E402.format(found=header["fingerprint"].hex(), expected=bytes(fingerprint).hex()))
    n_docs, dim = int(header["n_docs"]), int(header["dim"])
    data = np.frombuffer(blob, dtype=np.uint8)[: start + n_payload]
    nnz, pos = decode_varints(data, n_docs, start)
    total = int(nnz.sum())
    deltas, pos = decode_varints(data, total, pos)
    indptr = np.concatenate([[0], np.cumsum(nnz)])
    indices = np.cumsum(deltas)
    if total:
        base = np.repeat(indices[indptr[:-1][nnz > 0]] - deltas[indptr[:-1][nnz > 0]], nnz[nnz > 0])
        indices = indices - base
    if header["values"] == "fp16":
        need = 2 * total
        values = np.frombuffer(blob, dtype=np.float16, count=total, offset=pos).astype(np.float32) if pos + need <= len(data) else None
    else:
        need = 2 * n_docs + total
        if pos + need <= len(data):
            scale = np.frombuffer(blob, dtype=np.float16, count=n_docs, offset=pos).astype(np.float32)
            q = np.frombuffer(blob, dtype=np.int8, count=total, offset=pos + 2 * n_docs).astype(np.float32)
            values = q / 127.0 * np.repeat(scale, nnz)
        else:
            values = None
    if values is None or pos + need != len(data):
        raise _corrupt("the value section has the wrong length")
    if total and (indices.min() < 0 or indices.max() >= dim):
        raise _corrupt(f"a latent id is outside [0, {dim})")
    return SparseCodes(sp.csr_matrix((values, indices, indptr), shape=(n_docs, dim)))


def compress(coder: "Coder", docs: Iterable[Any], values: str = "fp16") -> bytes:
    """Pack the codes of ``docs`` (stored ones, or encoded now) stamped with the coder's fingerprint."""
    return pack(coder.codes(list(docs)), bytes.fromhex(coder.fingerprint()), values)


def decompress(coder: "Coder", blob: bytes) -> SparseCodes:
    """Codes from ``compress`` bytes; bytes from another model or truncated ones are refused."""
    return unpack(blob, bytes.fromhex(coder.fingerprint()))
