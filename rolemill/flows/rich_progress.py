"""Progress bars per build stage in the terminal (rich), as a ProgressSink."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class RichProgress:
    def __init__(self, console: Console | None = None):
        self._bars = Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()

    def start(self, stage: str, total: int) -> None:
        self._tasks[stage] = self._bars.add_task(stage, total=total)

    def grow(self, stage: str, amount: int) -> None:
        """More work for a stage whose size is learnt as it goes."""
        if stage in self._tasks:
            task = self._tasks[stage]
            self._bars.update(task, total=(self._bars.tasks[task].total or 0) + amount)

    def advance(self, stage: str, amount: int = 1) -> None:
        if stage in self._tasks:
            self._bars.advance(self._tasks[stage], amount)

    def finish(self, stage: str) -> None:
        if stage in self._tasks:
            task = self._tasks[stage]
            self._bars.update(task, total=self._bars.tasks[task].completed)
