"""jobs/chunks.py: ordered chunks over worker processes, and the resumable chunk log."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any, Dict, List

import pytest

from spacy_sparsecode.jobs.chunks import ChunkLog, CorpusOptions, chunked, map_chunks
from spacy_sparsecode.text.corpora import CorpusError

_STATE: Dict[str, Any] = {}


def _setup(offset: int) -> None:
    _STATE["offset"] = offset


def _work(payload: List[int]) -> Dict[str, Any]:
    return {"sum": sum(payload) + _STATE["offset"], "pid": os.getpid()}


def test_chunked_keeps_order_and_the_last_short_chunk():
    assert list(chunked(range(7), 3)) == [(0, [0, 1, 2]), (1, [3, 4, 5]), (2, [6])]
    assert list(chunked([], 3)) == []


@pytest.mark.parametrize("n_process", [1, 2])
def test_map_chunks_yields_every_chunk_in_order(n_process: int):
    items = ((i, f"meta{i}", chunk) for i, chunk in chunked(range(200), 7))
    results = list(map_chunks(items, _work, n_process=n_process, setup=partial(_setup, 1000)))
    assert [index for index, _, _ in results] == list(range(29))
    assert [meta for _, meta, _ in results] == [f"meta{i}" for i in range(29)]
    assert [r["sum"] for _, _, r in results] == [sum(chunk) + 1000 for _, chunk in chunked(range(200), 7)]
    if n_process == 2:  # a worker process did some of the work
        assert len({r["pid"] for _, _, r in results}) == 2


def test_map_chunks_finishes_started_chunks_before_a_read_error():
    def items():
        yield from ((i, None, [i]) for i in range(3))
        raise CorpusError("bad record at line 4")

    done = []
    with pytest.raises(CorpusError, match="line 4"):
        for index, _, _ in map_chunks(items(), _work, n_process=1, setup=partial(_setup, 0)):
            done.append(index)
    assert done == [0, 1, 2]


def test_chunk_log_resumes_only_with_the_same_signature(tmp_path: Path):
    job = tmp_path / "job"
    log = ChunkLog(job, {"corpus": "a"}, resume=False)
    with log.running():
        log.commit(0, {"n_docs": 5})
        log.commit(1, {"n_docs": 5})
    with pytest.raises(FileExistsError, match="E503"):
        ChunkLog(job, {"corpus": "a"}, resume=False)
    with pytest.raises(ValueError, match="E504.*corpus"):
        ChunkLog(job, {"corpus": "b"}, resume=True)
    with (job / "progress.jsonl").open("a") as f:
        f.write('{"chunk": 2, "n_d')  # a line torn by a kill
    resumed = ChunkLog(job, {"corpus": "a"}, resume=True)
    assert sorted(resumed.done) == [0, 1]
    resumed.remove()
    assert not job.exists()


def test_chunk_log_keeps_finished_chunks_on_a_bad_record(tmp_path: Path):
    log = ChunkLog(tmp_path / "job", {}, resume=False)
    with pytest.raises(CorpusError, match=r"(?s)E509.*5 documents"):
        with log.running():
            log.commit(0, {"n_docs": 5})
            raise CorpusError("bad record")
    assert (tmp_path / "job" / "progress.jsonl").exists()
    empty = ChunkLog(tmp_path / "other", {}, resume=False)
    with pytest.raises(CorpusError):
        with empty.running():
            raise CorpusError("bad record")
    assert not (tmp_path / "other").exists()  # nothing worth resuming is left behind


def test_corpus_options_reading_key_holds_what_decides_the_documents(tmp_path: Path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"text": "one"}\n{"text": "two"}\n', encoding="utf8")
    key = CorpusOptions(limit=1).reading_key(corpus)
    assert set(key) == {"corpus", "text_field", "limit", "max_chars"}
    assert CorpusOptions(limit=1, n_process=2, chunk_size=7).reading_key(corpus) == key  # how, not what
    assert CorpusOptions(limit=2).reading_key(corpus) != key
    assert [record.text for record in CorpusOptions(limit=1).read(corpus)] == ["one"]
