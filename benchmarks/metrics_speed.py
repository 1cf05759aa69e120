"""Time ``npmi()`` for K topics x 10 words on a random sparse document-term matrix.

    python -m benchmarks.metrics_speed            # 256 topics, 2,000 x 10,000 docs, density 1%
"""

from __future__ import annotations

import argparse
from typing import List, Optional

import numpy as np
import scipy.sparse as sp

from spacy_sparsecode.metrics import npmi, top_words

if __package__:
    from . import harness
else:  # run as a file (python benchmarks/metrics_speed.py): this folder is the import root
    import harness


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=256)
    parser.add_argument("--docs", type=int, default=2_000)
    parser.add_argument("--vocab", type=int, default=10_000)
    parser.add_argument("--density", type=float, default=0.01)
    args = parser.parse_args(argv)
    reference = sp.random(args.docs, args.vocab, density=args.density, format="csr", random_state=0)
    words = top_words(np.random.default_rng(0).random((args.topics, args.vocab)), 10)
    with harness.Timer() as clock:
        npmi(words, reference)
    print(f"npmi K={args.topics} x 10 words, {args.docs} x {args.vocab} docs: {clock.seconds:.4f} s")


if __name__ == "__main__":
    main()
