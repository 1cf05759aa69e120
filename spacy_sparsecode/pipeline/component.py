"""The ``sparsecode`` pipeline component: Doc -> bag of words -> sparse code.

Reads like spaCy's textcat: the default model config at the top, the factory, then a
``TrainablePipe`` with the standard verbs. Weights are written by ``to_disk`` as
safetensors next to JSON settings and the vocabulary; nothing is pickled.
"""

from __future__ import annotations

import dataclasses
import warnings
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple, Union

import numpy as np
import scipy.sparse as sp
import srsly
import torch
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer

from ..codes import MODEL_KEY, SparseCodes
from ..errors import Errors, Warnings
from ..io import (FORMAT_VERSION, check_format_version, load_tensor_bytes, load_tensors, read_json, save_tensor_bytes,
                  save_tensors, write_json_atomic)
from ..models import DATA_SAMPLE_ROWS, DOCS_PER_LATENT, CodeModel, CsrBatch, fit_to_corpus, upgrade_saved, weights_fingerprint
from ..text.featurize import docs_to_csr
from ..text.vocab import BagOfWordsVocab, VocabConfig
from .architectures import get_torch_model
from .extensions import get_sparse_code, install_extensions, register_component, store_code, use_code_vectors

default_model_config = """
[model]
@architectures = "spacy-sparsecode.TopKSAE.v2"
n_latents = 256
k = 16
scaling = "tfidf"
loss = "mse"
aux_k = 64
aux_coef = 0.125
dead_after_docs = 2000
seed = 0
"""
DEFAULT_MODEL = Config().from_str(default_model_config)["model"]


@Language.factory(
    "sparsecode",
    assigns=["doc._.sparse_code", "doc._.topics"],
    default_config={
        "model": DEFAULT_MODEL,
        "attr": "LOWER",
        "min_df": 2,
        "max_df": 0.5,
        "max_size": 20000,
        "drop_stop": True,
        "drop_punct": True,
        "drop_num": True,
        "min_length": 2,
        "alpha_only": False,
        "code_vectors": False,
        "scorer": {"@scorers": "spacy-sparsecode.scorer.v1"},
    },
    default_score_weights={"sparsecode_fit": 1.0, "sparsecode_l0": None, "sparsecode_dead": None},
)
def make_sparsecode(
    nlp: Language,
    name: str,
    model: Model,
    attr: str,
    min_df: float,
    max_df: float,
    max_size: Optional[int],
    drop_stop: bool,
    drop_punct: bool,
    drop_num: bool,
    min_length: int,
    alpha_only: bool,
    code_vectors: bool,
    scorer: Optional[Callable],
) -> "SparseCoder":
    """Create a ``sparsecode`` component: vocabulary settings + a sparse code model.

    code_vectors (bool): the codes drive ``doc.vector`` / ``doc.similarity`` and the same for Spans
        (spaCy's user hooks), e.g. for a pipeline without word vectors.
    """
    vocab_config = VocabConfig(attr=attr, min_df=min_df, max_df=max_df, max_size=max_size, drop_stop=drop_stop,
                               drop_punct=drop_punct, drop_num=drop_num, min_length=min_length,
                               alpha_only=alpha_only)
    return SparseCoder(nlp.vocab, model, name, vocab_config=vocab_config, code_vectors=code_vectors, scorer=scorer)


