"""What codes are for: functions of a model and its codes (topics, summaries, compression, generation).

Task functions that work on Docs take the ``sparsecode`` component as a ``Coder``: anything with
the attributes below (the protocol keeps this layer free of the pipeline module).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Protocol, Sequence

import scipy.sparse as sp

from ..codes import SparseCodes
from ..models import CodeModel
from ..text.vocab import BagOfWordsVocab


class Coder(Protocol):
    """What a task needs of a trained ``sparsecode`` component (``bow_vocab`` is None until the
    component is initialized; the component's ``featurize`` and ``codes`` refuse to run before)."""

    bow_vocab: Optional[BagOfWordsVocab]

    @property
    def torch_model(self) -> CodeModel: ...

    def featurize(self, docs: Iterable[Any]) -> sp.csr_matrix: ...

    def codes(self, docs: Sequence[Any]) -> SparseCodes: ...

    def fingerprint(self) -> str: ...
