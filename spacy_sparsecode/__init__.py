"""spacy-sparsecode: sparse document codes for spaCy pipelines.

Importing the package registers the ``sparsecode`` factory, the architectures, the corpus
reader and the Doc extensions. The names below are the public API.
"""

import importlib.metadata
import sys

from .codes import SparseCode, SparseCodes
from .jobs.train import fit_component
from .models import trainer as _trainer
from .models.trainer import TrainConfig
from .pipeline import architectures  # noqa: F401  (registrations)
from .pipeline.component import SparseCoder, make_sparsecode
from .pipeline.extensions import install_extensions
from .text import corpora  # noqa: F401  (registrations)
from .text.vocab import BagOfWordsVocab, VocabConfig

install_extensions()
# ``spacy_sparsecode.training`` was the trainer's module before the stage folders: its import path
# and the package attribute are kept until 1.0.
training = sys.modules[f"{__name__}.training"] = _trainer

__version__ = importlib.metadata.version("spacy-sparsecode")  # one source: pyproject.toml
__all__ = ["SparseCode", "SparseCodes", "SparseCoder", "make_sparsecode", "BagOfWordsVocab", "VocabConfig",
           "TrainConfig", "fit_component", "__version__"]
