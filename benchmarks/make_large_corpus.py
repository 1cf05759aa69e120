"""A large synthetic-but-realistic corpus: documents made of sampled BBC News sentences.

Each document takes one BBC topic (business, entertainment, politics, sport, tech; drawn
in proportion to the BBC corpus) and 4–16 sentences (uniform) sampled with replacement
from that topic's articles, so word statistics and topics are those of real news
(``harness.write_synthetic_corpus``). Output: JSON lines ``{"id", "text", "label"}``, seeded,
written atomically. It is benchmark input only: write it to a temporary folder, never into the
repository.

    python -m benchmarks.make_large_corpus OUT.jsonl --n-docs 200000 [--seed 0]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import List, Optional

if __package__:
    from . import harness
else:  # run as a file (python benchmarks/make_large_corpus.py): this folder is the import root
    import harness


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--n-docs", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(harness.write_synthetic_corpus(args.output, args.n_docs, args.seed).stats()))


if __name__ == "__main__":
    main()
