"""Per-minute provider limits across processes are Prefect decaying limits (leaky buckets)
sized so that no 60 s window can let more than the limit through."""

from __future__ import annotations

import asyncio

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from rolemill.schemas.llm import LLMConfig, RateLimits
from rolemill.tasks.llm.global_limits import WINDOW_S, ensure_global_limits, leaky_bucket


@pytest.mark.parametrize("per_minute", [2, 9, 10, 30, 120, 90_000])
def test_a_full_bucket_and_a_minute_of_decay_stay_within_the_limit(per_minute: int) -> None:
    slots, per_second = leaky_bucket(per_minute)
    assert 1 <= slots < per_minute and per_second > 0
    # the worst window: the whole burst at its start, then every slot freed during it
    assert slots + WINDOW_S * per_second <= per_minute
    assert slots + WINDOW_S * per_second >= 0.99 * per_minute - 1  # little budget lost


def test_a_limit_of_one_a_minute_still_frees_its_slot() -> None:
    assert leaky_bucket(1) == (1, 1 / WINDOW_S)


def test_the_recipe_limits_reach_the_prefect_server_as_buckets(prefect_api: str) -> None:
    config = LLMConfig(
        provider="openai",
        model="bucket-model",
        limits=RateLimits(concurrency=4, rpm=120, tpm=90_000),
    )

    async def upsert_and_read() -> list[tuple[int, float | None]]:
        names = await ensure_global_limits(config)
        async with get_client() as client:
            limits = [
                await client.read_global_concurrency_limit_by_name(name)
                for name in (names.concurrency, names.rpm, names.ktpm)
                if name
            ]
        return [(limit.limit, limit.slot_decay_per_second) for limit in limits]

    with temporary_settings({PREFECT_API_URL: prefect_api}):
        concurrency, rpm, ktpm = asyncio.run(upsert_and_read())
    assert concurrency[0] == 4 and not concurrency[1]  # a cap, not a rate
    assert rpm == pytest.approx((12, 108 / 60))  # a tenth as burst, the rest over the minute
    assert ktpm == pytest.approx((9, 81 / 60))  # thousands of tokens
