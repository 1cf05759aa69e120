"""``python -m spacy_sparsecode``: the ``sparsecode`` command line (also what torchrun launches)."""

from .cli.app import app

if __name__ == "__main__":  # spawned worker processes import this module as __mp_main__: they must not run the app
    app(prog_name="sparsecode")
