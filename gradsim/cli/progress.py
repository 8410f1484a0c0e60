"""A progress bar on stderr, on a terminal only: never in a pipe, a file or a test's captured
output (``_console.show_progress``), and only once the work has taken ``DELAY`` seconds, so
that quick commands print nothing but their result. Used by compare, spectrum, phase and the
examples (sweep and train draw their own, with their own columns)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gradsim.cli._console import show_progress

DELAY = 1.0  # seconds of work before a bar appears


@contextmanager
def progress(total: int | None, what: str, show: bool | None = None
             ) -> Iterator[Callable[[int], None]]:  # fmt: skip
    """``with progress(total, "compare") as advance: ... advance(n)``: a bar of ``total``
    steps (None: of unknown length, shown at once) on stderr if ``show`` (None: on a
    terminal, not in CI); ``advance`` does nothing otherwise."""
    if not show_progress(show):
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn(what), BarColumn()]
    if total is not None:
        columns.append(MofNCompleteColumn())
    bar = Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True)
    task = bar.add_task(what, total=total)
    start = time.monotonic()
    state = {"on": False}

    def advance(n: int = 1) -> None:
        bar.advance(task, n)
        if not state["on"] and time.monotonic() - start >= DELAY:
            bar.start()
            state["on"] = True

    if total is None:
        bar.start()
        state["on"] = True
    try:
        yield advance
    finally:
        if state["on"]:
            bar.stop()


def steps(advance: Callable[[int], None]) -> Callable[[int, int, float | None], None]:
    """``gradsim.train``'s ``progress(i, step, loss)`` as steps done, for ``advance``."""
    last: dict[int, int] = {}

    def on_step(i: int, step: int, loss: float | None) -> None:
        advance(max(0, step - last.get(i, 0)))
        last[i] = max(step, last.get(i, 0))

    return on_step
