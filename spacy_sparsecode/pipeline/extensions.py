"""Doc and Span extensions. Values live in ``doc.user_data`` as plain lists, so a
``DocBin(store_user_data=True)`` round trip keeps them; getters return typed objects.

``Doc._.sparse_code`` and ``Doc._.topics`` read only what ``set_annotations`` stored. The
derived values (topic labels, ``Doc._.keywords``, ``Doc._.summary``, ``Span._.sparse_code``)
are computed lazily, on first access, by the component that made the code: ``set_annotations``
stores that component's model fingerprint (a hex string) with the code, and live components
register themselves by fingerprint here, so a Doc restored from a DocBin finds its model again
as long as a pipeline with the same weights is loaded. Computed summaries and sentence codes
are cached in ``doc.user_data`` (plain data too).
"""

from __future__ import annotations

import weakref
from typing import Any, Dict, List, Optional, Tuple

from spacy.tokens import Doc, Span

from ..codes import SparseCode

CODE_KEY = "sparsecode.code"
MODEL_KEY = "sparsecode.model"  # hex fingerprint of the model that made the code
SPANS_KEY = "sparsecode.spans"  # {"start:end": code user data} of encoded spans
SUMMARY_KEY = "sparsecode.summary"  # [[start, end], ...] token offsets of the summary sentences

_LIVE: Dict[str, "weakref.ReferenceType[Any]"] = {}


def register_component(fingerprint: str, component: Any) -> None:
    """Make ``component`` findable by the Docs it annotates (weakly: it can still be freed)."""
    ref = _LIVE.get(fingerprint)
    if ref is None or ref() is not component:
        _LIVE[fingerprint] = weakref.ref(component)


def find_component(doc: Doc, required: bool = True) -> Any:
    """The live component whose model made the Doc's code (None, or an error, when none)."""
    from ..errors import Errors

    fingerprint = doc.user_data.get(MODEL_KEY)
    ref = _LIVE.get(fingerprint) if fingerprint is not None else None
    component = ref() if ref is not None else None
    if component is None and required:
        raise ValueError(Errors.E408.format(what="sparsecode", fingerprint=fingerprint))
    return component


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
    labels = component.latent_labels() if component is not None else None
    return [(j, w, None if labels is None else labels[j]) for j, w in code.top_latents()]


def get_keywords(doc: Doc) -> List[Tuple[str, float]]:
    """The Doc's top 10 words reconstructed from its code (may include words it lacks)."""
    code = get_sparse_code(doc)
    if code is None or code.nnz == 0:
        return []
    return find_component(doc).keywords(doc)


def get_summary(doc: Doc) -> List[Span]:
    """The summary sentences as Spans in document order (computed with default settings once)."""
    stored = doc.user_data.get(SUMMARY_KEY)
    if stored is not None:
        return [doc[start:end] for start, end in stored]
    if len(doc) == 0 or get_sparse_code(doc) is None:
        return []
    return find_component(doc).summarize(doc)


def get_span_code(span: Span) -> Optional[SparseCode]:
    """The code of the Span's own bag of words (cached in ``doc.user_data``)."""
    doc = span.doc
    if get_sparse_code(doc) is None:
        return None
    cached = doc.user_data.get(SPANS_KEY, {}).get(f"{span.start}:{span.end}")
    if cached is not None:
        return SparseCode.from_user_data(cached)
    return find_component(doc).encode_spans([span])[0]


def install_extensions() -> None:
    """Register the extensions once (idempotent)."""
    for name, getter in (("sparse_code", get_sparse_code), ("topics", get_topics), ("keywords", get_keywords),
                         ("summary", get_summary)):
        if not Doc.has_extension(name):
            Doc.set_extension(name, getter=getter)
    if not Span.has_extension("sparse_code"):
        Span.set_extension("sparse_code", getter=get_span_code)
