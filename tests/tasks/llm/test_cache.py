"""The response cache is safe with concurrent writers in several processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from rolemill.tasks.llm.cache import ResponseCache, cache_key
from rolemill.tasks.llm.types import ProviderReply


def _writer(path: str, worker: int, count: int) -> None:
    cache = ResponseCache(Path(path))
    for i in range(count):
        cache.put(cache_key(worker=worker, i=i), ProviderReply(f"reply {worker}/{i}", "m", 1, 2))


def test_concurrent_writers_in_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(path), w, 300)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    cache = ResponseCache(path)
    assert len(cache) == 1200
    assert cache.get(cache_key(worker=3, i=299)) == ProviderReply("reply 3/299", "m", 1, 2)
    assert cache.get(cache_key(worker=9, i=0)) is None


def test_key_is_canonical() -> None:
    assert cache_key(a=1, b={"x": 1, "y": 2}) == cache_key(b={"y": 2, "x": 1}, a=1)
    assert cache_key(a=1) != cache_key(a=2)
