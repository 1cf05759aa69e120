"""The one wall-clock timer of the benchmarks."""

from __future__ import annotations

import time
from typing import Any, Optional


class Timer:
    """Wall-clock seconds (``time.perf_counter``) from creation, or from entering a ``with`` block.

    ``seconds`` is the time so far while running and the final time once the block is left::

        with Timer() as clock:
            fit()
        print(clock.seconds)
    """

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.stop: Optional[float] = None

    def __enter__(self) -> "Timer":
        self.start, self.stop = time.perf_counter(), None
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop = time.perf_counter()

    @property
    def seconds(self) -> float:
        return (self.stop if self.stop is not None else time.perf_counter()) - self.start
