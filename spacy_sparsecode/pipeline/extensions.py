"""Doc and Span extensions. Values live in ``doc.user_data`` as plain lists, so a
``DocBin(store_user_data=True)`` round trip keeps them; getters return typed objects.

``Doc._.sparse_code`` reads only what ``set_annotations`` stored: the code and the hex
fingerprint of the model that made it. The derived values (``Doc._.topics`` labels,
``Doc._.keywords``, ``Doc._.summary``, ``Span._.sparse_code``) are computed on first access by
the functions in ``spacy_sparsecode.tasks``, with the component whose model made the code: spaCy
gives a Doc no link to its pipeline, so live ``sparsecode`` components register themselves here
(weakly) and a Doc finds the one with its stored fingerprint, preferring its own pipeline's (a
pipeline's components share its ``Vocab``). A Doc restored from a DocBin, unpickled or sourced
into another pipeline finds its model as long as a pipeline with the same weights is loaded.
Computed summaries and sentence codes are cached in ``doc.user_data`` (plain data too).
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, List, Optional, Tuple, Union

import numpy as np

from spacy.tokens import Doc, Span

from ..codes import CODE_KEY, MODEL_KEY, SPANS_KEY, SUMMARY_KEY, SparseCode
from ..errors import Errors
from ..tasks.summarize import summarize
from ..tasks.topics import keywords, latent_labels

if TYPE_CHECKING:
    from .component import SparseCoder

#: The live sparsecode components (weakly: they can still be freed), and the lock that guards
#: the set against a registration while another thread looks a model up.
_COMPONENTS: "weakref.WeakSet[SparseCoder]" = weakref.WeakSet()
_LOCK = threading.Lock()
#: component -> (fingerprint, labels) of its latents' top-3 words
_LABELS: "weakref.WeakKeyDictionary[SparseCoder, Tuple[str, List[str]]]" = weakref.WeakKeyDictionary()


def register_component(component: "SparseCoder") -> None:
    """Make ``component`` findable by the Docs whose codes its model makes."""
    with _LOCK:
        _COMPONENTS.add(component)


def find_component(doc: Doc, *, required: bool = True) -> Optional["SparseCoder"]:
    """The live component whose model made the Doc's code, that of the Doc's own pipeline first
    (None, or E408, when no loaded pipeline has that model)."""
    fingerprint = doc.user_data.get(MODEL_KEY)
    with _LOCK:
        live = [c for c in _COMPONENTS if c.is_initialized]
    live.sort(key=lambda c: c.vocab is not doc.vocab)
    component = next((c for c in live if c.fingerprint() == fingerprint), None)
    if component is None and required:
        raise ValueError(Errors.E408.format(fingerprint=fingerprint))
    return component


def store_code(doc: Doc, code: SparseCode, fingerprint: str) -> None:
    """Store a Doc's code, replacing the values derived from an earlier one."""
    doc.user_data[CODE_KEY] = code.to_user_data()
    doc.user_data[MODEL_KEY] = fingerprint
    doc.user_data.pop(SUMMARY_KEY, None)
    doc.user_data.pop(SPANS_KEY, None)


def get_sparse_code(doc: Doc) -> Optional[SparseCode]:
    """The Doc's code, or None when no ``sparsecode`` component has processed it."""
    data = doc.user_data.get(CODE_KEY)
    return None if data is None else SparseCode.from_user_data(data)


def get_topics(doc: Doc) -> List[Tuple[int, float, Optional[str]]]:
    """``(latent_id, weight, label)`` of the Doc's code, by weight descending.

    ``label`` is the latent's top-3 words, or None when the model is not loaded.
    """
    code = get_sparse_code(doc)
    if code is None or code.nnz == 0:
        return []
    component = find_component(doc, required=False)
    labels = None if component is None else _labels(component)
    return [(j, w, None if labels is None else labels[j]) for j, w in code.top_latents()]


def _labels(component: "SparseCoder") -> List[str]:
    fingerprint = component.fingerprint()
    cached = _LABELS.get(component)
    if cached is None or cached[0] != fingerprint:
        cached = _LABELS[component] = (fingerprint, latent_labels(component.torch_model, component.bow_vocab.strings))
    return cached[1]


def get_keywords(doc: Doc) -> List[Tuple[str, float]]:
    """The Doc's top 10 words reconstructed from its code (may include words it lacks)."""
    code = get_sparse_code(doc)
    if code is None or code.nnz == 0:
        return []
    return keywords(find_component(doc), doc)


def get_summary(doc: Doc) -> List[Span]:
    """The summary sentences as Spans in document order (computed with default settings once)."""
    stored = doc.user_data.get(SUMMARY_KEY)
    if stored is not None:
        return [doc[start:end] for start, end in stored]
    if len(doc) == 0 or get_sparse_code(doc) is None:
        return []
    return summarize(find_component(doc), doc)


def get_span_code(span: Span) -> Optional[SparseCode]:
    """The code of the Span's own bag of words (cached in ``doc.user_data``)."""
    doc = span.doc
    if get_sparse_code(doc) is None:
        return None
    spans = doc.user_data.setdefault(SPANS_KEY, {})
    key = f"{span.start}:{span.end}"
    if key not in spans:
        component = find_component(doc)
        spans[key] = component.torch_model.encode(component.featurize([span]))[0].to_user_data()
    return SparseCode.from_user_data(spans[key])


def code_vector(item: Union[Doc, Span]) -> np.ndarray:
    """The dense code of a Doc or Span as its vector (all zero without a code)."""
    code = item._.sparse_code
    return np.zeros(0, dtype=np.float32) if code is None else code.to_dense()


def code_similarity(item: Union[Doc, Span], other: Union[Doc, Span]) -> float:
    """Cosine of the codes of a Doc or Span and another Doc or Span (0.0 when either code is empty)."""
    a, b = code_vector(item), code_vector(other)
    if a.shape != b.shape:
        raise ValueError(Errors.E413.format(a=a.shape[0], b=b.shape[0]))
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 0 else 0.0


def use_code_vectors(doc: Doc) -> None:
    """Make the codes drive ``vector``, ``has_vector`` and ``similarity`` of the Doc and its Spans
    (spaCy's user hooks; module-level functions, so a pickled Doc keeps them; a DocBin does not)."""
    for hooks in (doc.user_hooks, doc.user_span_hooks):
        hooks.update(vector=code_vector, has_vector=_has_code, similarity=code_similarity)


def _has_code(item: Union[Doc, Span]) -> bool:
    return item._.sparse_code is not None


def install_extensions() -> None:
    """Register the extensions once (idempotent)."""
    for name, getter in (("sparse_code", get_sparse_code), ("topics", get_topics), ("keywords", get_keywords),
                         ("summary", get_summary)):
        if not Doc.has_extension(name):
            Doc.set_extension(name, getter=getter)
    if not Span.has_extension("sparse_code"):
        Span.set_extension("sparse_code", getter=get_span_code)
