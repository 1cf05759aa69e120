"""Doc and Span extensions. Values live in ``doc.user_data`` as plain lists, so a
``DocBin(store_user_data=True)`` round trip keeps them; getters return typed objects."""

from __future__ import annotations

from typing import List, Optional, Tuple

from spacy.tokens import Doc

from .codes import SparseCode

CODE_KEY = "sparsecode.code"


def get_sparse_code(doc: Doc) -> Optional[SparseCode]:
    """The Doc's code, or None when no ``sparsecode`` component has processed it."""
    data = doc.user_data.get(CODE_KEY)
    return None if data is None else SparseCode.from_user_data(data)


def get_topics(doc: Doc) -> List[Tuple[int, float]]:
    """``(latent_id, weight)`` pairs of the Doc's code, by weight descending."""
    code = get_sparse_code(doc)
    return [] if code is None else code.top_latents()


def install_extensions() -> None:
    """Register the extensions once (idempotent)."""
    for name, getter in (("sparse_code", get_sparse_code), ("topics", get_topics)):
        if not Doc.has_extension(name):
            Doc.set_extension(name, getter=getter)
