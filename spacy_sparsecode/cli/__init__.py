"""The ``sparsecode`` command line (typer): parsing, options and one error handler."""
