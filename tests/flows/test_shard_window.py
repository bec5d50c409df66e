"""The build keeps a bounded number of shards in flight, so memory does not grow with the
number of roles (a persona pool of 10,000 roles is one recipe line)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import Future

import pytest
from prefect.futures import PrefectConcurrentFuture

from rolemill.flows.shard_window import MAX_SHARDS_IN_FLIGHT, ShardWindow, shards_in_flight
from rolemill.flows.stages import ShardReport
from rolemill.schemas.recipe import Recipe
from rolemill.tasks.llm import Usage


def report(stage: str, index: int) -> ShardReport:
    return ShardReport(stage, index, f"{stage}-{index}.parquet", 1, Usage())


def shard(index: int) -> dict[str, PrefectConcurrentFuture[ShardReport]]:
    return {stage: PrefectConcurrentFuture(uuid.uuid4(), Future()) for stage in ("profiles", "mrc")}


def finish(futures: dict[str, PrefectConcurrentFuture[ShardReport]], index: int) -> None:
    for stage, future in futures.items():
        future.wrapped_future.set_result(report(stage, index))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("concurrency", "shard_size", "expected"),
    [(64, 8, 9), (64, 16, 5), (64, 50, 4), (4, 4, 4), (1, 100, 4), (4096, 1, MAX_SHARDS_IN_FLIGHT)],
)
def test_enough_shards_to_keep_the_llm_busy_and_no_more(
    concurrency: int, shard_size: int, expected: int
) -> None:
    recipe = Recipe.model_validate(
        {
            "name": "x",
            "seeds": {"personas": {"count": 1}},
            "llm": {"limits": {"concurrency": concurrency}},
            "shard_size": shard_size,
        }
    )
    assert shards_in_flight(recipe) == expected


def window_of(running: list[dict[str, PrefectConcurrentFuture[ShardReport]]]) -> ShardWindow:
    window = ShardWindow(["profiles", "mrc"])
    for futures in running:
        window.add(futures)  # type: ignore[arg-type]
    return window


def test_the_window_waits_for_any_shard_and_files_only_whole_ones() -> None:
    running = [shard(i) for i in range(4)]
    window = window_of(running)
    finish(running[2], 2)
    running[0]["profiles"].wrapped_future.set_result(report("profiles", 0))  # type: ignore[arg-type]
    window.drain(keep=3)  # shard 2 is done: nothing to wait for
    assert [r.index for r in window.reports["profiles"]] == [2] and len(window.running) == 3

    threading.Timer(0.2, finish, (running[3], 3)).start()  # a later shard finishes first
    window.drain(keep=2)
    assert [r.index for r in window.reports["mrc"]] == [2, 3] and len(window.running) == 2
    assert window.running[0] is running[0]  # half-done shards stay in flight

    threading.Timer(0.1, finish, (running[1], 1)).start()
    threading.Timer(0.2, running[0]["mrc"].wrapped_future.set_result, (report("mrc", 0),)).start()
    window.drain(keep=0)
    assert window.running == []
    assert sorted(r.index for r in window.reports["profiles"]) == [0, 1, 2, 3]


def test_a_failed_shard_task_raises_from_the_window() -> None:
    running = [shard(0), shard(1)]
    window = window_of(running)
    finish(running[0], 0)
    running[1]["profiles"].wrapped_future.set_result(report("profiles", 1))  # type: ignore[arg-type]
    threading.Timer(
        0.1, running[1]["mrc"].wrapped_future.set_exception, (OSError("disk full"),)
    ).start()
    with pytest.raises(OSError, match="disk full"):
        window.drain(keep=0)
