"""The ``sparsecode`` pipeline component: Doc -> bag of words -> sparse code.

Reads like spaCy's textcat: the default model config at the top, the factory, then a
``TrainablePipe`` with the standard verbs. Weights are written by ``to_disk`` as
safetensors next to JSON settings and the vocabulary; nothing is pickled.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse as sp
import srsly
import torch
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer

from .architectures import get_torch_model
from ..codes import SparseCodes
from ..errors import Errors
from .extensions import CODE_KEY, MODEL_KEY, SPANS_KEY, SUMMARY_KEY, install_extensions, register_component
from ..text.featurize import docs_to_csr
from ..io import FORMAT_VERSION, check_format_version, load_tensors, read_json, save_tensors, write_json_atomic
from ..metrics import top_words
from ..models import DATA_SAMPLE_ROWS, CsrBatch, upgrade_saved
from ..models.trainer import TrainConfig, Trainer
from ..text.vocab import BagOfWordsVocab, VocabConfig

default_model_config = """
[model]
@architectures = "spacy-sparsecode.TopKSAE.v1"
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
    scorer: Optional[Callable],
) -> "SparseCoder":
    """Create a ``sparsecode`` component: vocabulary settings + a sparse code model."""
    vocab_config = VocabConfig(attr=attr, min_df=min_df, max_df=max_df, max_size=max_size, drop_stop=drop_stop,
                               drop_punct=drop_punct, drop_num=drop_num, min_length=min_length,
                               alpha_only=alpha_only)
    return SparseCoder(nlp.vocab, model, name, vocab_config=vocab_config, scorer=scorer)