class SparseCoder(TrainablePipe):
    """Encode each Doc's bag of words into a sparse code (``Doc._.sparse_code``).

    What codes are for (topic words, keywords, summaries, compression) are functions in
    ``spacy_sparsecode.tasks`` that take this component.
    """

    def __init__(self, vocab: Vocab, model: Model, name: str = "sparsecode", *,
                 vocab_config: VocabConfig = VocabConfig(), code_vectors: bool = False,
                 scorer: Optional[Callable] = None) -> None:
        install_extensions()
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.vocab_config = vocab_config
        self.code_vectors = code_vectors
        self.bow_vocab: Optional[BagOfWordsVocab] = None
        self.cfg: Dict[str, Any] = {}
        #: (weights key, hex fingerprint): recomputed only when a weight tensor changes.
        self._fingerprint: Tuple[Any, str] = (None, "")
        register_component(self)

    @property
    def is_initialized(self) -> bool:
        return self.bow_vocab is not None and bool(self.model.layers)

    def _require_initialized(self) -> None:
        if not self.is_initialized:
            raise ValueError(Errors.E010.format(name=self.name))

    @property
    def torch_model(self) -> CodeModel:
        """The trained torch ``CodeModel`` (raises a clear error before initialize)."""
        self._require_initialized()
        return get_torch_model(self.model)

    def featurize(self, docs: Iterable[Union[Doc, Span]]) -> sp.csr_matrix:
        """Docs (or Spans) -> CSR matrix of counts over the component's vocabulary."""
        self._require_initialized()
        return docs_to_csr(docs, self.bow_vocab)

    def codes(self, docs: Sequence[Doc]) -> SparseCodes:
        """The codes of ``docs``: the stored ones when this model made them all, else encoded now."""
        fingerprint = self.fingerprint()
        if docs and all(doc.user_data.get(MODEL_KEY) == fingerprint for doc in docs):
            return SparseCodes.from_codes([get_sparse_code(doc) for doc in docs])
        return self.predict(docs)

    def fingerprint(self) -> str:
        """Hex fingerprint of the model (family, vocabulary, weights); cached until a weight changes."""
        model = self.torch_model
        # state_dict() makes new tensor objects on every call: key on the live tensors' versions
        key = (id(self.bow_vocab), id(model), tuple(t._version for t in (*model.parameters(), *model.buffers())))
        if self._fingerprint[0] != key:
            self._fingerprint = (key, weights_fingerprint(model, self.bow_vocab.strings).hex())
        return self._fingerprint[1]

    # --- initialisation ----------------------------------------------------------------
    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None) -> None:
        """Build the vocabulary from the training corpus ``get_examples`` (read twice), size the
        model and initialise it from data."""
        bow_vocab = BagOfWordsVocab.build((eg.reference for eg in get_examples()), self.vocab_config)
        self.initialize_from(bow_vocab, docs_to_csr((eg.reference for eg in islice(get_examples(), DATA_SAMPLE_ROWS)), bow_vocab))

    def initialize_from(self, bow_vocab: BagOfWordsVocab, sample: sp.csr_matrix) -> None:
        """Initialise from a built vocabulary (its config becomes the component's) and the count
        rows of the first ``DATA_SAMPLE_ROWS`` training docs (``sparsecode train`` caches both)."""
        sample = sp.csr_matrix(sample[:DATA_SAMPLE_ROWS], dtype=np.float32)
        n_rows = sample.shape[0]
        sample = sample[np.diff(sample.indptr) > 0]
        if len(bow_vocab) == 0 or sample.shape[0] == 0:
            raise ValueError(Errors.E011.format(name=self.name, min_df=bow_vocab.config.min_df))
        self.vocab_config, self.bow_vocab = bow_vocab.config, bow_vocab
        # documents with words in the corpus: the sample's, scaled to the whole corpus when capped
        self._fit_to_corpus(sample.shape[0] * max(bow_vocab.n_docs, n_rows) // n_rows)
        self._build_model()
        self.torch_model.init_from_data(CsrBatch.from_csr(sample, self.torch_model.device))

    def _fit_to_corpus(self, n_docs: int) -> None:
        """Lower K to what ``n_docs`` training documents with words support (``models.fit_to_corpus``),
        with a warning naming both; refuse a corpus that supports no latent."""
        if n_docs < DOCS_PER_LATENT:
            raise ValueError(Errors.E012.format(name=self.name, n_docs=n_docs, min_docs=DOCS_PER_LATENT))
        config = self.model.attrs["config"]
        fitted = fit_to_corpus(config, n_docs)
        if fitted is not config:
            k_note = f" and k={fitted['k']}" if fitted["k"] != config["k"] else ""
            warnings.warn(Warnings.W003.format(n_docs=n_docs, asked=config["n_latents"], per_latent=DOCS_PER_LATENT,
                                               name=self.name, used=fitted["n_latents"], k_note=k_note), stacklevel=3)
            self.model.attrs["config"] = fitted

    def _build_model(self) -> None:
        self._fingerprint = (None, "")  # the key is made of ids, which a new model may reuse
        self.model.set_dim("nV", len(self.bow_vocab), force=True)
        self.model.attrs["idf"] = self.bow_vocab.idf()
        self.model.initialize()

    # --- the pipe verbs ---------------------------------------------------------------
    def predict(self, docs: Iterable[Doc]) -> SparseCodes:
        """Encode a batch of Docs. RETURNS (SparseCodes): one code per Doc."""
        X = self.featurize(docs)
        if X.shape[0] == 0:
            return SparseCodes(sp.csr_matrix((0, self.torch_model.config.n_latents), dtype=np.float32))
        return self.model.predict(X)

    def set_annotations(self, docs: Sequence[Doc], codes: SparseCodes) -> None:
        """Store each Doc's code (from ``predict``) and this model's fingerprint in ``doc.user_data``."""
        fingerprint = self.fingerprint()
        register_component(self)  # a copied or unpickled component did not run __init__
        for doc, code in zip(docs, codes):
            store_code(doc, code, fingerprint)
            if self.code_vectors:
                use_code_vectors(doc)

    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd: Optional[Optimizer] = None,
               losses: Optional[Dict[str, float]] = None) -> Dict[str, float]:
        """One step on a batch (``eg.predicted`` is read) minimising reconstruction + sparsity loss;
        ``drop`` is unused (the families have their own noise options). RETURNS the updated ``losses``."""
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        X = self.featurize(eg.predicted for eg in examples)
        X = X[np.diff(X.indptr) > 0]
        if X.shape[0] == 0:
            return losses
        per_doc_loss, backprop = self.model.begin_update(X)
        loss, d_loss = self.get_loss(examples, per_doc_loss)
        backprop(d_loss)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], per_doc_loss: Any) -> Tuple[float, Any]:
        """The batch's mean loss and its gradient w.r.t. the model's per-document losses."""
        n = per_doc_loss.shape[0]
        return float(per_doc_loss.mean()), self.model.ops.alloc1f(n) + 1.0 / n

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the optimizer, then the model's constraints (e.g. a non-negative unit-norm decoder)."""
        self.model.finish_update(sgd)
        self.torch_model.post_step()

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, float]:
        """Score with the registered scorer, giving it this component for reconstruction."""
        return {} if self.scorer is None else self.scorer(examples, component=self, **kwargs)

    def add_label(self, label: str) -> int:
        raise NotImplementedError(Errors.E013.format(name=self.name, label=label))

    # --- serialization ------------------------------------------------------------------
    def _settings(self) -> Dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "family": self.model.attrs["family"], "model": self.model.attrs["config"],
                "vocab_config": dataclasses.asdict(self.vocab_config), "n_vocab": len(self.bow_vocab)}

    def _restore(self, settings: Dict[str, Any], vocab: Dict[str, Any], tensors: Dict[str, torch.Tensor], where: Path) -> None:
        """Rebuild the vocabulary and the model from saved settings, vocabulary and weights."""
        check_format_version(settings, where / "cfg.json")
        self.vocab_config = VocabConfig(**settings["vocab_config"])
        self.bow_vocab = BagOfWordsVocab.from_dict(vocab)
        if len(self.bow_vocab) != settings["n_vocab"]:
            raise ValueError(Errors.E023.format(path=where / "vocab.json", reason="vocabulary size differs from cfg.json"))
        config, tensors = upgrade_saved(settings["family"], settings["model"], tensors, settings["format_version"])
        self.model.attrs["family"], self.model.attrs["config"] = settings["family"], config
        self._build_model()
        try:
            self.torch_model.load_state_dict({k: v.to(self.torch_model.device) for k, v in tensors.items()})
        except RuntimeError as err:
            raise ValueError(Errors.E023.format(path=where / "model.safetensors", reason=err)) from err
        register_component(self)

    def to_disk(self, path: Path, *, exclude: Iterable[str] = tuple()) -> None:
        """Write ``cfg.json``, ``vocab.json`` and ``model.safetensors`` (each atomically)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_tensors(path / "model.safetensors", self.torch_model.weight_tensors())
        write_json_atomic(path / "vocab.json", self.bow_vocab.to_dict())
        write_json_atomic(path / "cfg.json", self._settings())

    def from_disk(self, path: Path, *, exclude: Iterable[str] = tuple()) -> "SparseCoder":
        """Load what ``to_disk`` wrote; missing, truncated or newer files fail naming the file."""
        path = Path(path)
        self._restore(read_json(path / "cfg.json"), read_json(path / "vocab.json"), load_tensors(path / "model.safetensors"), path)
        return self

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        """Serialise to bytes (msgpack of JSON-safe settings + safetensors bytes; no pickle)."""
        weights = save_tensor_bytes(self.torch_model.weight_tensors())
        return srsly.msgpack_dumps({"cfg": self._settings(), "vocab": self.bow_vocab.to_dict(), "weights": weights})

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "SparseCoder":
        """Inverse of ``to_bytes``."""
        data = srsly.msgpack_loads(bytes_data)
        self._restore(data["cfg"], data["vocab"], load_tensor_bytes(data["weights"], "<bytes>"), Path("<bytes>"))
        return self


@registry.scorers("spacy-sparsecode.scorer.v1")
def make_sparsecode_scorer() -> Callable:
    """Scores: ``sparsecode_fit`` (1 - relative reconstruction loss), mean L0, dead-latent share."""
    return score_sparse_codes


def score_sparse_codes(examples: Iterable[Example], *, component: Optional[SparseCoder] = None, **kwargs: Any) -> Dict[str, float]:
    """Score the predicted codes of ``examples`` (and their reconstruction, given the component)."""
    docs = [eg.predicted for eg in examples]
    codes = [code for code in map(get_sparse_code, docs) if code is not None]
    scores: Dict[str, float] = {"sparsecode_l0": float(np.mean([c.nnz for c in codes])) if codes else 0.0}
    if codes:
        active = np.unique(np.concatenate([c.indices for c in codes]))
        scores["sparsecode_dead"] = 1.0 - active.size / codes[0].dim
    if component is not None:
        scores["sparsecode_fit"] = component.torch_model.reconstruction_fit(component.featurize(docs))
    return scores
