"""The benchmarks' shared pieces: corpora and splits, systems, one timer, one results writer,
the tuned settings and the paths (see ``benchmarks/README.md``)."""

from . import corpora, topics
from .corpora import (Documents, Newsgroups, Split, SummaryCorpus, SyntheticCorpus, bbc_split, dated_rows, head,
                      load_20ng, load_bbc, load_bbc_summaries, random_rows, write_synthetic_corpus)
from .matrices import TopicCorpus, cached, featurize, vocab_tag
from .paths import BENCHMARKS, REPO, add_path_arguments, cache_dir, results_dir, shared_corpora
from .tuning import settings
from .systems import Fitted, System, needs_family, needs_module, unavailable
from .tables import markdown_table, write_results
from .timing import Timer

__all__ = [
    "corpora", "topics", "BENCHMARKS", "REPO", "Documents", "Fitted", "Newsgroups", "Split", "SummaryCorpus", "SyntheticCorpus", "System",
    "Timer", "TopicCorpus", "add_path_arguments", "bbc_split", "cache_dir", "cached", "dated_rows", "featurize", "head",
    "load_20ng", "load_bbc", "load_bbc_summaries", "markdown_table", "needs_family", "needs_module",
    "random_rows", "results_dir", "settings", "shared_corpora", "unavailable", "vocab_tag",
    "write_results", "write_synthetic_corpus",
]
