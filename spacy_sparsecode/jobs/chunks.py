"""Stream a corpus through worker processes in ordered chunks, resumably.

``map_chunks`` spreads chunks over this process and ``n_process - 1`` worker processes
(each set up once by a ``setup`` function) and yields the results in input order, with a
bounded number of chunks pending, so memory does not grow with the corpus. ``ChunkLog``
records the finished chunks of a job (one fsync'd JSON line each, under a signature of the
job's settings), so an interrupted job resumes by skipping them. ``train`` (tokenising),
``encode`` and ``evaluate`` are built on these.

``CorpusOptions`` is how every corpus job reads and chunks its corpus (the commands' shared
corpus options): ``train``, ``encode``, ``evaluate``, ``report`` and the task commands.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import (TYPE_CHECKING, Any, Callable, ContextManager, Deque, Dict, Iterable, Iterator, List, Literal,
                    Optional, Tuple, TypeVar, Union)

from ..errors import POSITIVE_INT, Errors, check_settings, setting
from ..io import FORMAT_VERSION, read_json, write_json_atomic
from ..text.corpora import DEFAULT_MAX_CHARS, CorpusError, CorpusReader, corpus_fingerprint

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

T = TypeVar("T")
JOB_FILE = "job.json"
PROGRESS_FILE = "progress.jsonl"


def chunked(items: Iterable[T], size: int) -> Iterator[Tuple[int, List[T]]]:
    """``(chunk index, list of up to size items)`` over ``items``, in order."""
    chunk: List[T] = []
    index = 0
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield index, chunk
            chunk, index = [], index + 1
    if chunk:
        yield index, chunk


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)  # the parent was killed: do not linger


def _init_worker(parent: int, setup: Callable[[], None]) -> None:
    # Workers leave Ctrl-C to the parent (which stops cleanly), exit if it dies, and use one
    # thread each: the processes themselves are the parallelism.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    import torch

    torch.set_num_threads(1)
    setup()


def map_chunks(
    items: Iterable[Tuple[int, Any, Any]],
    work: Callable[[Any], Any],
    *,
    n_process: int,
    setup: Callable[[], None],
) -> Iterator[Tuple[int, Any, Any]]:
    """Run ``work(payload)`` for each ``(index, meta, payload)``; yield ``(index, meta, result)`` in order.

    This process works too: ``n_process - 1`` worker processes (started with "spawn", so no
    torch or OpenMP state is forked) each keep two chunks queued, and this process runs
    ``work`` on the next chunk itself whenever their queues are full. ``work`` must be a
    module-level function and ``setup`` one too, or a ``functools.partial`` of one (it is
    pickled to the workers); ``setup()`` runs once per process.
    At most ``4 * n_process`` chunks are pending. ``meta`` stays in this process. If reading
    ``items`` raises, the chunks already started are finished and yielded, then the error
    is raised: no finished work is lost.
    """
    setup()
    if n_process <= 1:
        for index, meta, payload in items:
            yield index, meta, work(payload)
        return
    n_workers = n_process - 1
    pending: Deque[Tuple[int, Any, Any]] = deque()  # (index, meta, Future or result), in order
    source = iter(items)
    error: Optional[BaseException] = None
    executor = ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(os.getpid(), setup))
    try:
        while True:
            while pending and not (isinstance(pending[0][2], Future) and not pending[0][2].done()):
                index, meta, result = pending.popleft()
                yield index, meta, result.result() if isinstance(result, Future) else result
            if error is None and len(pending) < 4 * n_process:
                try:
                    index, meta, payload = next(source)
                except StopIteration:
                    error = StopIteration()
                except Exception as err:  # a bad record: finish what is pending, then raise
                    error = err
                else:
                    queued = sum(isinstance(entry[2], Future) and not entry[2].done() for entry in pending)
                    task = executor.submit(work, payload) if queued < 2 * n_workers else work(payload)
                    pending.append((index, meta, task))
                continue
            if not pending:
                break
            index, meta, future = pending.popleft()  # full, or nothing left to read: wait
            yield index, meta, future.result()
        if not isinstance(error, StopIteration) and error is not None:
            raise error
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


class ChunkLog:
    """The finished chunks of a resumable job, kept in ``directory`` with the job's signature.

    directory (Path): the job's working folder (part files live there too).
    signature (dict): JSON-safe settings that must match for a resume to be valid.
    resume (bool): continue an existing job; without it an existing job is an error (E503).
    what (str): how messages name the job's leftovers (e.g. "partial output").
    """

    def __init__(self, directory: Path, signature: Dict[str, Any], resume: bool, what: str = "partial output") -> None:
        self.directory = Path(directory)
        self.signature = {"format_version": FORMAT_VERSION, **signature}
        self.done: Dict[int, Dict[str, Any]] = {}
        job = self.directory / JOB_FILE
        if job.exists():
            if not resume:
                raise FileExistsError(Errors.E503.format(what=what, path=self.directory))
            previous = read_json(job)
            if previous != self.signature:
                fields = sorted(k for k in set(previous) | set(self.signature) if previous.get(k) != self.signature.get(k))
                raise ValueError(Errors.E504.format(path=self.directory, fields=", ".join(fields)))
            self.done = self._read_progress()
        else:
            if self.directory.exists():
                shutil.rmtree(self.directory)
            self.directory.mkdir(parents=True)
            write_json_atomic(job, self.signature)
        self._progress = open(self.directory / PROGRESS_FILE, "a", encoding="utf8")

    def _read_progress(self) -> Dict[int, Dict[str, Any]]:
        done: Dict[int, Dict[str, Any]] = {}
        path = self.directory / PROGRESS_FILE
        if not path.exists():
            return done
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        for raw in lines:
            try:
                entry = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                break  # a line torn by a kill: that chunk is redone
            done[int(entry["chunk"])] = entry
        # Rewrite without a torn tail, so new lines start on a fresh line.
        with open(path, "w", encoding="utf8") as f:
            f.writelines(json.dumps(entry, sort_keys=True) + "\n" for entry in done.values())
        return done

    def commit(self, index: int, info: Dict[str, Any]) -> None:
        """Record chunk ``index`` as finished (its files must be complete before this)."""
        entry = {"chunk": index, **info}
        self._progress.write(json.dumps(entry, sort_keys=True) + "\n")
        self._progress.flush()
        os.fsync(self._progress.fileno())
        self.done[index] = entry

    def ordered(self) -> List[Dict[str, Any]]:
        """The finished chunks' entries in chunk order."""
        return [self.done[i] for i in sorted(self.done)]

    def close(self) -> None:
        self._progress.close()

    @contextlib.contextmanager
    def running(self) -> Iterator["ChunkLog"]:
        """Run the job's chunks; on failure keep finished chunks for ``--resume`` or leave nothing.

        A bad record (``CorpusError``) after some chunks finished is re-raised as E509, which
        says how many documents are kept and where; with no finished chunk the job folder is
        removed. The progress log is closed either way.
        """
        try:
            yield self
        except CorpusError as err:
            if not self.done:  # nothing worth resuming: leave no job behind
                self.remove()
                raise
            n_done = sum(entry["n_docs"] for entry in self.done.values())
            raise CorpusError(Errors.E509.format(message=err, n_docs=n_done, path=self.directory)) from err
        except BaseException:
            if not self.done:
                self.remove()
            raise
        finally:
            self.close()

    def remove(self) -> None:
        """Delete the job folder (after its output has been written)."""
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)


