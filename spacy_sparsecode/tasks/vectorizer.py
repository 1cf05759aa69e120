"""``SparseCodeVectorizer``: raw texts in, a CSR matrix of codes out, scikit-learn style.

Codes then drop into scikit-learn pipelines. Only the tokenizer of a blank spaCy pipeline is used.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import Errors
from ..models import build_model
from ..models.trainer import TrainConfig, Trainer
from ..text.featurize import docs_to_csr
from ..text.vocab import BagOfWordsVocab, VocabConfig
from .topics import latent_labels


class SparseCodeVectorizer(TransformerMixin, BaseEstimator):
    """Raw texts -> CSR matrix of sparse codes, scikit-learn style.

    Hyper-parameters are stored as given and validated at ``fit``; learned state ends with
    an underscore: ``vocab_`` (BagOfWordsVocab), ``model_`` (CodeModel), ``n_features_out_``.
    """

    def __init__(self, n_latents: int = 256, k: int = 16, family: str = "topk", scaling: str = "tfidf",
                 epochs: int = 30, batch_size: int = 128, lr: float = 3e-3, min_df: float = 2, max_df: float = 0.5,
                 max_size: Optional[int] = 20000, lang: str = "en", seed: int = 0) -> None:
        for name, value in locals().items():  # scikit-learn's convention: stored as given, checked at fit
            if name != "self":
                setattr(self, name, value)

    def _docs(self, texts: Iterable[str]) -> List[Any]:
        import spacy  # the tokenizer only

        if not hasattr(self, "_nlp") or self._nlp.lang != self.lang:
            self._nlp = spacy.blank(self.lang)
        if isinstance(texts, str):
            raise ValueError(Errors.E405)
        return list(self._nlp.tokenizer.pipe(texts))

    def fit(self, X: Iterable[str], y: Any = None) -> "SparseCodeVectorizer":
        """Build the vocabulary from the texts ``X`` and train the model on them."""
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
