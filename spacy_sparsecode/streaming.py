"""Stream a corpus through worker processes in ordered chunks, resumably.

``map_chunks`` sends chunks to ``n_process`` worker processes (each set up once by a
``setup`` function) and yields the results in input order, with at most ``2 * n_process``
chunks in flight, so memory does not grow with the corpus; with ``n_process=1`` the work
runs in this process. ``ChunkLog`` records the finished chunks of a job (one fsync'd JSON
line each, under a signature of the job's settings), so an interrupted job resumes by
skipping them. The CLI's ``train`` (tokenising) and ``encode`` are both built on these two.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Tuple, TypeVar

from .errors import Errors
from .io import FORMAT_VERSION, read_json, write_json_atomic

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


def _init_worker(setup: Callable[..., None], args: Tuple[Any, ...]) -> None:
    # Workers leave Ctrl-C to the parent (which stops cleanly), and use one thread each:
    # the processes themselves are the parallelism.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(1)
    setup(*args)


#: Imported once by the fork server, so each worker starts with spaCy, torch and our modules.
_PRELOAD = ["spacy_sparsecode.encoding", "spacy_sparsecode.corpus_cache"]


def _context() -> multiprocessing.context.BaseContext:
    # Never fork a process that may hold torch/OpenMP threads: forkserver (or spawn) starts
    # workers from a clean interpreter.
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", *_PRELOAD])
    return context


def map_chunks(
    items: Iterable[Tuple[int, Any, Any]],
    work: Callable[[Any], Any],
    *,
    n_process: int,
    setup: Callable[..., None],
    setup_args: Tuple[Any, ...] = (),
) -> Iterator[Tuple[int, Any, Any]]:
    """Run ``work(payload)`` for each ``(index, meta, payload)``; yield ``(index, meta, result)`` in order.

    ``work`` and ``setup`` must be module-level functions (workers import them by name);
    ``setup(*setup_args)`` runs once per process before any ``work``. ``meta`` stays in this
    process. If reading ``items`` raises, the chunks already started are finished and
    yielded first, then the error is raised: no finished work is lost.
    """
    if n_process <= 1:
        setup(*setup_args)
        for index, meta, payload in items:
            yield index, meta, work(payload)
        return
    window: Deque[Tuple[int, Any, Future]] = deque()
    source = iter(items)
    error: Optional[BaseException] = None
    executor = ProcessPoolExecutor(n_process, mp_context=_context(), initializer=_init_worker, initargs=(setup, setup_args))
    try:
        while True:
            while error is None and len(window) < 2 * n_process:
                try:
                    index, meta, payload = next(source)
                except StopIteration:
                    break
                except Exception as err:  # a bad record: finish what is in flight, then raise
                    error = err
                    break
                window.append((index, meta, executor.submit(work, payload)))
            if not window:
                break
            index, meta, future = window.popleft()
            yield index, meta, future.result()
        if error is not None:
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

    def remove(self) -> None:
        """Delete the job folder (after its output has been written)."""
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)
