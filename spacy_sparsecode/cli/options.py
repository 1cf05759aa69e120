"""What the ``sparsecode`` commands share: arguments and options, the corpus options, one error handler.

Every corpus-reading command is decorated with ``reads_corpus``: it gets ``--text-field``,
``--limit``, ``--on-error``, ``--max-chars``, ``--n-process`` and ``--chunk-size`` (the fields
of ``jobs.chunks.CorpusOptions``, with its defaults) and receives them as one
``CorpusOptions`` in its ``reading`` parameter. Every command is decorated with
``handle_errors``: our errors print as one line and exit 1, Ctrl-C exits 130.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Iterator, List, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ..jobs.chunks import CorpusOptions
from ..jobs.train import TrainingInterrupted
from ..models.trainer import TrainingError
from ..progress import progress_bar

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")

#: What an interrupted ``train`` or ``encode`` keeps.
RESUME_HINT = "Interrupted: finished chunks are kept; rerun the same command with --resume."

# --- arguments and options of several commands ------------------------------------------
# The grammar: MODEL (where a command needs one), then CORPUS, then the output, all positional.
ModelArg = Annotated[Path, typer.Argument(help="A trained pipeline folder (from `sparsecode train` or `spacy train`).",
                                          show_default=False)]
CORPUS_HELP = "Corpus: .jsonl(.gz), .json, .csv, .parquet, .txt, a folder of .txt files, or 'bbc'."
CorpusArg = Annotated[str, typer.Argument(help=CORPUS_HELP, show_default=False)]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output (train, encode: and discard "
                                                             "an interrupted run's work).")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run: train from its last checkpoint, "
                                                       "encode skipping the chunks it finished.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Threads = Annotated[int, typer.Option(min=0, help="Torch CPU threads in this process (0: torch's default); workers use 1.")]
GpuId = Annotated[int, typer.Option(help="GPU id (-1: CPU).")]
# The model's size and training (train: None keeps the --config's value, else the default).
NLatents = Annotated[Optional[int], typer.Option(min=1, help="Number of latents K.")]
K = Annotated[Optional[int], typer.Option(min=1, help="Active latents per document (families that have k).")]
Epochs = Annotated[int, typer.Option(min=1, help="Training epochs.")]
Seed = Annotated[Optional[int], typer.Option(help="Random seed (train: default the --config's, else 0).")]
TopN = Annotated[int, typer.Option(min=1, help="Top words shown: per latent (topics), per document (decompress).")]

#: Help and checks of each ``CorpusOptions`` field, the option every corpus-reading command takes.
_PANEL = "Corpus"
_CORPUS_OPTIONS = {
    "text_field": typer.Option(help="Field holding the text (.jsonl, .json, .csv, .parquet).", rich_help_panel=_PANEL),
    "limit": typer.Option(min=1, help="Read at most this many documents (default: all).", rich_help_panel=_PANEL),
    "on_error": typer.Option(help="Bad records: fail (stop, naming file and line) or skip (count them).",
                             rich_help_panel=_PANEL),
    "max_chars": typer.Option(min=1, help="Longer documents are bad records.", rich_help_panel=_PANEL),
    "n_process": typer.Option(min=1, help="Processes for tokenising (encode, evaluate: and encoding).",
                              rich_help_panel=_PANEL),
    "chunk_size": typer.Option(min=1, help="Documents per chunk: the unit of work (train, encode: and of resuming).",
                               rich_help_panel=_PANEL),
}
_HINTS = typing.get_type_hints(CorpusOptions)
_CORPUS_PARAMETERS = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                        annotation=Annotated[_HINTS[f.name], _CORPUS_OPTIONS[f.name]])
                      for f in dataclasses.fields(CorpusOptions)]


def reads_corpus(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` the corpus options; it receives them as one ``CorpusOptions`` in ``reading``."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "reading"]

    @functools.wraps(command)
    def run(**kwargs: Any) -> None:
        reading = CorpusOptions(**{p.name: kwargs.pop(p.name) for p in _CORPUS_PARAMETERS})
        command(**kwargs, reading=reading)

    run.__signature__ = signature.replace(parameters=[*own, *_CORPUS_PARAMETERS])  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in run.__signature__.parameters.values()}  # type: ignore[attr-defined]
    return run


# --- the one error handler ---------------------------------------------------------------
def handle_errors(interrupted: str = "Interrupted.") -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Run a command so that our errors print as one line and exit 1, and Ctrl-C prints
    ``interrupted`` (or where training's last checkpoint is) and exits 130. Typer's usage errors
    (exit 2) pass through."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                command(*args, **kwargs)
            except TrainingInterrupted as err:
                err_console.print(f"[yellow]{escape(str(err))}", soft_wrap=True)
                raise typer.Exit(130)
            except KeyboardInterrupt:
                err_console.print(f"[yellow]{escape(interrupted)}", soft_wrap=True)
                raise typer.Exit(130)
            except (ValueError, OSError, ImportError, TrainingError) as err:
                message = " ".join(str(err).split()).replace("on_error='skip'", "--on-error skip")  # as a CLI option
                err_console.print(f"[red]{escape(message)}", soft_wrap=True)
                raise typer.Exit(1)

        return run

    return decorate


# --- small shared steps --------------------------------------------------------------------
def set_threads(threads: int) -> None:
    """``torch.set_num_threads`` when asked (0 keeps torch's default)."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def report_skipped(n_skipped: int, skipped: List[str]) -> None:
    """Say how many bad records ``--on-error skip`` skipped, and the first ones."""
    if n_skipped:
        err_console.print(f"[yellow]Skipped {n_skipped:,} bad records (--on-error skip). First ones:", soft_wrap=True)
        for message in skipped[:5]:
            err_console.print(f"  {escape(message)}", soft_wrap=True)


def with_progress(items: Iterable[T], total: Optional[int], what: str) -> Iterator[T]:
    """``items``, advancing a progress bar named ``what`` by one for each."""
    with progress_bar() as bar:
        task = bar.add_task(what, total=total, info="")
        for item in items:
            bar.advance(task)
            yield item
