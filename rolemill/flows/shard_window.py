"""A bounded window of shards in flight.

The build submits a shard's tasks (its profiles, then every generator over them) and
keeps at most `shards_in_flight` shards unfinished, so memory (a thread, an event loop
and a gateway per running task) does not grow with the number of roles, while enough
requests are outstanding to keep the LLM's concurrency busy.
"""

from __future__ import annotations

import threading
import uuid

from prefect.futures import PrefectFuture

from rolemill.flows.stages import ShardReport
from rolemill.schemas.recipe import Recipe

MIN_SHARDS_IN_FLIGHT, MAX_SHARDS_IN_FLIGHT = 4, 64


def shards_in_flight(recipe: Recipe) -> int:
    """Shards worked on at once: enough that their requests keep the LLM's concurrency
    busy, few enough that memory (a thread, an event loop and a gateway each) does not
    grow with the number of roles. At least MIN_SHARDS_IN_FLIGHT, so that while one
    shard's last requests finish (a tail that leaves slots idle) others keep the LLM busy."""
    needed = -(-recipe.llm.limits.concurrency // recipe.shard_size) + 1
    return min(max(needed, MIN_SHARDS_IN_FLIGHT), MAX_SHARDS_IN_FLIGHT)


# stage -> its task for one shard
ShardFutures = dict[str, PrefectFuture[ShardReport]]


class ShardWindow:
    """The shards in flight. A shard is filed (its reports kept, its futures let go) once
    every one of its tasks is done. Completion comes through `add_done_callback`, which
    every Prefect task runner's futures have (thread pool, Dask, Ray)."""

    def __init__(self, stages: list[str]):
        self.running: list[ShardFutures] = []
        self.reports: dict[str, list[ShardReport]] = {stage: [] for stage in stages}
        self._done: set[uuid.UUID] = set()
        self._lock = threading.Lock()
        self._changed = threading.Event()

    def add(self, shard: ShardFutures) -> None:
        self.running.append(shard)
        for future in shard.values():
            future.add_done_callback(self._finished)

    def _finished(self, future: PrefectFuture[ShardReport]) -> None:
        with self._lock:
            self._done.add(future.task_run_id)
        self._changed.set()

    def drain(self, keep: int) -> None:
        """Wait until at most `keep` shards are unfinished, filing the finished ones; a
        failed task raises here (through its `result()`)."""
        while True:
            self._changed.clear()  # before reading `_done`: a later finish sets it again
            with self._lock:
                done = set(self._done)
            unfinished = []
            for shard in self.running:
                if all(future.task_run_id in done for future in shard.values()):
                    for stage, future in shard.items():
                        self.reports[stage].append(future.result())
                else:
                    unfinished.append(shard)
            self.running = unfinished
            if len(unfinished) <= keep:
                return
            self._changed.wait(timeout=1.0)
