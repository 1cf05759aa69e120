"""The spaCy boundary: the ``sparsecode`` component, its registered architectures and the Doc extensions."""
