"""Docs → bag-of-words CSR rows over a ``BagOfWordsVocab``, and count/log1p/tf-idf weighting.

Per Doc the only Python work is one ``Doc.to_array``; everything else runs on numpy arrays
over chunks of many Docs. The token filters are lexeme attributes, so their verdict is cached
per token text (ORTH hash) in a ``HashIndex``: a token text is filtered once, with the same
``keep_mask`` / ``lexeme_mask`` that ``BagOfWordsVocab.build`` uses, the first time it is seen.
The cache assumes lexeme attributes (e.g. ``is_stop``) do not change while it is in use.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple, Union

import numpy as np
import scipy.sparse as sp
from spacy.attrs import ORTH
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from ..errors import Errors, check_choice
from .vocab import ATTRS, FILTER_ATTRS, LEXEME_ATTRS, BagOfWordsVocab, HashIndex, keep_mask, lexeme_mask

@dataclass(frozen=True)
class Scaling:
    """What an input scaling does to a row of counts, in this order: ``log1p`` takes
    log(1 + count), ``idf`` multiplies by the vocabulary's idf, ``normalize`` l2-normalises."""

    log1p: bool = False
    idf: bool = False
    normalize: bool = False

    @property
    def changes_values(self) -> bool:
        return self.log1p or self.idf or self.normalize


#: Input scalings of a count matrix, by name: the one table the featurizer (``scale_counts``)
#: and the models (``models.base.scale_batch`` on torch batches) read. Its keys are the valid
#: names (``one_of(SCALINGS)``).
SCALINGS: Dict[str, Scaling] = {
    "tfidf": Scaling(idf=True, normalize=True),
    "log1p-tfidf": Scaling(log1p=True, idf=True, normalize=True),  # sublinear tf
    "log1p": Scaling(log1p=True, normalize=True),
    "count": Scaling(),  # the counts as they are
}


def scaling_of(name: str) -> Scaling:
    """The scaling called ``name`` (E002 listing the valid names when there is none)."""
    check_choice("scaling", name, SCALINGS)
    return SCALINGS[name]

_CHUNK_TOKENS = 1 << 18  # tokens gathered before a vectorised pass
_DROP = -2  # cached verdict: the token is filtered out (or, for LOWER/ORTH, out of vocabulary)
_KEEP = 0  # cached verdict for NORM/LEMMA: the lexeme passes the filters


class _LexemeCache:
    """ORTH hash → verdict for one (BagOfWordsVocab, spaCy Vocab) pair.

    For LOWER/ORTH the verdict is the column id or ``_DROP``; for NORM/LEMMA (token-level
    attributes) it is ``_KEEP`` or ``_DROP`` and the column comes from the token's own value.
    """

    def __init__(self, vocab: BagOfWordsVocab, spacy_vocab: Vocab) -> None:
        self.vocab = vocab
        self.spacy_vocab = spacy_vocab
        self.lexeme_level = vocab.config.attr in LEXEME_ATTRS
        self.index = HashIndex()

    def verdicts(self, orth: np.ndarray) -> np.ndarray:
        """Verdict per token, filtering the token texts not seen before."""
        out = self.index.get(orth)
        missing = out == -1
        if missing.any():
            new = np.unique(orth[missing])
            strings = self.spacy_vocab.strings
            lexemes = Doc(self.spacy_vocab, words=[strings[key] for key in new.tolist()])
            config = self.vocab.config
            if self.lexeme_level:
                array = lexemes.to_array([ATTRS[config.attr], *FILTER_ATTRS])
                cols = self.vocab.columns(array[:, 0])
                verdict = np.where(keep_mask(array, config) & (cols >= 0), cols, _DROP)
            else:
                verdict = np.where(lexeme_mask(lexemes.to_array(list(FILTER_ATTRS)), config), _KEEP, _DROP)
            self.index.insert(new, verdict)
            out[missing] = self.index.get(orth[missing])
        return out


_CACHES: "weakref.WeakKeyDictionary[BagOfWordsVocab, _LexemeCache]" = weakref.WeakKeyDictionary()


def _cache_for(vocab: BagOfWordsVocab, spacy_vocab: Vocab) -> _LexemeCache:
    cache = _CACHES.get(vocab)
    if cache is None or cache.spacy_vocab is not spacy_vocab:
        cache = _CACHES[vocab] = _LexemeCache(vocab, spacy_vocab)
    return cache


