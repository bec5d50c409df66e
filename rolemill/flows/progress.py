"""Progress of a build, per stage, for whoever is watching.

The flow and its shard tasks report `start` / `advance`; the CLI installs a sink that
draws progress bars. Without one, progress is a no-op (Prefect's logs still tell the
story). Sinks must be thread-safe: shard tasks run on worker threads.
"""

from __future__ import annotations

from typing import Protocol


class ProgressSink(Protocol):
    def start(self, stage: str, total: int) -> None: ...
    def grow(self, stage: str, amount: int) -> None: ...
    def advance(self, stage: str, amount: int = 1) -> None: ...
    def finish(self, stage: str) -> None: ...


class NoProgress:
    def start(self, stage: str, total: int) -> None:
        pass

    def grow(self, stage: str, amount: int) -> None:
        pass

    def advance(self, stage: str, amount: int = 1) -> None:
        pass

    def finish(self, stage: str) -> None:
        pass


_sink: ProgressSink = NoProgress()


def set_progress_sink(sink: ProgressSink | None) -> None:
    global _sink
    _sink = sink or NoProgress()


def progress() -> ProgressSink:
    return _sink
