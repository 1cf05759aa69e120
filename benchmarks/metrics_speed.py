"""Time npmi() for 256 topics x 10 words on a random 2,000 x 10,000 matrix (density 1%)."""

import time

import numpy as np
import scipy.sparse as sp

from spacy_sparsecode.metrics import npmi, top_words

reference = sp.random(2_000, 10_000, density=0.01, format="csr", random_state=0)
words = top_words(np.random.default_rng(0).random((256, 10_000)), 10)
start = time.perf_counter()
npmi(words, reference)
print(f"npmi K=256 x 10 words, 2000 x 10000 docs: {time.perf_counter() - start:.4f} s")
