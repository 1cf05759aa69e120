"""``sparsecode train``: the fast path from a corpus to a spaCy pipeline folder.

Steps: refuse an output folder that is not ours; build the pipeline (``spacy.blank`` or a
``spacy train`` config) with the chosen model family; tokenise the corpus once into a cached
vocabulary + CSR matrix (``corpus_cache``); initialise the component from them; train with
``training.Trainer`` (checkpoints, ``resume``); write the pipeline to a staging folder and
swap it into place. Work files live next to the output in ``<OUTPUT_DIR>.cache/``.
"""

from __future__ import annotations

import inspect
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import catalogue
from spacy.language import Language
from spacy.util import load_config, load_model_from_config, registry

from ..pipeline.component import SparseCoder
from ..text.corpora import DEFAULT_MAX_CHARS
from .corpus_cache import CorpusCache, build_cache, cache_key, load_cache
from ..errors import Errors
from ..io import read_json, write_json_atomic
from ..progress import progress_bar
from ..models.trainer import LATEST, RESUMABLE_CHANGES, TrainConfig, Trainer

#: Key of ``meta.json`` that marks a pipeline folder written by ``sparsecode train``.
META_KEY = "sparsecode_train"
#: File that marks a cache folder as ours.
CACHE_MARKER = "sparsecode-cache.json"
#: File in the checkpoint folder of a run that finished (kept with --keep-checkpoints).
COMPLETE = "complete.json"
_PREFIX = "spacy-sparsecode."


class TrainingInterrupted(RuntimeError):
    """Ctrl-C during training; the message says where the last checkpoint is."""


def family_architectures() -> Dict[str, str]:
    """Model family name → registered architecture, from the ``spacy-sparsecode.*`` registry.

    Each architecture is built once with its defaults to read the family it makes; for a
    family with several versions the highest name wins. Generic architectures that take the
    family as an argument are left out.
    """
    try:
        names = list(registry.architectures.get_all())
    except Exception:  # a broken third-party entry point must not hide ours
        names = [key[2] for key in catalogue.REGISTRY if key[:2] == ("spacy", "architectures")]
    families: Dict[str, str] = {}
    for name in sorted(n for n in names if n.startswith(_PREFIX)):
        try:
            func = registry.architectures.get(name)
            if "family" in inspect.signature(func).parameters:
                continue
            family = func().attrs.get("family")
        except Exception:
            continue
        if family:
            families[family] = name
    return families


def _check_options(architecture: str, options: Dict[str, Any], family: str) -> None:
    params = inspect.signature(registry.architectures.get(architecture)).parameters
    for option in options:
        if option not in params:
            raise ValueError(Errors.E506.format(family=family, architecture=architecture, option=option,
                                                valid=", ".join(params)))


def model_block(base: Dict[str, Any], family: Optional[str], options: Dict[str, Any]) -> Dict[str, Any]:
    """The component's ``model`` block: ``base`` with ``options`` set, or ``family``'s architecture."""
    if family is not None:
        families = family_architectures()
        if family not in families:
            raise ValueError(Errors.E505.format(value=family, valid=", ".join(sorted(families))))
        _check_options(families[family], options, family)
        return {"@architectures": families[family], **options}
    architecture = base["@architectures"]
    _check_options(architecture, options, architecture)
    return {**base, **options}


def build_pipeline(config_path: Optional[Path], lang: str, family: Optional[str],
                   options: Dict[str, Any]) -> Tuple[Language, str]:
    """A pipeline with an uninitialised ``sparsecode`` component, and the component's name.

    config_path: a ``spacy train`` config (its [nlp] and [components] are used), or None
    for ``spacy.blank(lang)`` + ``sparsecode``. ``family``/``options`` set the model block.
    """
    from ..pipeline.component import DEFAULT_MODEL

    if config_path is None:
        config = {"nlp": {"lang": lang, "pipeline": ["sparsecode"]},
                  "components": {"sparsecode": {"factory": "sparsecode", "model": dict(DEFAULT_MODEL)}}}
        name = "sparsecode"
    else:
        config = load_config(config_path)
        names = [n for n, block in config.get("components", {}).items() if block.get("factory") == "sparsecode"]
        if not names:
            raise ValueError(Errors.E508.format(path=config_path))
        name = names[0]
    block = config["components"][name]
    block["model"] = model_block(dict(block.get("model", DEFAULT_MODEL)), family, options)
    from thinc.api import Config

    nlp = load_model_from_config(Config(config), auto_fill=True, validate=True)
    others = [n for n in nlp.pipe_names if n != name]
    if others:  # e.g. a lookup lemmatizer: load its tables; the sparsecode model stays untouched
        with nlp.select_pipes(enable=others):
            nlp.initialize()
    return nlp, name


