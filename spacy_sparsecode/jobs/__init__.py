"""Long corpus jobs: training, the corpus cache, encoding, evaluation and the report (files, chunks, resume, workers)."""
