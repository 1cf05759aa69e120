"""The one results writer: a markdown table printed and written beside its JSON, atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from spacy_sparsecode.io import write_bytes_atomic


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """A markdown table; ``align`` has one letter a column, ``l`` or ``r`` (default: all ``l``)."""
    align = align or "l" * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["|" + "|".join(f" {cell} " if str(cell) else " " for cell in row) + "|" for row in rows]
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """JSON for what ``json`` does not know: numpy scalars and arrays, paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_results(out: Path, stem: str, data: Any, markdown: str, *, printed: Optional[str] = None) -> str:
    """Write ``out/stem.json`` (``data``, indented, sorted keys) and ``out/stem.md`` (``markdown``),
    each atomically; print ``printed`` (default: the markdown) and return the markdown."""
    out = Path(out)
    text = json.dumps(data, indent=2, sort_keys=True, default=_plain)
    write_bytes_atomic(out / f"{stem}.json", text.encode("utf8"))
    write_bytes_atomic(out / f"{stem}.md", (markdown.rstrip("\n") + "\n").encode("utf8"))
    print(markdown if printed is None else printed, flush=True)
    return markdown
