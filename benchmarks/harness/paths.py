"""Where the benchmarks read and write: command-line arguments first, then the environment.

- shared corpora (BBC News Summary, 20 Newsgroups): ``--shared-corpora``, else
  ``SPARSECODE_SHARED_CORPORA``, else ``<repo>/../shared/corpora``;
- results: ``--out``, else ``SPARSECODE_BENCH_RESULTS``, else ``benchmarks/results``;
- the cache of featurised corpora: ``SPARSECODE_BENCH_CACHE``, else a folder in the system's
  temporary directory.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1]
REPO = BENCHMARKS.parent


def shared_corpora() -> Path:
    """The folder of the shared corpora (``SPARSECODE_SHARED_CORPORA``, default ``<repo>/../shared/corpora``)."""
    return Path(os.environ.get("SPARSECODE_SHARED_CORPORA", REPO.parent / "shared" / "corpora"))


def results_dir() -> Path:
    """The results folder (``SPARSECODE_BENCH_RESULTS``, default ``benchmarks/results``)."""
    return Path(os.environ.get("SPARSECODE_BENCH_RESULTS", BENCHMARKS / "results"))


def cache_dir() -> Path:
    """The cache of featurised corpora (``SPARSECODE_BENCH_CACHE``, default in the temporary directory)."""
    return Path(os.environ.get("SPARSECODE_BENCH_CACHE", Path(tempfile.gettempdir()) / "sparsecode-bench-cache"))


def add_path_arguments(parser: argparse.ArgumentParser, *, shared: bool = False) -> None:
    """``--out`` (the results folder) and, with ``shared``, ``--shared-corpora``."""
    parser.add_argument("--out", type=Path, default=results_dir(), help="results folder (default: %(default)s)")
    if shared:
        parser.add_argument("--shared-corpora", type=Path, default=shared_corpora(),
                            help="folder of the shared corpora (default: %(default)s)")
