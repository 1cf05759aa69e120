"""Text to bag-of-words CSR rows: corpus readers, the vocabulary and the featurizer (no torch)."""
