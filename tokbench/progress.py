"""Progress bars on stderr for long library work, silent when nobody is watching.

The library owns its progress reporting (the CLI has no logic), but never writes to stdout, so `--json`
output stays one clean document. Bars show when stderr is a terminal or `TOKBENCH_PROGRESS=1`; they are
suppressed with `TOKBENCH_PROGRESS=0`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def enabled() -> bool:
    """Whether progress bars should be drawn right now."""
    flag = os.environ.get("TOKBENCH_PROGRESS")
    if flag is not None:
        return flag not in ("0", "", "false", "no")
    return sys.stderr.isatty()


def _make_progress():
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True), transient=False)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Yield from `items`, drawing a progress bar on stderr when enabled."""
    if not enabled():
        yield from items
        return
    with _make_progress() as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


class _Task:
    def __init__(self, bar, task) -> None:
        self._bar, self._task = bar, task

    def advance(self, n: float = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def update(self, completed: float | None = None, description: str | None = None) -> None:
        if self._bar is not None:
            kwargs = {k: v for k, v in (("completed", completed), ("description", description)) if v is not None}
            self._bar.update(self._task, **kwargs)


@contextmanager
def task(description: str, total: float | None = None) -> Iterator[_Task]:
    """A manually advanced progress bar: `with task("training", total=steps) as t: t.advance()`."""
    if not enabled():
        yield _Task(None, None)
        return
    with _make_progress() as bar:
        yield _Task(bar, bar.add_task(description, total=total))
