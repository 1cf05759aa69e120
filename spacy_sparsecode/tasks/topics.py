"""What codes mean in words: latents' top words and labels, decoded keywords, restored words.

``topic_words`` / ``latent_labels``: each latent's top words ("market shares prices").
``decoded_scores`` / ``decoded_keywords``: a code decoded back to word scores; a document's
keywords are its top reconstructed words, so it gets keywords for words it lacks (query
expansion). ``restored_words``: the words a denoising model puts back into partial documents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, List, Sequence, Tuple

import numpy as np
import scipy.sparse as sp
import torch

from ..codes import SparseCodes
from ..errors import Errors
from ..metrics import top_words
from ..models import CodeModel
from ..models.base import eval_mode, padded_codes

if TYPE_CHECKING:
    from . import Coder


def topic_words(coder: "Coder", top_n: int = 10) -> List[List[str]]:
    """The ``top_n`` words of each latent of the coder's model, by decoder weight."""
    weights = coder.torch_model.topic_word_weights().float().cpu().numpy()
    return [[coder.bow_vocab.strings[j] for j in row] for row in top_words(weights, top_n)]


def latent_labels(model: CodeModel, strings: Sequence[str], n_words: int = 3) -> List[str]:
    """One label per latent: its ``n_words`` top words by decoder weight, space-joined."""
    weights = model.topic_word_weights().float().cpu().numpy()
    return [" ".join(strings[j] for j in row) for row in top_words(weights, min(n_words, weights.shape[1]))]


@torch.no_grad()
def decoded_scores(model: CodeModel, codes: SparseCodes | sp.csr_matrix, batch_size: int = 1024) -> np.ndarray:
    """Word scores (n_docs, V) of codes through the model's decoder (empty codes: all zero)."""
    matrix = codes.matrix if isinstance(codes, SparseCodes) else sp.csr_matrix(codes)
    out = np.zeros((matrix.shape[0], model.n_vocab), dtype=np.float32)
    with eval_mode(model):
        for start in range(0, matrix.shape[0], batch_size):
            chunk = matrix[start : start + batch_size]
            indices, values = padded_codes(SparseCodes(chunk), model.device)
            scores = model.decode(indices, values).float().cpu().numpy()
            scores[np.diff(chunk.indptr) == 0] = 0.0
            out[start : start + chunk.shape[0]] = scores
    return out


def decoded_keywords(model: CodeModel, codes: SparseCodes | sp.csr_matrix, strings: Sequence[str],
                     top_n: int = 10) -> List[List[Tuple[str, float]]]:
    """Each code's ``top_n`` reconstructed words with their scores (empty code: no words)."""
    if top_n < 1:
        raise ValueError(Errors.E404.format(name="top_n", value=top_n))
    scores = decoded_scores(model, codes)
    if scores.shape[0] == 0:
        return []
    empty = ~scores.any(axis=1)
    ids = top_words(scores, min(top_n, scores.shape[1]))
    return [[] if empty[i] else [(strings[j], float(scores[i, j])) for j in row] for i, row in enumerate(ids)]


def keywords(coder: "Coder", doc: Any, top_n: int = 10) -> List[Tuple[str, float]]:
    """The Doc's ``top_n`` words reconstructed from its code, with scores (query expansion)."""
    return decoded_keywords(coder.torch_model, coder.codes([doc]), coder.bow_vocab.strings, top_n)[0]


def restored_words(coder: "Coder", docs: Iterable[Any], top_n: int = 10, *, only_new: bool = True) -> List[List[str]]:
    """Reconstruct each Doc's clean bag of words from its code and list its ``top_n`` words.

    only_new: skip words the Doc already contains, listing only restored words. A Doc without
    in-vocabulary words gets none.
    """
    ids, _ = coder.torch_model.denoise(coder.featurize(docs), top_n=top_n, only_new=only_new)
    return [[coder.bow_vocab.strings[j] for j in row if j >= 0] for row in ids]


def __getattr__(name: str) -> Any:
    # ``SparseCodeVectorizer`` lived here before it got its own module: keep that import path. The
    # import is lazy so that ``import spacy_sparsecode`` does not load scikit-learn.
    if name == "SparseCodeVectorizer":
        from .vectorizer import SparseCodeVectorizer

        return SparseCodeVectorizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
