"""Benchmarks of spacy-sparsecode: scripts that train, measure and write ``results/``.

Each script is a module of this package with a ``main``; run one from the repository root as
``python -m benchmarks.<name>`` or ``python benchmarks/<name>.py`` (see ``README.md``). The
shared pieces (corpora and splits, the ``System`` record, the timer, the results writer, the
tuned settings of ``settings.toml``) are in ``benchmarks.harness``.
"""
