"""Generation from codes: new codes (VAE prior), steered codes (SAE), and what they say in words.

A generated code becomes (a) a bag of words (decoded top words with weights), (b) keywords,
(c) the closest real sentences from a ``SentenceIndex`` of a corpus: a short extractive
"generated" text, or (d) sampled bags of words (``sample_bags``: nucleus sampling from the
model's own ``p(w | code)``, ``generative_distribution``). Codes keep the sparsity of real
ones: ``sparsify`` keeps, of each generated mixture, as many of its largest proportions as
an L0 drawn from the real codes' L0 distribution (from the dense mixture, so a code can get
more latents than the model's own rule would keep, as well as fewer).

Sampling needs a model that can sample (a VAE family with ``sample(n, generator)`` and
``posterior(batch)``): ``sample`` draws from the prior, ``near`` from a document's posterior
(z ~ N(mu, temperature² sigma²)), and ``interpolate`` of two documents walks between their
posterior means in the VAE's latent space; each draw becomes a code by the L0 matching
above (or, without real L0s, by the model's own ``code_rule``: softmax, top k). SAE
models raise a clear error for ``sample``/``near``, interpolate in code space, and can be
steered (``steer``: switch latents on/off in a document's code). These work on CSR
matrices, codes and strings; the functions at the end (``sampled``, ``near_document``,
``between_documents``, ``steered_document``, ``sentence_index``) apply them to a trained
``sparsecode`` component and its Docs, as ``sparsecode generate`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import scipy.sparse as sp
import torch

from ..codes import SparseCode, SparseCodes
from ..errors import Errors
from ..models import DATA_SAMPLE_ROWS, CodeModel, CsrBatch
from ..models.base import eval_mode
from ..text.featurize import scale_counts
from .summarize import sentence_spans
from .topics import decoded_scores

if TYPE_CHECKING:
    from . import Coder

SAMPLING_FAMILIES = ("gaussian", "logistic_normal")


def can_sample(model: CodeModel) -> bool:
    """Whether the model has a prior to sample new codes from (the VAE families)."""
    return callable(getattr(model, "sample", None))


def require_sampler(model: CodeModel, what: str) -> None:
    """Raise the E409 error naming the models that can sample."""
    if not can_sample(model):
        raise ValueError(Errors.E409.format(what=what, valid=", ".join(SAMPLING_FAMILIES), family=model.family))


def sparsify(dense: np.ndarray, real_l0: np.ndarray, seed: int = 0) -> SparseCodes:
    """Keep, in each row of ``dense``, its largest-magnitude entries, as many as an L0 drawn
    from ``real_l0`` (the L0 of real codes), so generated codes are as sparse as real ones."""
    dense = np.atleast_2d(np.asarray(dense, dtype=np.float32))
    real_l0 = np.asarray(real_l0)
    real_l0 = real_l0[real_l0 > 0]
    if real_l0.size == 0:
        raise ValueError(Errors.E303.format(name="real_l0", expected="L0 values of real, non-empty codes", value="no non-zero L0"))
    rng = np.random.default_rng(seed)
    l0 = np.minimum(rng.choice(real_l0, size=dense.shape[0]), dense.shape[1])
    order = np.argsort(-np.abs(dense), axis=1, kind="stable")
    keep = np.zeros_like(dense, dtype=bool)
    for i, n in enumerate(l0):
        keep[i, order[i, :n]] = True
    return SparseCodes(sp.csr_matrix(np.where(keep, dense, 0.0)))


def sample(model: CodeModel, n: int, real_l0: np.ndarray, seed: int = 0) -> SparseCodes:
    """``n`` new codes from the model's prior, as sparse as real codes (VAE models only)."""
    require_sampler(model, "sample")
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(Errors.E404.format(name="n", value=n))
    generator = torch.Generator().manual_seed(seed)
    if callable(getattr(model, "sample_mixture", None)):
        return sparsify(model.sample_mixture(n, generator).float().cpu().numpy(), real_l0, seed)
    drawn = model.sample(n, generator)
    dense = drawn.to_dense() if isinstance(drawn, SparseCodes) else torch.as_tensor(drawn).float().cpu().numpy()
    return sparsify(dense, real_l0, seed)


Rows = Union[sp.spmatrix, CsrBatch]


