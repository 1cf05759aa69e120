"""The summarization sets of ``benchmarks/summarize.py`` (issue 19, section 5) and what scoring
them needs besides the systems.

- Sets: ``bbc`` (BBC News Summary from the shared corpora, ``load_bbc_summaries``; its summaries
  glue sentences without a space after the full stop, so ``bbc_reference`` restores it) and every
  ``corpora/summarization/<name>.jsonl.gz`` (fields ``id``, ``text``, ``summary``, ``lang``;
  ``load_summary_file``). ``load_summary_set`` loads either by name as a ``SummarySet``.
- ROUGE: ``rouge_scorer(lang)``. English: rouge-score's own tokenizer (lower-cases, keeps
  ``[a-z0-9]`` runs) with its Porter stemmer, as the benchmark always did. Any other language:
  ``UnicodeWords`` (lower-cased ``[^\\W_]+`` runs, so accented letters stay inside their words;
  rouge-score's tokenizer would cut ``année`` into ``ann`` + ``e``) and no stemming. The same
  scorer scores every system of a set.
- TextRank/LexRank words: ``sumy_language(lang)``: sumy's language name, the word pattern of the
  regex tokenizer the benchmark feeds sumy with, and extra stop words (French: the elided
  articles and pronouns that the pattern splits off, ``l' année`` → ``l`` + ``année``).
- Paired comparisons: ``paired_bootstrap`` (a percentile interval of a mean per-document
  difference, resampling groups of documents: ``document_groups`` puts the segments of one
  meeting in one group).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .corpora import BBC_SUMMARY_FILE, load_bbc_summaries
from .paths import REPO

#: The summarization sets' files: ``<name>.jsonl.gz`` in this folder.
SUMMARY_DIR = REPO / "corpora" / "summarization"
SUMMARY_SUFFIX = ".jsonl.gz"
#: The name of the shared BBC News Summary set.
BBC = "bbc"


@dataclass(frozen=True)
class SummarySet:
    """Documents with one human reference summary each (references ready for ROUGE), and their language."""

    name: str
    lang: str
    texts: List[str]
    references: List[str]
    ids: List[str]
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def head(self, n: Optional[int]) -> "SummarySet":
        """The first ``n`` documents (all with ``None`` or 0)."""
        n = n or None
        return SummarySet(self.name, self.lang, self.texts[:n], self.references[:n], self.ids[:n], self.source)


def summary_set_names(folder: Path = SUMMARY_DIR) -> List[str]:
    """The summarization sets in ``folder`` (one ``<name>.jsonl.gz`` each), by name."""
    return sorted(p.name[: -len(SUMMARY_SUFFIX)] for p in Path(folder).glob(f"*{SUMMARY_SUFFIX}"))


def load_summary_file(path: Path) -> SummarySet:
    """A summarization set file: every record needs ``id``, ``text`` and a non-blank ``summary``;
    records with a blank text are dropped; ``lang`` (default "en") must be the same on every record."""
    path = Path(path)
    texts, references, ids, langs = [], [], [], set()
    with gzip.open(path, "rt", encoding="utf8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            summary = record.get("summary")
            if not isinstance(summary, str) or not summary.strip():
                raise ValueError(f"{path}:{n}: record {record.get('id')!r} has no summary")
            langs.add(record.get("lang") or "en")
            if record["text"].strip():
                texts.append(record["text"])
                references.append(summary)
                ids.append(str(record["id"]))
    if len(langs) > 1:
        raise ValueError(f"{path}: records of more than one language: {sorted(langs)}")
    name = path.name[: -len(SUMMARY_SUFFIX)] if path.name.endswith(SUMMARY_SUFFIX) else path.stem
    return SummarySet(name, langs.pop() if langs else "en", texts, references, ids, str(path))


def bbc_reference(summary: str) -> str:
    """A BBC News Summary reference with the space after each full stop restored."""
    return re.sub(r"\.(?=[A-Z\"'])", ". ", summary)


def load_summary_set(name: str, shared_corpora: Path, folder: Path = SUMMARY_DIR) -> Optional[SummarySet]:
    """The set ``name``: ``bbc`` from the shared corpora, else ``folder/<name>.jsonl.gz``; None when
    its file is absent."""
    if name == BBC:
        corpus = load_bbc_summaries(shared_corpora)
        if corpus is None:
            return None
        return SummarySet(BBC, "en", corpus.texts, [bbc_reference(s) for s in corpus.summaries], corpus.ids,
                          str(Path(shared_corpora) / BBC_SUMMARY_FILE))
    path = Path(folder) / f"{name}{SUMMARY_SUFFIX}"
    return load_summary_file(path) if path.exists() else None


def set_file(name: str, shared_corpora: Path, folder: Path = SUMMARY_DIR) -> Path:
    """Where the set ``name`` is read from (for messages)."""
    return Path(shared_corpora) / BBC_SUMMARY_FILE if name == BBC else Path(folder) / f"{name}{SUMMARY_SUFFIX}"


# --------------------------------------------------------------------------- ROUGE and sumy words
class UnicodeWords:
    """A rouge-score tokenizer for any language: lower-cased runs of Unicode letters and digits."""

    pattern = re.compile(r"[^\W_]+")

    def tokenize(self, text: str) -> List[str]:
        return self.pattern.findall(text.lower())


def rouge_tokenization(lang: str) -> str:
    """How ``rouge_scorer(lang)`` tokenises, in words."""
    if lang == "en":
        return "rouge-score's tokenizer (lower-cased [a-z0-9] runs) with its Porter stemmer"
    return "lower-cased Unicode letter/digit runs ([^\\W_]+, accents kept), no stemming"


def rouge_scorer(lang: str, types: Sequence[str] = ("rouge1", "rouge2", "rougeL")):
    """ROUGE for a set of language ``lang`` (see the module's docstring)."""
    from rouge_score import rouge_scorer as rs

    if lang == "en":
        return rs.RougeScorer(list(types), use_stemmer=True)
    return rs.RougeScorer(list(types), tokenizer=UnicodeWords())


#: sumy's language name, the word pattern of the regex tokenizer, and stop words added to sumy's list.
SUMY_LANGUAGES: Dict[str, Tuple[str, str, Tuple[str, ...]]] = {
    "en": ("english", r"[A-Za-z0-9']+", ()),
    "fr": ("french", r"[^\W_]+", ("l", "d", "qu", "c", "j", "m", "n", "s", "t", "jusqu", "lorsqu", "puisqu", "quoiqu")),
}


def sumy_language(lang: str) -> Tuple[str, str, Tuple[str, ...]]:
    """sumy's language name, the word pattern and the extra stop words for ``lang``."""
    if lang not in SUMY_LANGUAGES:
        raise ValueError(f"no sumy settings for language {lang!r} (known: {', '.join(SUMY_LANGUAGES)})")
    return SUMY_LANGUAGES[lang]


# --------------------------------------------------------------------------- paired comparisons
def document_groups(ids: Sequence[str]) -> List[str]:
    """The resampling unit of each document: its meeting for ``public_meetings/<meeting>/<segment>``
    ids (segments of one meeting are not independent), else the document itself."""
    return ["/".join(i.split("/")[:2]) if i.startswith("public_meetings/") else i for i in ids]


def paired_bootstrap(differences: Sequence[float], groups: Sequence[str], n_boot: int = 2000, seed: int = 0,
                     level: float = 0.95) -> Dict[str, float]:
    """The mean of per-document ``differences`` and a percentile bootstrap interval, resampling
    ``groups`` (whole groups with replacement; the mean over the drawn groups' documents)."""
    diffs = np.asarray(differences, dtype=np.float64)
    if len(diffs) != len(groups):
        raise ValueError("one group a difference")
    if len(diffs) == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "groups": 0}
    _, index = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    sums, counts = np.bincount(index, weights=diffs), np.bincount(index).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(sums), size=(n_boot, len(sums)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    tail = (1 - level) / 2
    return {"mean": float(diffs.mean()), "low": float(np.quantile(means, tail)), "high": float(np.quantile(means, 1 - tail)),
            "groups": int(len(sums))}