class SparseCoder(TrainablePipe):
    """Encode each Doc's bag of words into a sparse code (``Doc._.sparse_code``)."""

    def __init__(self, vocab: Vocab, model: Model, name: str = "sparsecode", *,
                 vocab_config: VocabConfig = VocabConfig(), scorer: Optional[Callable] = None) -> None:
        install_extensions()
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.vocab_config = vocab_config
        self.bow_vocab: Optional[BagOfWordsVocab] = None
        self.cfg: Dict[str, Any] = {}

    # --- state ----------------------------------------------------------------------
    @property
    def is_initialized(self) -> bool:
        return self.bow_vocab is not None and bool(self.model.layers)

    @property
    def torch_model(self):
        """The trained torch ``CodeModel`` (raises a clear error before initialize)."""
        self._require_initialized()
        return get_torch_model(self.model)

    def _require_initialized(self) -> None:
        if not self.is_initialized:
            raise ValueError(Errors.E010.format(name=self.name))

    def featurize(self, docs: Iterable[Doc]) -> sp.csr_matrix:
        """Docs -> CSR matrix of counts over the component's vocabulary."""
        self._require_initialized()
        return docs_to_csr(docs, self.bow_vocab)

    # --- standard verbs -------------------------------------------------------------
    def fit(self, docs: Sequence[Doc], config: Optional[TrainConfig] = None, *, checkpoint_dir: Optional[Path] = None,
            resume: bool = False, progress: bool = True) -> List[Dict[str, float]]:
        """Fast path: build the vocabulary and train the model directly over CSR minibatches.

        docs (Sequence[Doc]): tokenised training documents.
        config (TrainConfig): optimisation settings (defaults when None).
        checkpoint_dir (Path): where checkpoints go; ``resume`` continues from the latest.
        RETURNS (List[Dict[str, float]]): per-epoch training statistics.
        """
        self.initialize(lambda: (Example(doc, doc) for doc in docs))
        trainer = Trainer(self.torch_model, config or TrainConfig(), progress=progress)
        history = trainer.fit(self.featurize(docs), checkpoint_dir=checkpoint_dir, resume=resume, init_from_data=False)
        trainer.model.to(self.model.layers[0].shims[0].device)
        return history

    def initialize_from(self, bow_vocab: BagOfWordsVocab, sample: sp.csr_matrix) -> None:
        """Initialise from a prebuilt vocabulary and the count rows of the first training docs.

        What ``initialize`` does once the vocabulary and the featurised sample exist; used by
        ``sparsecode train``, which tokenises the corpus once and caches both.
        bow_vocab (BagOfWordsVocab): the vocabulary (its config becomes the component's).
        sample (csr_matrix): counts over ``bow_vocab`` of the first ``DATA_SAMPLE_ROWS`` docs.
        """
        if len(bow_vocab) == 0:
            raise ValueError(Errors.E011.format(name=self.name, min_df=bow_vocab.config.min_df))
        self.vocab_config = bow_vocab.config
        self.bow_vocab = bow_vocab
        self._build_model()
        sample = sp.csr_matrix(sample[:DATA_SAMPLE_ROWS], dtype=np.float32)
        sample = sample[np.diff(sample.indptr) > 0]
        if sample.shape[0] == 0:
            raise ValueError(Errors.E011.format(name=self.name, min_df=self.vocab_config.min_df))
        self.torch_model.init_from_data(CsrBatch.from_csr(sample, self.torch_model.device))

    @torch.no_grad()
    def reconstruction_fit_csr(self, X: sp.csr_matrix, batch_size: int = 1024) -> float:
        """``reconstruction_fit`` of a count matrix, in batches (bounded memory); see ``CodeModel.fit_terms``."""
        self._require_initialized()
        X = sp.csr_matrix(X, dtype=np.float32)
        X = X[np.diff(X.indptr) > 0]
        if X.shape[0] == 0:
            return 0.0
        model = self.torch_model
        loss = baseline = 0.0
        for start in range(0, X.shape[0], batch_size):
            batch_loss, batch_baseline = model.fit_terms(CsrBatch.from_csr(X[start : start + batch_size], model.device))
            loss, baseline = loss + batch_loss, baseline + batch_baseline
        return 1.0 - loss / max(baseline, 1e-12)

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None) -> None:
        """Build the vocabulary from the training docs, size the model, initialise it from data.

        get_examples (Callable[[], Iterable[Example]]): the training corpus (read twice).
        nlp (Language): the current pipeline.
        """
        self.bow_vocab = BagOfWordsVocab.build((eg.reference for eg in get_examples()), self.vocab_config)
        if len(self.bow_vocab) == 0:
            raise ValueError(Errors.E011.format(name=self.name, min_df=self.vocab_config.min_df))
        self._build_model()
        sample = self.featurize(eg.reference for eg in islice(get_examples(), DATA_SAMPLE_ROWS))
        sample = sample[np.diff(sample.indptr) > 0]
        if sample.shape[0] == 0:
            raise ValueError(Errors.E011.format(name=self.name, min_df=self.vocab_config.min_df))
        self.torch_model.init_from_data(CsrBatch.from_csr(sample, self.torch_model.device))

    def _build_model(self) -> None:
        self.model.set_dim("nV", len(self.bow_vocab), force=True)
        self.model.attrs["idf"] = self.bow_vocab.idf()
        self.model.initialize()

    def predict(self, docs: Iterable[Doc]) -> SparseCodes:
        """Encode a batch of Docs.

        docs (Iterable[Doc]): the documents.
        RETURNS (SparseCodes): one code per Doc.
        """
        X = self.featurize(docs)
        if X.shape[0] == 0:
            return SparseCodes(sp.csr_matrix((0, self.torch_model.config.n_latents), dtype=np.float32))
        return self.model.predict(X)

    def set_annotations(self, docs: Sequence[Doc], codes: SparseCodes) -> None:
        """Store each Doc's code in ``doc.user_data`` (read via ``Doc._.sparse_code``).

        docs (Sequence[Doc]): the documents.
        codes (SparseCodes): the output of ``predict``.
        """
        fingerprint = self.fingerprint()
        register_component(fingerprint, self)
        for doc, code in zip(docs, codes):
            doc.user_data[CODE_KEY] = code.to_user_data()
            doc.user_data[MODEL_KEY] = fingerprint
            doc.user_data.pop(SUMMARY_KEY, None)
            doc.user_data.pop(SPANS_KEY, None)

    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd: Optional[Optimizer] = None,
               losses: Optional[Dict[str, float]] = None) -> Dict[str, float]:
        """One training step on a batch: minimise the reconstruction + sparsity loss.

        examples (Iterable[Example]): the batch (only ``eg.predicted`` is read).
        drop (float): unused (the families have their own noise options).
        sgd (Optimizer): the optimizer.
        losses (Dict[str, float]): accumulated losses, updated in place.
        RETURNS (Dict[str, float]): the losses.
        """
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
        """Mean loss of the batch and its gradient w.r.t. the per-document losses.

        examples (Iterable[Example]): the batch.
        per_doc_loss: the model's per-document losses.
        RETURNS (Tuple[float, array]): the loss and d(loss)/d(per_doc_loss).
        """
        n = per_doc_loss.shape[0]
        return float(per_doc_loss.mean()), self.model.ops.alloc1f(n) + 1.0 / n

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the optimizer, then the model's constraints (non-negative unit-norm decoder)."""
        self.model.finish_update(sgd)
        self.torch_model.post_step()

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, float]:
        """Score with the registered scorer, giving it this component for reconstruction."""
        return {} if self.scorer is None else self.scorer(examples, component=self, **kwargs)

    def add_label(self, label: str) -> int:
        raise NotImplementedError(f"The '{self.name}' component is unsupervised and takes no labels.")

    # --- what the codes mean ----------------------------------------------------------
    def topic_words(self, top_n: int = 10) -> List[List[str]]:
        """The ``top_n`` words of each latent, by decoder weight."""
        weights = self.torch_model.topic_word_weights().float().cpu().numpy()
        return [[self.bow_vocab.strings[j] for j in row] for row in top_words(weights, top_n)]

    def denoise(self, docs: Iterable[Doc], top_n: int = 10, *, only_new: bool = True) -> List[List[str]]:
        """Reconstruct each Doc's clean bag of words from its code and list the top words.

        docs (Iterable[Doc]): the (partial, noisy) documents.
        top_n (int): how many words per Doc.
        only_new (bool): skip words the Doc already contains, listing only restored words.
        RETURNS (List[List[str]]): the ``top_n`` best words per Doc (none for a Doc without
            in-vocabulary words).
        """
        ids, _ = self.torch_model.denoise(self.featurize(docs), top_n=top_n, only_new=only_new)
        return [[self.bow_vocab.strings[j] for j in row if j >= 0] for row in ids]

    def reconstruction_fit(self, docs: Iterable[Doc]) -> float:
        """1 - the model's loss on ``docs`` relative to an empty code (higher is better)."""
        return self.reconstruction_fit_csr(self.featurize(docs))

    # --- tasks: compression, topics, summarization (spacy_sparsecode.tasks) -------------
    def fingerprint(self) -> str:
        """Hex fingerprint of the model (family, vocabulary, weights); cached until weights change."""
        from ..tasks.compress import model_fingerprint

        self._require_initialized()
        model = self.torch_model
        # state_dict() makes new tensor objects on every call: key on the live tensors' versions
        key = (id(self.bow_vocab), id(model), tuple(t._version for t in (*model.parameters(), *model.buffers())))
        cache = self.__dict__.setdefault("_task_cache", {})
        if cache.get("fingerprint_key") != key:
            cache.clear()
            cache["fingerprint_key"] = key
            cache["fingerprint"] = model_fingerprint(model.weight_tensors(), self.bow_vocab.strings,
                                                     self.model.attrs["family"]).hex()
        return cache["fingerprint"]

    def latent_labels(self, n_words: int = 3) -> List[str]:
        """One label per latent: its top ``n_words`` words (cached per model fingerprint)."""
        from ..tasks.topics import latent_labels

        self.fingerprint()  # refreshes the cache when the weights changed
        cache = self.__dict__["_task_cache"]
        if ("labels", n_words) not in cache:
            cache[("labels", n_words)] = latent_labels(self.torch_model, self.bow_vocab.strings, n_words)
        return cache[("labels", n_words)]

    def _codes_of(self, docs: Sequence[Doc]) -> SparseCodes:
        """Stored codes of processed Docs (encoded now for Docs without one)."""
        from .extensions import get_sparse_code

        stored = [get_sparse_code(doc) for doc in docs]
        if all(c is not None for c in stored):
            rows = [sp.csr_matrix((c.values, c.indices, [0, c.nnz]), shape=(1, c.dim)) for c in stored]
            return SparseCodes(sp.vstack(rows, format="csr") if rows else sp.csr_matrix((0, self.torch_model.config.n_latents)))
        return self.predict(docs)

    def keywords(self, doc: Doc, top_n: int = 10) -> List[Tuple[str, float]]:
        """The Doc's ``top_n`` words reconstructed from its code, with scores (query expansion)."""
        from ..tasks.topics import decoded_keywords

        return decoded_keywords(self.torch_model, self._codes_of([doc]), self.bow_vocab.strings, top_n)[0]

    def encode_spans(self, spans: Sequence[Any]) -> SparseCodes:
        """Codes of Spans (e.g. sentences) from their own bags; cached in their Docs' user_data."""
        spans = list(spans)
        if not spans:
            return SparseCodes(sp.csr_matrix((0, self.torch_model.config.n_latents), dtype=np.float32))
        codes = self.torch_model.encode(self.featurize(span.as_doc() for span in spans))
        for span, code in zip(spans, codes):
            span.doc.user_data.setdefault(SPANS_KEY, {})[f"{span.start}:{span.end}"] = code.to_user_data()
        return codes

    def summarize(self, doc: Doc, sentences: Optional[int] = None, ratio: Optional[float] = None,
                  coverage: float = 0.25, redundancy: float = 0.1) -> List[Any]:
        """Extractive summary: the sentences whose combined code best covers the Doc's code.

        doc (Doc): the document; sentences come from the pipeline (parser/senter/sentencizer),
            else spaCy's rule-based sentencizer is applied (with a warning).
        sentences (int) / ratio (float): the length budget (default 3 sentences).
        coverage (float): weight of the document-code coverage gain.
        redundancy (float): weight of the MMR-style redundancy penalty (code space).
        RETURNS (List[Span]): the chosen sentences in document order (stored for ``Doc._.summary``).
        """
        from ..tasks.summarize import budget, select_sentences, sentence_spans

        budget(1, sentences, ratio)  # validate the arguments even for an empty Doc
        sents = sentence_spans(doc)
        n_select = budget(len(sents), sentences, ratio)
        chosen = [] if n_select == 0 else select_sentences(
            self.torch_model, self.featurize(sents), n_select, coverage, redundancy)
        doc.user_data[SUMMARY_KEY] = [[sents[i].start, sents[i].end] for i in chosen]
        return [sents[i] for i in chosen]

    def compress(self, docs: Iterable[Doc], values: str = "fp16") -> bytes:
        """Pack the Docs' codes into bytes stamped with this model's fingerprint."""
        from ..tasks.compress import pack

        return pack(self._codes_of(list(docs)), bytes.fromhex(self.fingerprint()), values)

    def decompress(self, blob: bytes) -> SparseCodes:
        """Codes from ``compress`` bytes; bytes from another model or truncated ones are refused."""
        from ..tasks.compress import unpack

        return unpack(blob, bytes.fromhex(self.fingerprint()))

    def decoded_keywords(self, codes: SparseCodes, top_n: int = 10) -> List[List[Tuple[str, float]]]:
        """Each code's ``top_n`` reconstructed words (e.g. of decompressed codes)."""
        from ..tasks.topics import decoded_keywords

        return decoded_keywords(self.torch_model, codes, self.bow_vocab.strings, top_n)

    # --- serialization ------------------------------------------------------------------
    def _settings(self) -> Dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "family": self.model.attrs["family"], "model": self.model.attrs["config"],
                "vocab_config": self.vocab_config.__dict__ | {}, "n_vocab": len(self.bow_vocab)}

    def to_disk(self, path: Path, *, exclude: Iterable[str] = tuple()) -> None:
        """Write ``cfg.json``, ``vocab.json`` and ``model.safetensors`` (each atomically)."""
        self._require_initialized()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path / "vocab.json", self.bow_vocab.to_dict())
        save_tensors(path / "model.safetensors", self.torch_model.weight_tensors())
        write_json_atomic(path / "cfg.json", self._settings())

    def from_disk(self, path: Path, *, exclude: Iterable[str] = tuple()) -> "SparseCoder":
        """Load what ``to_disk`` wrote; missing, truncated or newer files fail naming the file."""
        path = Path(path)
        settings = read_json(path / "cfg.json")
        check_format_version(settings, path / "cfg.json")
        self.vocab_config = VocabConfig(**settings["vocab_config"])
        self.bow_vocab = BagOfWordsVocab.from_dict(read_json(path / "vocab.json"))
        if len(self.bow_vocab) != settings["n_vocab"]:
            raise ValueError(Errors.E023.format(path=path / "vocab.json", reason="vocabulary size differs from cfg.json"))
        config, tensors = upgrade_saved(settings["family"], settings["model"], load_tensors(path / "model.safetensors"),
                                        settings["format_version"])
        self.model.attrs["family"], self.model.attrs["config"] = settings["family"], config
        self._build_model()
        try:
            self.torch_model.load_state_dict({k: v.to(self.torch_model.device) for k, v in tensors.items()})
        except RuntimeError as err:
            raise ValueError(Errors.E023.format(path=path / "model.safetensors", reason=err)) from err
        return self

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        """Serialise to bytes (msgpack of JSON-safe settings + safetensors bytes; no pickle)."""
        from safetensors.torch import save
        self._require_initialized()
        return srsly.msgpack_dumps({"cfg": self._settings(), "vocab": self.bow_vocab.to_dict(),
                                    "weights": save({k: v.cpu().contiguous() for k, v in self.torch_model.weight_tensors().items()})})

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "SparseCoder":
        """Inverse of ``to_bytes``."""
        from safetensors.torch import load
        data = srsly.msgpack_loads(bytes_data)
        check_format_version(data["cfg"], "<bytes>")
        settings = data["cfg"]
        config, tensors = upgrade_saved(settings["family"], settings["model"], load(data["weights"]), settings["format_version"])
        self.model.attrs["family"], self.model.attrs["config"] = settings["family"], config
        self.vocab_config = VocabConfig(**settings["vocab_config"])
        self.bow_vocab = BagOfWordsVocab.from_dict(data["vocab"])
        self._build_model()
        self.torch_model.load_state_dict({k: v.to(self.torch_model.device) for k, v in tensors.items()})
        return self


@registry.scorers("spacy-sparsecode.scorer.v1")
def make_sparsecode_scorer() -> Callable:
    """Scores: ``sparsecode_fit`` (1 - relative reconstruction loss), mean L0, dead-latent share."""
    return score_sparse_codes


def score_sparse_codes(examples: Iterable[Example], *, component: Optional[SparseCoder] = None, **kwargs: Any) -> Dict[str, float]:
    """Score the predicted codes of ``examples`` (and their reconstruction, given the component)."""
    docs = [eg.predicted for eg in examples]
    codes = [doc._.sparse_code for doc in docs]
    codes = [c for c in codes if c is not None]
    scores: Dict[str, float] = {"sparsecode_l0": float(np.mean([c.nnz for c in codes])) if codes else 0.0}
    if codes:
        active = np.unique(np.concatenate([c.indices for c in codes]))
        scores["sparsecode_dead"] = 1.0 - active.size / codes[0].dim
    if component is not None:
        scores["sparsecode_fit"] = component.reconstruction_fit(docs)
    return scores
