"""The bag-of-words vocabulary: a frozen table of term hashes → column ids.

Terms are spaCy string hashes of one token attribute (LOWER, NORM, LEMMA or ORTH). Column
``j`` is the term ``strings[j]`` with hash ``hashes[j]``; columns are in ascending hash order,
so the table is fixed by its strings alone and is re-derived from them on load.

The token filters (stop words, punctuation, numbers, whitespace, short or non-alphabetic
tokens) live in one place, ``token_hashes`` / ``keep_mask`` / ``lexeme_mask``, used both when
the vocabulary is built and when Docs are featurised.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from spacy.attrs import IS_ALPHA, IS_PUNCT, IS_SPACE, IS_STOP, LEMMA, LENGTH, LIKE_NUM, LOWER, NORM, ORTH
from spacy.strings import StringStore, get_string_id
from spacy.tokens import Doc
from spacy.util import get_lang_class

from ..errors import BOOL, POSITIVE_INT, Check, Errors, Warnings, check_settings, one_of, setting

#: Token attributes a vocabulary can be built on, by name.
ATTRS: Dict[str, int] = {"LOWER": LOWER, "NORM": NORM, "LEMMA": LEMMA, "ORTH": ORTH}
#: Attributes that are a function of the lexeme (the token text) alone.
LEXEME_ATTRS = ("LOWER", "ORTH")
#: Lexeme attributes the token filters read, in the column order ``lexeme_mask`` expects.
FILTER_ATTRS = (IS_STOP, IS_PUNCT, LIKE_NUM, IS_SPACE, LENGTH, IS_ALPHA)

_MERGE_EVERY = 1 << 21  # per-doc unique hashes buffered before merging into the df table


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_float(value: Any) -> bool:
    return isinstance(value, (float, np.floating))


@dataclass(frozen=True)
class VocabConfig:
    """Which tokens become vocabulary terms, and which terms are kept."""

    attr: str = setting("LOWER", one_of(tuple(ATTRS)))
    #: int >= 1: document count; float in (0, 1): share of documents
    min_df: float = setting(2, Check(float, "an int >= 1 (documents) or a float in (0, 1) (share of documents)",
                                     lambda v: (_is_int(v) and v >= 1) or (_is_float(v) and 0 < v < 1)))
    #: float in (0, 1]: share of documents; int >= 2: document count
    max_df: float = setting(0.5, Check(float, "a float in (0, 1] (share of documents; 1.0 = all) or an int >= 2 (documents)",
                                       lambda v: (_is_int(v) and v >= 2) or (_is_float(v) and 0 < v <= 1)))
    #: keep the terms with the highest df (ties: by string)
    max_size: Optional[int] = setting(20000, Check(int, "an int >= 1 or None (no limit)",
                                                   lambda v: v is None or (_is_int(v) and v >= 1)))
    drop_stop: bool = setting(True, BOOL)
    drop_punct: bool = setting(True, BOOL)
    drop_num: bool = setting(True, BOOL)  # LIKE_NUM
    drop_space: bool = setting(True, BOOL)
    min_length: int = setting(2, POSITIVE_INT)  # characters of the token text
    #: keep only alphabetic tokens (drops e-mail addresses, URLs, "a1", "^^^")
    alpha_only: bool = setting(False, BOOL)

    def __post_init__(self) -> None:
        check_settings(self)


def lexeme_mask(flags: np.ndarray, config: VocabConfig) -> np.ndarray:
    """Rows of ``flags`` (columns ``FILTER_ATTRS``, from ``Doc.to_array``) that pass the filters."""
    drop = np.array([config.drop_stop, config.drop_punct, config.drop_num, config.drop_space])
    mask = ~flags[:, :4][:, drop].any(axis=1)
    if config.min_length > 1:
        mask &= flags[:, 4] >= config.min_length
    if config.alpha_only:
        mask &= flags[:, 5] != 0
    return mask


def keep_mask(array: np.ndarray, config: VocabConfig) -> np.ndarray:
    """Kept rows of ``Doc.to_array([attr, *FILTER_ATTRS])``: filters pass, attr is set (non-0)."""
    return (array[:, 0] != 0) & lexeme_mask(array[:, 1:], config)


def token_hashes(doc: Doc, config: VocabConfig) -> np.ndarray:
    """uint64 hashes of ``config.attr`` for the tokens of ``doc`` that pass the filters, in order."""
    array = doc.to_array([ATTRS[config.attr], *FILTER_ATTRS]).reshape(len(doc), 1 + len(FILTER_ATTRS))
    return array[keep_mask(array, config), 0]


class HashIndex:
    """uint64 → int32 hash table (open addressing, linear probing), vectorised with numpy.

    Key 0 is reserved (empty slot); absent keys map to -1. Keys are never removed.
    """

    def __init__(self, keys: Optional[np.ndarray] = None, values: Optional[np.ndarray] = None) -> None:
        self._keys = np.zeros(16, dtype=np.uint64)
        self._values = np.full(16, -1, dtype=np.int32)
        self._size = 0
        if keys is not None and len(keys):
            self.insert(keys, values)

    def __len__(self) -> int:
        return self._size

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key (-1 when absent)."""
        keys = np.asarray(keys, dtype=np.uint64)
        mask = len(self._keys) - 1
        slot = (keys & np.uint64(mask)).astype(np.intp)
        found = self._keys[slot]
        out = self._values[slot]
        pending = np.flatnonzero((found != keys) & (found != 0))
        out[pending] = -1
        while pending.size:
            slot[pending] = (slot[pending] + 1) & mask
            found = self._keys[slot[pending]]
            hit = found == keys[pending]
            out[pending[hit]] = self._values[slot[pending[hit]]]
            pending = pending[~hit & (found != 0)]
        return out

    def insert(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Add distinct, non-zero keys that are not in the table yet."""
        keys = np.asarray(keys, dtype=np.uint64)
        values = np.asarray(values, dtype=np.int32)
        if 2 * (self._size + len(keys)) > len(self._keys):
            old = self._keys != 0
            old_keys, old_values = self._keys[old], self._values[old]
            capacity = 1 << max(4, math.ceil(math.log2(4 * (self._size + len(keys)))))
            self._keys = np.zeros(capacity, dtype=np.uint64)
            self._values = np.full(capacity, -1, dtype=np.int32)
            self._size = 0
            self._place(old_keys, old_values)
        self._place(keys, values)

    def _place(self, keys: np.ndarray, values: np.ndarray) -> None:
        mask = len(self._keys) - 1
        slot = (keys & np.uint64(mask)).astype(np.intp)
        pending = np.arange(len(keys))
        while pending.size:
            free = pending[self._keys[slot[pending]] == 0]
            # one winner per free slot; everyone else moves one slot on
            _, first = np.unique(slot[free], return_index=True)
            won = free[first]
            self._keys[slot[won]] = keys[won]
            self._values[slot[won]] = values[won]
            pending = np.setdiff1d(pending, won, assume_unique=True)
            slot[pending] = (slot[pending] + 1) & mask
        self._size += len(keys)


class BagOfWordsVocab:
    """Frozen term table: column ``j`` is ``strings[j]``, hash ``hashes[j]`` (ascending).

    ``df[j]`` is the number of the ``n_docs`` build documents that contain term ``j``.
    """

    def __init__(self, config: VocabConfig, strings: Sequence[str], df: Sequence[int], n_docs: int) -> None:
        self.config = config
        self.strings: List[str] = list(strings)
        self.hashes = np.array([get_string_id(s) for s in self.strings], dtype=np.uint64)
        self.df = np.asarray(df, dtype=np.int64).reshape(-1)
        self.n_docs = int(n_docs)
        if len(self.df) != len(self.strings):
            reason = f"{len(self.strings)} strings but {len(self.df)} df values"
            raise ValueError(Errors.E100.format(reason=reason))
        if not (self.hashes[1:] > self.hashes[:-1]).all():
            raise ValueError(Errors.E100.format(reason="strings are not unique and in ascending hash order"))
        if (self.hashes == 0).any():
            raise ValueError(Errors.E100.format(reason="the empty string is not a valid term"))
        self._index = HashIndex(self.hashes, np.arange(len(self.hashes), dtype=np.int32))

    def __len__(self) -> int:
        return len(self.strings)

    def columns(self, hashes: np.ndarray) -> np.ndarray:
        """int32 column of each term hash; -1 for hashes not in the vocabulary."""
        return self._index.get(hashes)

    def idf(self) -> np.ndarray:
        """Smooth idf per column, as scikit-learn's: ln((1 + n_docs) / (1 + df)) + 1 (float32)."""
        return (np.log((1.0 + self.n_docs) / (1.0 + self.df)) + 1.0).astype(np.float32)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-safe form (config, strings in column order, df, n_docs)."""
        return {
            "config": dataclasses.asdict(self.config),
            "strings": list(self.strings),
            "df": self.df.tolist(),
            "n_docs": self.n_docs,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "BagOfWordsVocab":
        """Inverse of ``to_dict``; hashes are re-derived from the strings."""
        try:
            config = VocabConfig(**data["config"])
            return cls(config, data["strings"], data["df"], data["n_docs"])
        except (KeyError, TypeError) as err:
            raise ValueError(Errors.E100.format(reason=f"missing or unexpected field {err}")) from err

    @classmethod
    def build(cls, docs: Iterable[Doc], config: VocabConfig = VocabConfig()) -> "BagOfWordsVocab":
        """Count document frequencies over a stream of Docs and keep the terms ``config`` allows."""
        counts = DocumentFrequencies()
        stores: List[StringStore] = []
        langs = set()
        n_docs = 0
        for doc in docs:
            n_docs += 1
            if not any(doc.vocab.strings is store for store in stores):
                stores.append(doc.vocab.strings)
                langs.add(doc.lang_)
            counts.add(np.unique(token_hashes(doc, config)))
        keys, df = counts.table()
        vocab = cls.from_document_frequencies(
            keys, df, n_docs, config, lambda kept: [_resolve(stores, key, config.attr) for key in kept.tolist()])
        if not len(vocab):
            what = (
                f"BagOfWordsVocab.build over {n_docs} docs (attr={config.attr}, "
                f"min_df={config.min_df}, max_df={config.max_df})"
            )
            warnings.warn(Warnings.W001.format(what=what), stacklevel=2)
        for lang in sorted(lang for lang in langs if config.drop_stop and not _has_stop_words(lang)):
            warnings.warn(Warnings.W002.format(lang=lang, max_df=config.max_df), stacklevel=2)
        return vocab

    @classmethod
    def from_document_frequencies(cls, keys: np.ndarray, df: np.ndarray, n_docs: int, config: VocabConfig,
                                  resolve: Callable[[np.ndarray], List[str]]) -> "BagOfWordsVocab":
        """The terms ``config`` keeps from sorted uint64 ``keys`` with document frequencies ``df``.

        resolve: the strings of a sorted array of kept hashes (called once).
        """
        low = config.min_df if _is_int(config.min_df) else config.min_df * n_docs
        high = config.max_df if _is_int(config.max_df) else config.max_df * n_docs
        kept = (df >= low) & (df <= high)
        keys, df = keys[kept], df[kept]
        strings = resolve(keys)
        if config.max_size is not None and len(keys) > config.max_size:
            top = np.lexsort((np.array(strings), -df))[: config.max_size]
            top.sort()  # back to ascending hash order
            keys, df, strings = keys[top], df[top], [strings[i] for i in top]
        return cls(config, strings, df, n_docs)


class DocumentFrequencies:
    """Running document frequency per term hash, merged into a sorted table in large batches."""

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.uint64)
        self.df = np.zeros(0, dtype=np.int64)
        self._buffer: List[np.ndarray] = []
        self._buffered = 0

    def add(self, keys: np.ndarray) -> None:
        """Count the uint64 ``keys``: each occurrence is one document (pass per-document unique keys)."""
        self._buffer.append(keys)
        self._buffered += len(keys)
        if self._buffered >= _MERGE_EVERY:
            self._merge()

    def table(self) -> Tuple[np.ndarray, np.ndarray]:
        """Sorted unique keys and their document frequencies, everything added so far included."""
        self._merge()
        return self.keys, self.df

    def _merge(self) -> None:
        if not self._buffer:
            return
        new_keys, new_df = np.unique(np.concatenate(self._buffer), return_counts=True)
        merged, inverse = np.unique(np.concatenate([self.keys, new_keys]), return_inverse=True)
        self.df = np.bincount(inverse, weights=np.concatenate([self.df, new_df]), minlength=len(merged)).astype(np.int64)
        self.keys = merged
        self._buffer, self._buffered = [], 0


def _has_stop_words(lang: str) -> bool:
    """Whether spaCy's language ``lang`` has stop words (``fo``, ``nn`` and ``xx`` have none in
    spaCy 3.8): without them ``drop_stop`` drops nothing, and only ``max_df`` keeps the most
    frequent function words out."""
    try:
        return bool(get_lang_class(lang).Defaults.stop_words)
    except ImportError:  # a language spaCy does not know: nothing to say about it
        return True


def _resolve(stores: List[StringStore], key: int, attr: str) -> str:
    for store in stores:
        if key in store:
            return store[key]
    raise ValueError(Errors.E102.format(key=key, attr=attr))
