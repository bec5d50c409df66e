"""Provider limits that hold across processes and machines, as Prefect global concurrency limits.

When shards run in several processes (a Dask cluster), the in-process limiter of
`rate_limit.py` would let each process use the whole budget. Instead, every request
takes a slot of `llm-<provider>-<model>` (the concurrency cap) for as long as it runs,
and, when the recipe sets them, a decaying slot of `...-rpm` (requests per minute) and
`...-ktpm` (estimated thousands of tokens per minute). The limits are upserted from the
recipe at flow start (`ensure_global_limits`); each request costs API round trips, so
the default in-process runner keeps the local limiter.

A decaying limit is a leaky bucket, not a sliding window: it lets `slots` through at
once, then `decay` a second, so a 60 s window can see `slots + 60 * decay`. A bucket of
`rpm` slots decaying at `rpm / 60` would let twice the limit through in a minute; so
the per-minute limits get a tenth of the budget as burst and the rest as steady rate
(`leaky_bucket`), and no 60 s window sees more than the limit.
"""

from __future__ import annotations

import math
import re
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import concurrency, rate_limit

from rolemill.schemas.llm import LLMConfig

WINDOW_S = 60.0


@dataclass(frozen=True)
class GlobalLimitNames:
    concurrency: str
    rpm: str | None
    ktpm: str | None


def limit_names(config: LLMConfig) -> GlobalLimitNames:
    """`llm-<provider>-<model>` (characters a limit name may not hold become `-`)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", f"llm-{config.provider}-{config.model_name}")
    return GlobalLimitNames(
        concurrency=base,
        rpm=f"{base}-rpm" if config.limits.rpm else None,
        ktpm=f"{base}-ktpm" if config.limits.tpm else None,
    )


def _ktpm(config: LLMConfig) -> int:
    return max(1, (config.limits.tpm or 0) // 1000)


def leaky_bucket(per_minute: int) -> tuple[int, float]:
    """(slots, slots freed per second) of a decaying limit that lets at most `per_minute`
    through in any 60 s window (a limit of 1 a minute can let 2 through: a limit needs a
    slot and a decay)."""
    slots = max(1, per_minute // 10)
    return slots, max(per_minute - slots, 1) / WINDOW_S


async def ensure_global_limits(config: LLMConfig) -> GlobalLimitNames:
    """Create or update the global limits of `config` on the Prefect server."""
    names = limit_names(config)
    limits = config.limits
    async with get_client() as client:
        await client.upsert_global_concurrency_limit_by_name(names.concurrency, limits.concurrency)
        if names.rpm and limits.rpm:
            slots, decay = leaky_bucket(limits.rpm)
            await client.upsert_global_concurrency_limit_by_name(
                names.rpm, slots, slot_decay_per_second=decay
            )
        if names.ktpm:
            slots, decay = leaky_bucket(_ktpm(config))
            await client.upsert_global_concurrency_limit_by_name(
                names.ktpm, slots, slot_decay_per_second=decay
            )
    return names


@dataclass
class GlobalPermit:
    tokens: int
    held: AsyncExitStack = field(default_factory=AsyncExitStack)


class GlobalLimiter:
    """The gateway's limiter interface (`acquire`, `release`) over global limits.

    `release` returns a coroutine (the slot goes back through the API): the gateway
    awaits it. 429 back-off is left to the retry loop (Retry-After is honoured there);
    the cap does not adapt across processes.
    """

    def __init__(self, config: LLMConfig):
        self.config = config
        self.names = limit_names(config)

    async def acquire(self, tokens: int = 0) -> GlobalPermit:
        if self.names.rpm:
            await rate_limit(self.names.rpm, strict=True)
        if self.names.ktpm:
            # a request larger than the burst takes the whole burst (it cannot take more)
            slots, _ = leaky_bucket(_ktpm(self.config))
            await rate_limit(
                self.names.ktpm, occupy=min(slots, math.ceil(tokens / 1000)), strict=True
            )
        permit = GlobalPermit(tokens)
        await permit.held.enter_async_context(concurrency(self.names.concurrency, strict=True))
        return permit

    async def release(self, permit: GlobalPermit, **_outcome: object) -> None:
        await permit.held.aclose()