def _owned_pipeline(path: Path) -> bool:
    meta = path / "meta.json"
    try:
        return meta.exists() and META_KEY in read_json(meta)
    except ValueError:
        return False


def check_output_dir(path: Path, overwrite: bool) -> None:
    """Refuse an existing ``path`` that is not an empty folder or a pipeline we wrote (E500)."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir() and (not any(path.iterdir()) or _owned_pipeline(path)):
        return
    if not overwrite:
        what = "a file" if not path.is_dir() else "a folder without a `sparsecode train` meta.json"
        raise FileExistsError(Errors.E500.format(path=path, what=what))


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


def write_pipeline(nlp: Language, output_dir: Path) -> None:
    """Write ``nlp`` to a staging folder next to ``output_dir``, then swap it into place.

    A kill at any point leaves either the old folder, or none, under ``output_dir`` (and the
    complete new one in ``.<name>.new``): never a half-written pipeline.
    """
    staging = output_dir.with_name(f".{output_dir.name}.new")
    old = output_dir.with_name(f".{output_dir.name}.old")
    for leftover in (staging, old):
        shutil.rmtree(leftover, ignore_errors=True)
    nlp.to_disk(staging)
    if output_dir.is_dir():
        output_dir.rename(old)
    elif output_dir.exists() or output_dir.is_symlink():
        output_dir.unlink()
    staging.rename(output_dir)
    shutil.rmtree(old, ignore_errors=True)


@dataclass
class TrainJob:
    """Everything ``sparsecode train`` was asked to do."""

    corpus: Any
    output_dir: Path
    train: TrainConfig
    family: Optional[str] = None
    model_options: Dict[str, Any] = field(default_factory=dict)
    config_path: Optional[Path] = None
    lang: str = "en"
    text_field: str = "text"
    on_error: str = "fail"
    max_chars: int = DEFAULT_MAX_CHARS
    n_process: int = 1
    chunk_size: int = 1000
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


def prepare_corpus(job: TrainJob, nlp: Language, name: str, on_chunk: Optional[Callable[[int], None]] = None) -> CorpusCache:
    """Reuse the cached vocabulary + matrix if the corpus and settings are unchanged, else build them."""
    component: SparseCoder = nlp.get_pipe(name)
    cache_dir = job.work_dir / "corpus"
    key = cache_key(job.corpus, job.text_field, _nlp_key(nlp, name), component.vocab_config, job.max_chars)
    cached = load_cache(cache_dir, key)
    if cached is not None:
        return cached
    if job.overwrite:
        shutil.rmtree(cache_dir / "shards", ignore_errors=True)
    return build_cache(cache_dir, key, source=job.corpus, text_field=job.text_field, on_error=job.on_error,
                       max_chars=job.max_chars, nlp_config=nlp.config.to_str(), nlp_bytes=nlp.to_bytes(exclude=[name]),
                       component_name=name, vocab_config=component.vocab_config, n_process=job.n_process,
                       chunk_size=job.chunk_size, resume=job.resume, on_chunk=on_chunk)


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


def train_corpus(job: TrainJob) -> Dict[str, Any]:
    """Run a ``TrainJob``; return a summary (docs, vocabulary, history, seconds, cache reuse)."""
    start = time.perf_counter()
    check_output_dir(job.output_dir, job.overwrite)
    _check_cache_dir(job.work_dir, job.overwrite)
    job.work_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(job.work_dir / CACHE_MARKER, {"output_dir": str(job.output_dir.resolve())})
    nlp, name = build_pipeline(job.config_path, job.lang, job.family, job.model_options)
    component: SparseCoder = nlp.get_pipe(name)
    with progress_bar(enabled=job.progress) as bar:
        task = bar.add_task("tokenising", total=None, info="")
        corpus = prepare_corpus(job, nlp, name, lambda n: bar.update(task, advance=n))
    tokenised = time.perf_counter()
    component.initialize_from(corpus.vocab, corpus.matrix)
    run = {"corpus": cache_key(job.corpus, job.text_field, _nlp_key(nlp, name), component.vocab_config, job.max_chars),
           "model": nlp.config["components"][name]["model"], "train": asdict(job.train)}
    run = json.loads(json.dumps(run, sort_keys=True, default=str))
    for volatile in (*RESUMABLE_CHANGES, "amp"):
        run["train"].pop(volatile)
    checkpoints = _checkpoint_dir(job, run)
    trainer = Trainer(component.torch_model, job.train, progress=job.progress)
    try:
        history = trainer.fit(corpus.matrix, checkpoint_dir=checkpoints, resume=job.resume, init_from_data=False)
    except KeyboardInterrupt:
        latest = Trainer._latest(checkpoints)
        raise TrainingInterrupted(Errors.E510.format(step=trainer.state.global_step,
                                                     checkpoint=latest or "none yet")) from None
    trainer.model.to(component.model.layers[0].shims[0].device)
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
