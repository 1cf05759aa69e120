"""spacy-sparsecode: sparse document codes for spaCy."""
