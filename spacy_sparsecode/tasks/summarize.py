"""Extractive summarization: pick central sentences whose combined code covers the document's.

Core (no spaCy): ``select_sentences`` takes the sentences' bags (CSR rows, counts) and a
``CodeModel``. Each greedy step adds the sentence with the largest gain

    centrality(s) + coverage × Δcover(s) − redundancy × max_{c chosen} cos(z_s, z_c)

where ``centrality`` is the sentence's word-overlap centrality in the document (overlap of
in-vocabulary words, normalised by log sentence lengths as in TextRank, scaled to max 1),
``Δcover`` is how much of the document code's mass the sentence's code newly covers
(Σ_j min(z_doc_j, acc_j + z_s_j) − Σ_j min(z_doc_j, acc_j), over the total mass), and the
last term is an MMR-style penalty in code space. An optional position prior adds
``lead_prior / (1 + position)`` (position: the sentence's 0-based index in the document), for
genres such as news whose first sentences summarize; 0, the default, leaves it out. The
harmonic decay needs no length scale: the first sentence gains W, the second W/2, the third
W/3, in units of the most central sentence's centrality. Defaults were chosen on the first 200
BBC News Summary articles (see ``benchmarks/summarize.py``). ``budget`` resolves a length
budget (sentences or ratio). ``sentence_spans`` takes Docs (the spaCy boundary): the
pipeline's sentences, or spaCy's rule-based sentencizer when the Doc has none (with a warning).
``summarize`` puts them together for a Doc and a trained ``sparsecode`` component.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, List, Optional

import numpy as np
import scipy.sparse as sp

from ..codes import SUMMARY_KEY
from ..errors import Errors, Warnings
from ..models import CodeModel

if TYPE_CHECKING:
    from . import Coder


def budget(n_sentences: int, sentences: Optional[int] = None, ratio: Optional[float] = None) -> int:
    """How many of ``n_sentences`` to keep: ``sentences`` or ``ratio`` (rounded, >= 1); default 3."""
    if sentences is not None and ratio is not None:
        raise ValueError(Errors.E407)
    if sentences is not None:
        if isinstance(sentences, bool) or not isinstance(sentences, (int, np.integer)) or sentences <= 0:
            raise ValueError(Errors.E404.format(name="sentences", value=sentences))
        return min(int(sentences), n_sentences)
    if ratio is not None:
        if not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
            raise ValueError(Errors.E406.format(value=ratio))
        return min(max(1, int(round(ratio * n_sentences))), n_sentences)
    return min(3, n_sentences)


def _centrality(present: np.ndarray) -> np.ndarray:
    """Word-overlap centrality of each sentence, scaled to max 1 (0 for word-less sentences)."""
    overlap = present @ present.T
    log_len = np.log(np.maximum(present.sum(axis=1), 2.0))
    weights = overlap / (log_len[:, None] + log_len[None, :])
    np.fill_diagonal(weights, 0.0)
    centrality = weights.sum(axis=1)
    return centrality / max(float(centrality.max()), 1e-12)


def _check_lead_prior(lead_prior: float) -> None:
    if (isinstance(lead_prior, bool) or not isinstance(lead_prior, (int, float, np.floating))
            or not np.isfinite(lead_prior) or lead_prior < 0):
        raise ValueError(Errors.E303.format(name="lead_prior", expected="a finite number >= 0", value=lead_prior))


def select_sentences(model: CodeModel, sentence_bags: sp.csr_matrix, n_select: int,
                     coverage: float = 0.25, redundancy: float = 0.1, lead_prior: float = 0.0) -> List[int]:
    """Indices (in document order) of the ``n_select`` sentences chosen greedily.

    sentence_bags (csr_matrix): (n_sentences, V) counts, one row per sentence.
    n_select (int): how many sentences to choose (> 0).
    coverage (float): weight of the document-code coverage gain.
    redundancy (float): weight of the MMR penalty (0 disables it).
    lead_prior (float): weight W of the position prior W / (1 + position) (0 disables it).
    """
    if n_select <= 0:
        raise ValueError(Errors.E404.format(name="n_select", value=n_select))
    _check_lead_prior(lead_prior)
    bags = sp.csr_matrix(sentence_bags, dtype=np.float32)
    n = bags.shape[0]
    if n <= n_select:
        return list(range(n))
    codes = model.encode(sp.vstack([bags, sp.csr_matrix(bags.sum(axis=0))], format="csr")).to_dense()
    sentence_codes, doc_code = codes[:-1], codes[-1]
    unit = sentence_codes / np.maximum(np.linalg.norm(sentence_codes, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    centrality = _centrality((bags.toarray() > 0).astype(np.float32))
    total = max(float(doc_code.sum()), 1e-12)
    covered = np.zeros_like(doc_code)
    chosen: List[int] = []
    for _ in range(n_select):
        cover_gain = (np.minimum(doc_code, covered + sentence_codes).sum(axis=1) - np.minimum(doc_code, covered).sum()) / total
        penalty = similarity[:, chosen].max(axis=1) if chosen else 0.0
        gain = centrality + coverage * cover_gain - redundancy * penalty
        if lead_prior:
            gain = gain + lead_prior / (1.0 + np.arange(n))
        gain[chosen] = -np.inf
        best = int(np.argmax(gain))
        chosen.append(best)
        covered += sentence_codes[best]
    return sorted(chosen)


# --- the spaCy boundary: Docs and Spans ---------------------------------------------------
_SENTENCIZER: Any = None


def sentence_spans(doc: Any, *, warn: bool = True) -> List[Any]:
    """The Doc's sentences: from its parser/senter/sentencizer, else spaCy's rule-based
    ``Sentencizer`` is applied to the Doc (and a warning says so)."""
    global _SENTENCIZER
    if len(doc) == 0:
        return []
    if not (doc.has_annotation("SENT_START") or doc.has_annotation("DEP")):
        from spacy.pipeline import Sentencizer

        if _SENTENCIZER is None:
            _SENTENCIZER = Sentencizer()
        if warn:
            warnings.warn(Warnings.W400, stacklevel=3)
        _SENTENCIZER(doc)
    return list(doc.sents)


def summarize(coder: "Coder", doc: Any, sentences: Optional[int] = None, ratio: Optional[float] = None,
              coverage: float = 0.25, redundancy: float = 0.1, lead_prior: float = 0.0) -> List[Any]:
    """Extractive summary of a Doc: its sentences whose combined code best covers the Doc's code.

    coder: the trained ``sparsecode`` component.
    doc (Doc): the document; sentences as in ``sentence_spans``.
    sentences (int) / ratio (float): the length budget (default 3 sentences).
    coverage (float): weight of the document-code coverage gain.
    redundancy (float): weight of the MMR-style redundancy penalty (code space).
    lead_prior (float): weight W of the position prior W / (1 + position) (0: none).
    RETURNS (List[Span]): the chosen sentences in document order (also stored for ``Doc._.summary``).
    """
    budget(1, sentences, ratio)  # validate the arguments even for an empty Doc
    _check_lead_prior(lead_prior)
    sents = sentence_spans(doc)
    n_select = budget(len(sents), sentences, ratio)
    chosen = [] if n_select == 0 else select_sentences(coder.torch_model, coder.featurize(sents), n_select, coverage,
                                                       redundancy, lead_prior)
    doc.user_data[SUMMARY_KEY] = [[sents[i].start, sents[i].end] for i in chosen]
    return [sents[i] for i in chosen]
