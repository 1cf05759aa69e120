"""spacy-sparsecode: sparse document codes for spaCy pipelines.

Importing the package registers the ``sparsecode`` factory, the architectures, the corpus
reader and the Doc extensions.
"""

from .codes import SparseCode, SparseCodes
from .pipeline.component import SparseCoder, make_sparsecode
from .pipeline.extensions import install_extensions
from .text.vocab import BagOfWordsVocab, VocabConfig
from .pipeline import architectures  # noqa: F401  (registrations)
from .text import corpora  # noqa: F401  (registrations)

install_extensions()

__version__ = "0.1.0"
__all__ = ["SparseCode", "SparseCodes", "SparseCoder", "make_sparsecode", "BagOfWordsVocab", "VocabConfig", "__version__"]
