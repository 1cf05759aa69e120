"""``sparsecode train``: the fast path from a corpus to a spaCy pipeline folder.

Steps: refuse an output folder that is not ours; build the pipeline (``spacy.blank`` or a
``spacy train`` config) with the chosen model family; tokenise the corpus once into a cached
vocabulary + CSR matrix (``corpus_cache``); initialise the component from them; train with
``models.trainer.Trainer`` (checkpoints, ``resume``); write the pipeline to a staging folder and
swap it into place. Work files live next to the output in ``<OUTPUT_DIR>.cache/``.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import scipy.sparse as sp
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from ..errors import Errors
from ..io import read_json, write_json_atomic
from ..models.trainer import LATEST, RESUMABLE_CHANGES, TrainConfig, Trainer
from ..pipeline.architectures import get_device
from ..pipeline.component import SparseCoder
from ..progress import progress_bar
from .chunks import CorpusOptions
from .corpus_cache import CorpusCache, TokenizerSpec, build_cache, cache_key, load_cache
from .pipelines import META_KEY, build_pipeline, check_output_dir, write_pipeline

#: File that marks a cache folder as ours.
CACHE_MARKER = "sparsecode-cache.json"
#: File in the checkpoint folder of a run that finished (kept with --keep-checkpoints).
COMPLETE = "complete.json"


class TrainingInterrupted(RuntimeError):
    """Ctrl-C during training; the message says where the last checkpoint is."""


def _check_cache_dir(path: Path, overwrite: bool) -> None:
    if path.exists() and not (path / CACHE_MARKER).exists():
        if path.is_dir() and not any(path.iterdir()):
            return
        if not overwrite:
            raise FileExistsError(Errors.E500.format(path=path, what="not a sparsecode cache folder"))
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


@dataclass
class TrainJob:
    """Everything ``sparsecode train`` was asked to do."""

    corpus: Any
    output_dir: Path
    train: TrainConfig
    reading: CorpusOptions = field(default_factory=CorpusOptions)
    family: Optional[str] = None
    model_options: Dict[str, Any] = field(default_factory=dict)
    config_path: Optional[Path] = None
    lang: str = "en"
    resume: bool = False
    overwrite: bool = False
    keep_checkpoints: bool = False
    cache_dir: Optional[Path] = None
    progress: bool = True

    @property
    def work_dir(self) -> Path:
        return self.cache_dir or self.output_dir.with_name(f"{self.output_dir.name}.cache")


def _nlp_key(nlp: Language, name: str) -> Dict[str, Any]:
    """The parts of the pipeline config that decide how texts are tokenised (not the model)."""
    config = nlp.config
    return json.loads(json.dumps({"nlp": config["nlp"], "components": {n: config["components"][n]
                                  for n in nlp.pipe_names if n != name}}, sort_keys=True, default=str))


def prepare_corpus(job: TrainJob, key: Dict[str, Any], spec: TokenizerSpec,
                   on_chunk: Optional[Callable[[int], None]] = None) -> CorpusCache:
    """Reuse the cached vocabulary + matrix if their ``key`` is unchanged, else tokenise with ``spec``."""
    cache_dir = job.work_dir / "corpus"
    cached = load_cache(cache_dir, key)
    if cached is not None:
        return cached
    if job.overwrite:
        shutil.rmtree(cache_dir / "shards", ignore_errors=True)
    return build_cache(cache_dir, key, job.corpus, job.reading, spec, resume=job.resume, on_chunk=on_chunk)


def _checkpoint_dir(job: TrainJob, run: Dict[str, Any]) -> Path:
    """The checkpoint folder, checked against this run (E503 without --resume, E504 if it differs)."""
    directory = job.work_dir / "checkpoints"
    if (directory / LATEST).exists():
        if job.overwrite or ((directory / COMPLETE).exists() and not job.resume):
            shutil.rmtree(directory)
        elif not job.resume:
            raise FileExistsError(Errors.E503.format(what="a training checkpoint", path=directory))
        elif (directory / "run.json").exists() and read_json(directory / "run.json") != run:
            previous = read_json(directory / "run.json")
            fields = sorted(k for k in set(previous) | set(run) if previous.get(k) != run.get(k))
            raise ValueError(Errors.E504.format(path=directory, fields=", ".join(fields)))
    if not (directory / LATEST).exists():
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        write_json_atomic(directory / "run.json", run)
    return directory


def train_component(component: SparseCoder, matrix: sp.csr_matrix, config: TrainConfig, *,
                    checkpoint_dir: Optional[Path] = None, resume: bool = False, progress: bool = True) -> List[Dict[str, float]]:
    """Train an initialised component's model over the count rows ``matrix`` with the fast trainer
    (checkpoints in ``checkpoint_dir``; ``resume`` continues from the latest). Ctrl-C raises
    ``TrainingInterrupted`` naming the last checkpoint. RETURNS the per-epoch statistics."""
    trainer = Trainer(component.torch_model, config, progress=progress)
    try:
        return trainer.fit(matrix, checkpoint_dir=checkpoint_dir, resume=resume, init_from_data=False)
    except KeyboardInterrupt:
        latest = Trainer.latest(checkpoint_dir) if checkpoint_dir is not None else None
        raise TrainingInterrupted(Errors.E510.format(step=trainer.state.global_step, checkpoint=latest or "none yet")) from None
    finally:
        component.torch_model.to(get_device(component.model))


def fit_component(component: SparseCoder, docs: Sequence[Doc], config: Optional[TrainConfig] = None, *,
                  progress: bool = True) -> List[Dict[str, float]]:
    """The fast path for tokenised Docs in memory: build the component's vocabulary from ``docs``,
    initialise its model, then train it (``train_component``). RETURNS the per-epoch statistics."""
    component.initialize(lambda: (Example(doc, doc) for doc in docs))
    return train_component(component, component.featurize(docs), config or TrainConfig(), progress=progress)


def train_corpus(job: TrainJob) -> Dict[str, Any]:
    """Run a ``TrainJob``; return a summary (docs, vocabulary, history, seconds, cache reuse)."""
    start = time.perf_counter()
    check_output_dir(job.output_dir, job.overwrite)
    _check_cache_dir(job.work_dir, job.overwrite)
    nlp, name = build_pipeline(job.config_path, job.lang, job.family, job.model_options)
    component: SparseCoder = nlp.get_pipe(name)
    key = cache_key(job.corpus, job.reading, _nlp_key(nlp, name), component.vocab_config)  # a bad corpus fails here
    job.work_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(job.work_dir / CACHE_MARKER, {"output_dir": str(job.output_dir.resolve())})
    with progress_bar(enabled=job.progress) as bar:
        task = bar.add_task("tokenising", total=None, info="")
        corpus = prepare_corpus(job, key, TokenizerSpec.of(nlp, name), lambda n: bar.update(task, advance=n))
    tokenised = time.perf_counter()
    component.initialize_from(corpus.vocab, corpus.matrix)
    run = {"corpus": key, "model": nlp.config["components"][name]["model"], "train": asdict(job.train)}
    run = json.loads(json.dumps(run, sort_keys=True, default=str))
    for volatile in (*RESUMABLE_CHANGES, "amp"):
        run["train"].pop(volatile)
    checkpoints = _checkpoint_dir(job, run)
    history = train_component(component, corpus.matrix, job.train, checkpoint_dir=checkpoints, resume=job.resume,
                              progress=job.progress)
    trained = time.perf_counter()
    summary = {
        "corpus": str(job.corpus), "n_docs": int(corpus.matrix.shape[0]), "n_skipped": corpus.n_skipped,
        "skipped": corpus.skipped, "n_vocab": len(corpus.vocab), "cache_reused": corpus.reused,
        "model": nlp.config["components"][name]["model"], "train": asdict(job.train),
        "tokenise_seconds": tokenised - start, "train_seconds": trained - tokenised, "history": history,
    }
    nlp.meta[META_KEY] = json.loads(json.dumps({k: v for k, v in summary.items() if k != "skipped"}, default=str))
    write_pipeline(nlp, job.output_dir)
    if job.keep_checkpoints:  # kept for --resume (e.g. with more epochs); a plain rerun starts afresh
        write_json_atomic(checkpoints / COMPLETE, {"output_dir": str(job.output_dir)})
    else:
        shutil.rmtree(checkpoints, ignore_errors=True)
    summary["seconds"] = time.perf_counter() - start
    return summary