def ensure_prior(model: CodeModel, counts: sp.spmatrix) -> bool:
    """Fit the model's ex-post prior on ``counts`` (rows over its vocabulary) if it has one that
    is not fitted yet (e.g. a VAE trained through ``spacy train``); True when it was fitted here."""
    if getattr(model, "config", None) is None or not getattr(model.config, "prior_components", 0) or model.has_fitted_prior:
        return False
    rows = sp.csr_matrix(counts, dtype=np.float32)
    rows = rows[np.flatnonzero(np.diff(rows.indptr) > 0)[:DATA_SAMPLE_ROWS]]
    if rows.shape[0] == 0:
        return False
    model.fit_prior(CsrBatch.from_csr(rows, model.device))
    return True


def can_encode_posterior(model: CodeModel) -> bool:
    """Whether the model has a posterior q(z | x) and a code rule over z (the VAE families)."""
    return can_sample(model) and callable(getattr(model, "posterior", None)) and callable(getattr(model, "code_rule", None))


def _check_steps(steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(Errors.E303.format(name="steps", expected="an int >= 2", value=steps))


def _as_batch(model: CodeModel, rows: Rows, name: str) -> CsrBatch:
    """Count rows (CSR over the model's vocabulary, or a ``CsrBatch``) on the model's device;
    a row without vocabulary words has no posterior and is refused (E420)."""
    if isinstance(rows, CsrBatch):
        batch = rows
    else:
        if not sp.issparse(rows):
            rows = sp.csr_matrix(np.atleast_2d(np.asarray(rows, dtype=np.float32)))
        matrix = sp.csr_matrix(rows, dtype=np.float32)
        model.check_matrix(matrix)
        batch = CsrBatch.from_csr(matrix, model.device)
    if batch.n_rows == 0:
        raise ValueError(Errors.E420.format(name=name, row="(no rows)"))
    lengths = batch.row_sum(torch.ones_like(batch.values))
    empty = torch.nonzero(lengths == 0).flatten()
    if empty.numel():
        raise ValueError(Errors.E420.format(name=name, row=int(empty[0])))
    return batch


@torch.no_grad()
def _posterior(model: CodeModel, batch: CsrBatch) -> Tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and log-variance in eval mode (no dropout, running batch-norm stats)."""
    with eval_mode(model):
        mu, logvar = model.posterior(batch)
    return mu.float(), logvar.float()


@torch.no_grad()
def _codes_from_z(model: CodeModel, z: torch.Tensor, real_l0: Optional[np.ndarray], seed: int) -> SparseCodes:
    """Latent points z (n, K) -> codes: the L0 matching of their mixtures, or without ``real_l0`` the model's rule."""
    theta = model.mixture(z)
    if real_l0 is not None:
        return sparsify(theta.float().cpu().numpy(), real_l0, seed)
    indices, values = model.code_rule(theta)
    return SparseCodes.from_padded(indices.cpu().numpy(), values.float().cpu().numpy(), model.config.n_latents)


def near(model: CodeModel, rows: Rows, temperature: float = 1.0, n: int = 5, seed: int = 0,
         real_l0: Optional[np.ndarray] = None) -> SparseCodes:
    """``n`` codes around each document's posterior (VAE models only): z ~ N(mu, temperature² sigma²).

    rows: count rows over the model's vocabulary (a CSR row or batch, or a ``CsrBatch``); the
    result holds ``n`` codes per row, row by row. ``temperature`` 0 gives the document's own
    code ``n`` times; 1 samples the posterior itself; larger values wander further. Codes follow
    the model's rule (top ``k`` of softmax(z)), then, with ``real_l0``, the L0 matching.
    """
    require_sampler(model, "near")
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(Errors.E404.format(name="n", value=n))
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not np.isfinite(temperature) or temperature < 0:
        raise ValueError(Errors.E303.format(name="temperature", expected="a finite float >= 0", value=temperature))
    if not can_encode_posterior(model):
        raise ValueError(Errors.E421.format(what="near", family=model.family))
    mu, logvar = _posterior(model, _as_batch(model, rows, "near"))
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn((mu.shape[0], n, mu.shape[1]), generator=generator).to(mu.device)
    z = mu[:, None, :] + float(temperature) * (0.5 * logvar).exp()[:, None, :] * noise
    return _codes_from_z(model, z.reshape(-1, mu.shape[1]), real_l0, seed)


def interpolate_posterior(model: CodeModel, row_a: Rows, row_b: Rows, steps: int,
                          real_l0: Optional[np.ndarray] = None, seed: int = 0) -> SparseCodes:
    """``steps`` codes on the line between two documents' posterior means in the VAE's latent
    space (both ends included: the ends are the documents' own codes), each made a code by the
    model's rule (and, with ``real_l0``, the L0 matching)."""
    require_sampler(model, "interpolate")
    _check_steps(steps)
    if not can_encode_posterior(model):
        raise ValueError(Errors.E421.format(what="interpolate", family=model.family))
    mu_a, _ = _posterior(model, _as_batch(model, row_a, "interpolate"))
    mu_b, _ = _posterior(model, _as_batch(model, row_b, "interpolate"))
    t = torch.linspace(0.0, 1.0, steps, device=mu_a.device)[:, None]
    return _codes_from_z(model, (1 - t) * mu_a[:1] + t * mu_b[:1], real_l0, seed)


def interpolate(code_a: Union[SparseCode, Rows], code_b: Union[SparseCode, Rows], steps: int,
                real_l0: Optional[np.ndarray] = None, model: Optional[CodeModel] = None) -> SparseCodes:
    """``steps`` codes from ``code_a`` to ``code_b`` (both ends included).

    Given two ``SparseCode``s: the line between them in code space, each point cut to the L0 of
    the nearer end (or to a draw from ``real_l0``). Given two documents as count rows and their
    ``model``: a VAE walks between the posterior means (``interpolate_posterior``); any other
    model encodes both and walks in code space.
    """
    if not isinstance(code_a, SparseCode) or not isinstance(code_b, SparseCode):
        if model is None:
            raise ValueError(Errors.E303.format(name="model", expected="the model of the documents when interpolating count rows",
                                                value=None))
        if can_encode_posterior(model):
            return interpolate_posterior(model, code_a, code_b, steps, real_l0)
        _check_steps(steps)
        code_a, code_b = (x if isinstance(x, SparseCode) else model.encode(sp.csr_matrix(x, dtype=np.float32)[:1])[0]
                          for x in (code_a, code_b))
    _check_steps(steps)
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    dense = (1 - t) * code_a.to_dense()[None] + t * code_b.to_dense()[None]
    if real_l0 is not None:
        return sparsify(dense, real_l0)
    l0 = np.where(t.ravel() < 0.5, code_a.nnz, code_b.nnz)
    order = np.argsort(-np.abs(dense), axis=1, kind="stable")
    mask = np.zeros_like(dense, dtype=bool)
    for i, n in enumerate(l0):
        mask[i, order[i, :n]] = True
    return SparseCodes(sp.csr_matrix(np.where(mask, dense, 0.0)))


def steer(code: SparseCode, on: Iterable[int] = (), off: Iterable[int] = (), strength: Optional[float] = None,
          keep_l0: bool = True) -> SparseCode:
    """A document's code with latents switched on (at ``strength``, default its largest value)
    and off; with ``keep_l0`` the weakest other latents make room, so L0 does not grow."""
    on, off = [int(j) for j in on], [int(j) for j in off]
    for name, ids in (("on", on), ("off", off)):
        for j in ids:
            if not 0 <= j < code.dim:
                raise ValueError(Errors.E410.format(latent=j, n_latents=code.dim, name=name))
    dense = code.to_dense()
    value = float(strength) if strength is not None else (float(np.abs(dense).max()) if code.nnz else 1.0)
    dense[off] = 0.0
    dense[on] = value
    if keep_l0 and code.nnz:
        limit = max(code.nnz, len(on))
        others = [j for j in np.argsort(-np.abs(dense), kind="stable") if dense[j] != 0 and j not in on]
        for j in others[max(limit - len(on), 0):]:
            dense[j] = 0.0
    indices = np.flatnonzero(dense).astype(np.int32)
    return SparseCode(indices, dense[indices].astype(np.float32), code.dim)


def word_scores(model: CodeModel, codes: SparseCodes) -> np.ndarray:
    """Word weights (n, V) of codes. VAE codes (topic proportions) give the mixture of their
    topics' word distributions, ``theta @ softmax(beta)``: the batch-normalised decoder of the
    logistic-normal VAE z-scores each word against the corpus, which ranks rare words first
    in a single code's reconstruction. Other models: their decoder's scores."""
    if can_sample(model) and callable(getattr(model, "topic_word_weights", None)):
        weights = model.topic_word_weights().float().cpu().numpy()
        return np.asarray(codes.matrix @ weights, dtype=np.float32)
    return decoded_scores(model, codes)


def bags(model: CodeModel, codes: SparseCodes, strings: Sequence[str], top_n: int = 20) -> List[List[Tuple[str, float]]]:
    """Each code's bag of words: its ``top_n`` highest-weighted words (``word_scores``), positive weights only."""
    scores = word_scores(model, codes)
    out = []
    for row in scores:
        top = np.argsort(-row, kind="stable")[:top_n]
        out.append([(strings[j], float(row[j])) for j in top if row[j] > 0])
    return out


def nucleus_sample(probs: np.ndarray, lengths: Sequence[int], top_p: float = 0.9, seed: int = 0) -> sp.csr_matrix:
    """Bags of ``lengths[i]`` words drawn from row ``i % len(probs)`` of ``probs`` (non-negative
    word weights), each row cut to its nucleus: the fewest top words holding ``top_p`` of its mass."""
    if not 0 < top_p <= 1:
        raise ValueError(Errors.E303.format(name="top_p", expected="a float in (0, 1]", value=top_p))
    probs = np.clip(np.atleast_2d(np.asarray(probs, dtype=np.float64)), 0, None)
    rng = np.random.default_rng(seed)
    rows = []
    for i, length in enumerate(lengths):
        row = probs[i % probs.shape[0]]
        total = row.sum()
        if total <= 0 or length <= 0:
            rows.append(sp.csr_matrix((1, probs.shape[1]), dtype=np.float32))
            continue
        order = np.argsort(-row, kind="stable")
        mass = np.cumsum(row[order]) / total
        keep = order[: int(np.searchsorted(mass, top_p)) + 1]
        counts = rng.multinomial(int(length), row[keep] / row[keep].sum())
        drawn = counts > 0
        rows.append(sp.csr_matrix((counts[drawn].astype(np.float32), (np.zeros(int(drawn.sum()), dtype=np.int64), keep[drawn])),
                                  shape=(1, probs.shape[1])))
    return sp.vstack(rows, format="csr") if rows else sp.csr_matrix((0, probs.shape[1]), dtype=np.float32)


def sample_bags(model: CodeModel, codes: SparseCodes, lengths: Sequence[int], top_p: float = 0.9, seed: int = 0) -> sp.csr_matrix:
    """A bag of ``lengths[i]`` words per code (counts, CSR over the vocabulary): generated
    documents as bags of words. A VAE's words come from the nucleus of its own generative
    distribution ``p(w | code)`` (topics plus the background word frequencies, as documents
    are modelled in training); other models' from their decoded word weights (``word_scores``)."""
    return nucleus_sample(generative_distribution(model, codes), lengths, top_p, seed)


def generative_distribution(model: CodeModel, codes: SparseCodes) -> np.ndarray:
    """What a bag of words is drawn from, (n, V): a VAE's ``p(w | code)`` (topics and background
    word frequencies); for other models their decoded word weights (``word_scores``)."""
    if can_sample(model):
        return model.word_distribution(codes).float().cpu().numpy()
    return word_scores(model, codes)


@dataclass
class SentenceIndex:
    """Real sentences as l2-normalised tf-idf rows, searched by a decoded bag of words."""

    vectors: sp.csr_matrix  # (n_sentences, V)
    texts: List[str]

    @classmethod
    def build(cls, sentence_counts: sp.csr_matrix, texts: Sequence[str], idf: np.ndarray) -> "SentenceIndex":
        """From sentence bags (counts over the model's vocabulary) and their texts; word-less sentences are left out."""
        counts = sp.csr_matrix(sentence_counts)
        keep = np.flatnonzero(np.diff(counts.indptr) > 0)
        if keep.size == 0:
            raise ValueError(Errors.E412)
        return cls(scale_counts(counts[keep], "tfidf", idf), [texts[i] for i in keep])

    def query(self, word_scores: np.ndarray, top_n: int = 3) -> List[Tuple[str, float]]:
        """The ``top_n`` sentences most similar (cosine) to non-negative ``word_scores`` (V,)."""
        query = np.clip(np.asarray(word_scores, dtype=np.float32).ravel(), 0, None)
        norm = float(np.linalg.norm(query))
        if norm == 0:
            return []
        sims = self.vectors @ (query / norm)
        top = np.argsort(-sims, kind="stable")[:top_n]
        return [(self.texts[i], float(sims[i])) for i in top if sims[i] > 0]


def generated_texts(model: CodeModel, codes: SparseCodes, index: SentenceIndex, n_sentences: int = 3) -> List[List[str]]:
    """A short extractive "generated" text per code: the closest real sentences to its bag (``word_scores``)."""
    scores = word_scores(model, codes)
    return [[text for text, _ in index.query(row, n_sentences)] for row in scores]


def describe(model: CodeModel, codes: SparseCodes, strings: Sequence[str], index: Optional[SentenceIndex] = None,
             top_n: int = 20, n_keywords: int = 8, n_sentences: int = 3) -> List[Dict[str, object]]:
    """For each code: its latents, bag of words, keywords and (with an index) retrieved sentences."""
    bag_list = bags(model, codes, strings, top_n)
    sentences = generated_texts(model, codes, index, n_sentences) if index is not None else [[] for _ in bag_list]
    return [{"latents": [[j, round(w, 5)] for j, w in code.top_latents()], "bag": [[w, round(s, 5)] for w, s in bag],
             "keywords": [w for w, _ in bag[:n_keywords]], "sentences": sents}
            for code, bag, sents in zip(codes, bag_list, sentences)]


# --- generation with a trained component and its Docs ------------------------------------
@dataclass
class Generated:
    """Generated codes and, for each, what it is (``kind`` and its parameters), for output rows."""

    codes: SparseCodes
    info: List[Dict[str, Any]]

    def describe(self, coder: "Coder", index: SentenceIndex, n_sentences: int = 3) -> List[Dict[str, Any]]:
        """One row per code: what it is, its latents, bag of words, keywords and retrieved sentences."""
        rows = describe(coder.torch_model, self.codes, coder.bow_vocab.strings, index, n_sentences=n_sentences)
        return [info | row for info, row in zip(self.info, rows)]


def sentence_index(coder: "Coder", docs: Sequence[Any]) -> SentenceIndex:
    """The index of the Docs' sentences that generated codes retrieve real text from."""
    sents = [s for doc in docs for s in sentence_spans(doc, warn=False)]
    return SentenceIndex.build(coder.featurize(s.as_doc() for s in sents), [s.text for s in sents], coder.bow_vocab.idf())


def sampled(coder: "Coder", docs: Sequence[Any], n: int, seed: int = 0) -> Tuple[Generated, bool]:
    """``n`` codes from a VAE's prior, with the Docs' L0s; True when its ex-post prior was fitted
    on the Docs for this call first (a model trained without the fast trainer has none)."""
    fitted_now = ensure_prior(coder.torch_model, coder.featurize(docs))
    codes = sample(coder.torch_model, n, coder.codes(docs).l0, seed)
    return Generated(codes, [{"kind": "sample"}] * n), fitted_now


def near_document(coder: "Coder", source: Tuple[str, Any], docs: Sequence[Any], temperature: float, n: int,
                  seed: int = 0) -> Generated:
    """A document's own code, then ``n`` codes drawn from a VAE's posterior around it (``near``)."""
    label, doc = source
    drawn = near(coder.torch_model, coder.featurize([doc]), temperature, n, seed, coder.codes(docs).l0)
    return Generated(SparseCodes.stack([coder.codes([doc]), drawn]),
                     [{"kind": "document", "source": label}] + [{"kind": "near", "temperature": temperature}] * n)


def between_documents(coder: "Coder", start: Tuple[str, Any], end: Tuple[str, Any], steps: int) -> Generated:
    """``steps`` codes from one document to another: through a VAE's posterior, or in code space."""
    model = coder.torch_model
    codes = interpolate(coder.featurize([start[1]]), coder.featurize([end[1]]), steps, model=model)
    how = "posterior" if can_encode_posterior(model) else "code space"
    return Generated(codes, [{"kind": "interpolate", "step": i, "t": round(i / (steps - 1), 4), "from": start[0],
                              "to": end[0], "through": how} for i in range(steps)])


def steered_document(coder: "Coder", source: Tuple[str, Any], on: Sequence[int] = (), off: Sequence[int] = ()) -> Generated:
    """A document's code, then the same code with latents switched ``on`` / ``off`` (``steer``)."""
    label, doc = source
    base = coder.codes([doc])[0]
    codes = SparseCodes.from_codes([base, steer(base, on=on, off=off)])
    return Generated(codes, [{"kind": "document", "source": label}, {"kind": "steered", "on": list(on), "off": list(off)}])