def _count_chunk(
    arrays: List[np.ndarray], lengths: List[int], cache: _LexemeCache
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column ids (sorted per row), counts and row lengths for the Docs of one chunk."""
    n_cols = max(len(cache.vocab), 1)
    tokens = np.concatenate(arrays)
    rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    if cache.lexeme_level:
        cols = cache.verdicts(tokens)
    else:
        keep = (cache.verdicts(tokens[:, 0]) == _KEEP) & (tokens[:, 1] != 0)
        rows = rows[keep]
        cols = cache.vocab.columns(tokens[keep, 1])
    in_vocab = cols >= 0
    cells, counts = np.unique(rows[in_vocab] * n_cols + cols[in_vocab], return_counts=True)
    row_nnz = np.bincount(cells // n_cols, minlength=len(lengths))
    return (cells % n_cols).astype(np.int32), counts.astype(np.float32), row_nnz


def docs_to_csr(docs: Iterable[Union[Doc, Span]], vocab: BagOfWordsVocab, scaling: str = "count") -> sp.csr_matrix:
    """float32 CSR (n_docs, len(vocab)) of term counts, scaled by ``scaling`` (one of ``SCALINGS``).

    Items may be Docs or Spans (e.g. sentences: one row each; a Doc's array is computed once
    for consecutive Spans of it).
    Columns are sorted within rows and there are no explicit zeros; a Doc without
    in-vocabulary tokens gives an empty row.
    """
    rule = scaling_of(scaling)
    attrs = [ORTH] if vocab.config.attr in LEXEME_ATTRS else [ORTH, ATTRS[vocab.config.attr]]
    empty = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64))
    parts: List[Tuple[np.ndarray, np.ndarray, np.ndarray]] = [empty]
    arrays: List[np.ndarray] = []
    lengths: List[int] = []
    cache: Optional[_LexemeCache] = None
    n_tokens = 0
    last_doc, last_array = None, None
    for item in docs:
        doc = item if isinstance(item, Doc) else item.doc
        if cache is None or doc.vocab is not cache.spacy_vocab:
            if arrays:
                parts.append(_count_chunk(arrays, lengths, cache))
                arrays, lengths, n_tokens = [], [], 0
            cache = _cache_for(vocab, doc.vocab)
        if doc is not last_doc:
            last_doc, last_array = doc, doc.to_array(attrs)
        array = last_array if item is doc else last_array[item.start : item.end]
        arrays.append(array)
        lengths.append(len(array))
        n_tokens += len(array)
        if n_tokens >= _CHUNK_TOKENS:
            parts.append(_count_chunk(arrays, lengths, cache))
            arrays, lengths, n_tokens = [], [], 0
    if arrays:
        parts.append(_count_chunk(arrays, lengths, cache))
    indices, data, row_nnz = (np.concatenate(column) for column in zip(*parts))
    indptr = np.concatenate([[0], np.cumsum(row_nnz)])
    csr = sp.csr_matrix((data, indices, indptr), shape=(len(row_nnz), len(vocab)))
    csr.has_sorted_indices = True
    idf = vocab.idf() if rule.idf else None
    return scale_counts(csr, scaling, idf)


def scale_counts(csr: sp.csr_matrix, scaling: str, idf: Optional[np.ndarray] = None) -> sp.csr_matrix:
    """``csr`` (counts) scaled as ``SCALINGS[scaling]`` says.

    Returns a new float32 matrix, or ``csr`` itself for ``count``; the tf-idf scalings need
    ``idf`` (``vocab.idf()``).
    """
    rule = scaling_of(scaling)
    if not rule.changes_values:
        return csr
    out = sp.csr_matrix(csr, dtype=np.float32, copy=True)
    if rule.log1p:
        np.log1p(out.data, out=out.data)
    if rule.idf:
        if idf is None or np.shape(idf) != (out.shape[1],):
            raise ValueError(Errors.E101.format(n_cols=out.shape[1], got=None if idf is None else np.shape(idf)))
        out.data *= np.asarray(idf, dtype=np.float32)[out.indices]
    if rule.normalize:
        rows = np.repeat(np.arange(out.shape[0]), np.diff(out.indptr))
        norms = np.sqrt(np.bincount(rows, weights=out.data.astype(np.float64) ** 2, minlength=out.shape[0]))
        norms[norms == 0] = 1.0
        out.data /= norms[rows].astype(np.float32)
    return out
