"""spacy-sparsecode: sparse document codes for spaCy pipelines.

Importing the package registers the ``sparsecode`` factory, the architectures, the corpus
reader and the Doc extensions.
"""

from .codes import SparseCode, SparseCodes
from .component import SparseCoder, make_sparsecode
from .extensions import install_extensions
from .vocab import BagOfWordsVocab, VocabConfig
from . import architectures, corpora  # noqa: F401  (registrations)

install_extensions()

__version__ = "0.1.0"
__all__ = ["SparseCode", "SparseCodes", "SparseCoder", "make_sparsecode", "BagOfWordsVocab", "VocabConfig", "__version__"]
