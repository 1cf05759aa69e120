"""The public import paths of the README keep working, old ones included (kept until 1.0)."""

from __future__ import annotations

import subprocess
import sys

import spacy_sparsecode
from spacy_sparsecode.models import trainer


def test_the_old_training_module_is_an_import_path_and_an_attribute():
    import spacy_sparsecode.training as training
    from spacy_sparsecode.training import TrainConfig

    assert training is trainer and spacy_sparsecode.training is trainer
    assert TrainConfig is spacy_sparsecode.TrainConfig


def test_importing_the_package_does_not_load_scikit_learn():
    code = ("import sys, spacy_sparsecode, spacy_sparsecode.tasks.topics; assert 'sklearn' not in sys.modules; "
            "from spacy_sparsecode.tasks.topics import SparseCodeVectorizer; assert 'sklearn' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
