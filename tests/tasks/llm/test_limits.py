"""Concurrency and RPM limits, measured at the scripted server."""

from __future__ import annotations

import asyncio

from rolemill.schemas.llm import RateLimits
from rolemill.tasks.llm.rate_limit import WINDOW_S
from rolemill.testing.scripted_server import ScriptedLLMServer


def _messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"request number {i}"}]


async def _fire(gateway, count: int) -> list:
    async with gateway:
        return await asyncio.gather(*(gateway.chat(_messages(i)) for i in range(count)))


def _max_overlap(server: ScriptedLLMServer) -> int:
    events = sorted(
        [(r.received, 1) for r in server.requests] + [(r.finished, -1) for r in server.requests],
        key=lambda e: (e[0], e[1]),
    )
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def test_concurrency_cap_holds_at_the_server(make_gateway) -> None:
    with ScriptedLLMServer(latency_s=0.1) as server:
        gateway = make_gateway(server, limits=RateLimits(concurrency=5, adaptive=False))
        results = asyncio.run(_fire(gateway, 40))
        assert all(r.ok for r in results)
        assert server.state.max_in_flight == 5  # reached, never passed
        assert _max_overlap(server) <= 5


def test_cap_shared_by_gateways_of_one_endpoint(make_gateway) -> None:
    with ScriptedLLMServer(latency_s=0.1) as server:
        limits = RateLimits(concurrency=3, adaptive=False)
        first, second = make_gateway(server, limits=limits), make_gateway(server, limits=limits)

        async def both() -> None:
            await asyncio.gather(_fire(first, 12), _fire(second, 12))

        asyncio.run(both())
        assert len(server.requests) == 24
        assert server.state.max_in_flight == 3


def test_adaptive_cap_halves_on_429_and_grows_back(make_gateway) -> None:
    with ScriptedLLMServer(latency_s=0.02, retry_after_s=0.1) as server:
        gateway = make_gateway(server, limits=RateLimits(concurrency=8))
        limiter = gateway.limiter

        async def run() -> None:
            async with gateway:
                await gateway.chat([{"role": "user", "content": "slow down [[faults: 429]]"}])
                assert limiter.cap == 4
                await asyncio.gather(*(gateway.chat(_messages(i)) for i in range(60)))

        asyncio.run(run())
        assert limiter.cap == 8


def test_rpm_limit_holds_in_every_minute_window(make_gateway) -> None:
    """30 requests per minute: 40 requests take a real minute; no 60 s window sees more than 30."""
    with ScriptedLLMServer(latency_s=0.01) as server:
        gateway = make_gateway(
            server, limits=RateLimits(concurrency=8, rpm=30, adaptive=False), timeout_s=5.0
        )
        results = asyncio.run(_fire(gateway, 40))
        assert all(r.ok for r in results)
        arrivals = sorted(r.received for r in server.requests)
        assert len(arrivals) == 40
        for i, start in enumerate(arrivals):
            in_window = sum(1 for t in arrivals[i:] if t < start + WINDOW_S)
            assert in_window <= 30
        assert arrivals[-1] - arrivals[0] >= WINDOW_S  # the limit really waited


def test_tpm_window_counts_real_usage_not_the_estimate() -> None:
    from rolemill.tasks.llm.rate_limit import AdaptiveLimiter

    async def run() -> None:
        limiter = AdaptiveLimiter(RateLimits(concurrency=4, tpm=1000, adaptive=False), window_s=0.5)
        first = await limiter.acquire(600)
        limiter.release(first, used_tokens=100)
        second = await asyncio.wait_for(limiter.acquire(800), 0.1)  # fits: 100 + 800 <= 1000
        started = asyncio.get_running_loop().time()
        third = await limiter.acquire(500)  # must wait for the window to drop the first two
        assert asyncio.get_running_loop().time() - started >= 0.5
        limiter.release(second, used_tokens=50)  # already out of the window: no effect
        limiter.release(third, used_tokens=500)
        assert limiter._token_sum == 500

    asyncio.run(run())
