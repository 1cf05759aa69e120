"""What codes mean in words: latent labels, decoded keywords, and an sklearn vectorizer.

``latent_labels``: each latent's top words joined ("market shares prices").
``decoded_scores`` / ``decoded_keywords``: a code decoded back to word scores; a document's
keywords are its top reconstructed words, so it gets keywords for words it lacks (query
expansion). ``SparseCodeVectorizer``: fit/transform on raw texts, returning a CSR of codes,
so codes drop into scikit-learn pipelines. Only the vectorizer touches spaCy (a blank
tokenizer); the rest works on a ``CodeModel``, CSR matrices and vocabulary strings.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..codes import SparseCodes
from ..errors import Errors
from ..metrics import top_words
from ..models import CodeModel
from ..models.base import padded_codes


def latent_labels(model: CodeModel, strings: Sequence[str], n_words: int = 3) -> List[str]:
    """One label per latent: its ``n_words`` top words by decoder weight, space-joined."""
    weights = model.topic_word_weights().float().cpu().numpy()
    return [" ".join(strings[j] for j in row) for row in top_words(weights, min(n_words, weights.shape[1]))]


@torch.no_grad()
def decoded_scores(model: CodeModel, codes: SparseCodes | sp.csr_matrix, batch_size: int = 1024) -> np.ndarray:
    """Word scores (n_docs, V) of codes through the model's decoder (empty codes: all zero)."""
    matrix = codes.matrix if isinstance(codes, SparseCodes) else sp.csr_matrix(codes)
    out = np.zeros((matrix.shape[0], model.n_vocab), dtype=np.float32)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, matrix.shape[0], batch_size):
            chunk = matrix[start : start + batch_size]
            indices, values = padded_codes(SparseCodes(chunk), model.device)
            scores = model.decode(indices, values).float().cpu().numpy()
            scores[np.diff(chunk.indptr) == 0] = 0.0
            out[start : start + chunk.shape[0]] = scores
    finally:
        model.train(was_training)
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


class SparseCodeVectorizer(TransformerMixin, BaseEstimator):
    """Raw texts -> CSR matrix of sparse codes, scikit-learn style.

    Hyper-parameters are stored as given and validated at ``fit``; learned state ends with
    an underscore: ``vocab_`` (BagOfWordsVocab), ``model_`` (CodeModel), ``n_features_out_``.
    """

    def __init__(self, n_latents: int = 256, k: int = 16, family: str = "topk", scaling: str = "tfidf",
                 epochs: int = 30, batch_size: int = 128, lr: float = 3e-3, min_df: float = 2, max_df: float = 0.5,
                 max_size: Optional[int] = 20000, lang: str = "en", seed: int = 0) -> None:
        self.n_latents = n_latents
        self.k = k
        self.family = family
        self.scaling = scaling
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.min_df = min_df
        self.max_df = max_df
        self.max_size = max_size
        self.lang = lang
        self.seed = seed

    def _docs(self, texts: Iterable[str]) -> List[Any]:
        import spacy  # the tokenizer only

        if not hasattr(self, "_nlp") or self._nlp.lang != self.lang:
            self._nlp = spacy.blank(self.lang)
        if isinstance(texts, str):
            raise ValueError(Errors.E405)
        return list(self._nlp.tokenizer.pipe(texts))

    def fit(self, X: Iterable[str], y: Any = None) -> "SparseCodeVectorizer":
        """Build the vocabulary from the texts ``X`` and train the model on them."""
        from ..text.featurize import docs_to_csr
        from ..models import build_model
        from ..models.trainer import TrainConfig, Trainer
        from ..text.vocab import BagOfWordsVocab, VocabConfig

        docs = self._docs(X)
        vocab = BagOfWordsVocab.build(docs, VocabConfig(min_df=self.min_df, max_df=self.max_df, max_size=self.max_size))
        if len(vocab) == 0:
            raise ValueError(Errors.E011.format(name="SparseCodeVectorizer", min_df=self.min_df))
        model = build_model(self.family, {"n_latents": self.n_latents, "k": self.k, "scaling": self.scaling, "seed": self.seed},
                            len(vocab), vocab.idf())
        config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed)
        Trainer(model, config, progress=False).fit(docs_to_csr(docs, vocab))
        self.vocab_, self.model_ = vocab, model
        self.n_features_out_ = self.n_latents
        return self

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        """Codes of the texts ``X``: CSR (n_texts, n_latents), float32."""
        from ..text.featurize import docs_to_csr

        check_is_fitted(self, ["vocab_", "model_"])
        return self.model_.encode(docs_to_csr(self._docs(X), self.vocab_)).matrix

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """One name per latent: ``latent<i>:<top-3 words>``."""
        check_is_fitted(self, ["vocab_", "model_"])
        labels = latent_labels(self.model_, self.vocab_.strings)
        return np.array([f"latent{i}:{label.replace(' ', '_')}" for i, label in enumerate(labels)], dtype=object)

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_nlp", None)
        return state