#: Documents a process tokenises before it frees each chunk's new words (spaCy memory zones).
WARM_DOCS = 10_000


def chunk_memory_zone(nlp: Any, state: Dict[str, Any], n_docs: int) -> ContextManager[Any]:
    """No zone for a process' first ``WARM_DOCS`` documents, then ``nlp.memory_zone()``.

    The words of the first documents (the frequent ones) stay in the vocabulary and the
    tokenizer's cache, which keeps tokenising fast; the new words of later chunks are freed
    after each chunk, so memory does not grow with the corpus' vocabulary. Nothing made in
    the zone (Docs, strings) may outlive it.
    """
    seen = state.get("seen_docs", 0)
    state["seen_docs"] = seen + n_docs
    return contextlib.nullcontext() if seen < WARM_DOCS else nlp.memory_zone()


@dataclass(frozen=True)
class CorpusOptions:
    """How a job reads its corpus: the options every corpus-reading command shares.

    text_field (str): the field holding the text (.jsonl/.json/.csv/.parquet).
    limit (int | None): read at most this many documents; None reads all.
    on_error (str): "fail" stops at the first bad record, naming file and line; "skip" counts it.
    max_chars (int): longer documents are bad records (spaCy's ``nlp.max_length``).
    n_process (int): processes for tokenising (``encode`` and ``evaluate``: and encoding).
    chunk_size (int): documents per chunk, the unit of work (and of resuming: train, encode).
    """

    text_field: str = "text"
    limit: Optional[int] = None
    on_error: Literal["fail", "skip"] = "fail"
    max_chars: int = DEFAULT_MAX_CHARS
    n_process: int = setting(1, POSITIVE_INT)
    chunk_size: int = setting(1000, POSITIVE_INT)

    def __post_init__(self) -> None:
        check_settings(self)

    def read(self, source: Union[str, Path], label_field: Optional[str] = "label") -> CorpusReader:
        """The records of ``source`` (a wrong path fails here, before any work: E202)."""
        return CorpusReader(source, text_field=self.text_field, label_field=label_field, on_error=self.on_error,
                            limit=self.limit, max_chars=self.max_chars)

    def reading_key(self, source: Union[str, Path]) -> Dict[str, Any]:
        """What decides which documents are read: the corpus' content and the reading settings
        (a part of a job's signature or a cache's key)."""
        return {"corpus": corpus_fingerprint(source), "text_field": self.text_field, "limit": self.limit,
                "max_chars": self.max_chars}

    def tokenise(self, nlp: "Language", texts: Iterable[str], skip: str) -> Iterator["Doc"]:
        """``nlp.pipe`` without the ``skip`` component, over ``n_process`` processes in chunks.

        The skipped (``sparsecode``) component runs in this process, if at all: spaCy forks its
        workers, and torch in a process forked after torch started its threads hangs in libgomp.
        """
        return nlp.pipe(texts, batch_size=self.chunk_size, n_process=self.n_process, disable=[skip])
