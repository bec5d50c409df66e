"""Concurrency, RPM and TPM limits per provider endpoint, shared by every caller in the process.

The limiter is thread-safe and loop-agnostic (Prefect may run shards in threads, each
with its own event loop): state sits behind a `threading.Lock`, and waiters are
futures woken on their own loop. With `adaptive`, a 429 halves the concurrency cap
and pauses new requests for the Retry-After time; each run of successes as long as
the cap grows it back by one (AIMD), up to the configured maximum.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass

from rolemill.schemas.llm import RateLimits

WINDOW_S = 60.0
# Starts are spaced by this much more than a window, so a server that sees requests a
# little later than we sent them still never counts more than the limit in any window.
WINDOW_MARGIN_S = 0.25


@dataclass(slots=True)
class Permit:
    """One started request; while `in_window`, its tokens count against the TPM window."""

    tokens: int
    started: float
    in_window: bool = False


class AdaptiveLimiter:
    def __init__(self, limits: RateLimits, window_s: float = WINDOW_S):
        self.limits = limits
        self.window_s = window_s
        self.cap = limits.concurrency
        self.in_flight = 0
        self.max_in_flight_seen = 0
        self._lock = threading.Lock()
        self._starts: deque[float] = deque()
        self._tokens: deque[Permit] = deque()
        self._token_sum = 0
        self._paused_until = 0.0
        self._successes = 0
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    def _expire(self, now: float) -> None:
        horizon = now - self.window_s - WINDOW_MARGIN_S
        while self._starts and self._starts[0] <= horizon:
            self._starts.popleft()
        while self._tokens and self._tokens[0].started <= horizon:
            expired = self._tokens.popleft()
            expired.in_window = False
            self._token_sum -= expired.tokens

    def _delay_for(self, now: float, tokens: int) -> float | None:
        """0 to start now, a delay to sleep for a rate window, None to wait for a slot."""
        if self.in_flight >= self.cap:
            return None
        if now < self._paused_until:
            return self._paused_until - now
        self._expire(now)
        span = self.window_s + WINDOW_MARGIN_S
        rpm = self.limits.rpm
        if rpm is not None and len(self._starts) >= rpm:
            return self._starts[0] + span - now + 0.001
        tpm = self.limits.tpm
        if tpm is not None and self._tokens and self._token_sum + tokens > tpm:
            return self._tokens[0].started + span - now + 0.001
        return 0.0

    async def acquire(self, tokens: int = 0) -> Permit:
        """Wait until a request of about `tokens` tokens may start; then it counts as started."""
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                now = time.monotonic()
                delay = self._delay_for(now, tokens)
                if delay == 0.0:
                    self.in_flight += 1
                    self.max_in_flight_seen = max(self.max_in_flight_seen, self.in_flight)
                    if self.limits.rpm is not None:
                        self._starts.append(now)
                    permit = Permit(tokens=tokens, started=now)
                    if self.limits.tpm is not None:
                        permit.in_window = True
                        self._tokens.append(permit)
                        self._token_sum += tokens
                    return permit
                if delay is None:
                    waiter: asyncio.Future[None] = loop.create_future()
                    self._waiters.append((loop, waiter))
            if delay is None:
                await waiter
            else:
                await asyncio.sleep(delay)

    def release(
        self,
        permit: Permit,
        *,
        used_tokens: int | None = None,
        rate_limited: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        with self._lock:
            self.in_flight -= 1
            if used_tokens is not None and permit.in_window:
                # the estimate becomes the real usage, in O(1): the permit is the window entry
                self._token_sum += used_tokens - permit.tokens
                permit.tokens = used_tokens
            if rate_limited:
                if self.limits.adaptive:
                    self.cap = max(1, self.cap // 2)
                    self._successes = 0
                pause = retry_after_s if retry_after_s is not None else 1.0
                self._paused_until = max(self._paused_until, time.monotonic() + pause)
            elif self.limits.adaptive and self.cap < self.limits.concurrency:
                self._successes += 1
                if self._successes >= self.cap:
                    self.cap += 1
                    self._successes = 0
            self._wake(self.cap - self.in_flight)

    def _wake(self, count: int) -> None:
        while count > 0 and self._waiters:
            loop, waiter = self._waiters.popleft()
            if waiter.done():
                continue
            loop.call_soon_threadsafe(_set_if_pending, waiter)
            count -= 1


def _set_if_pending(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


_registry: dict[str, AdaptiveLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(endpoint: str, limits: RateLimits) -> AdaptiveLimiter:
    """The one limiter of `endpoint` in this process (created on first use)."""
    with _registry_lock:
        limiter = _registry.get(endpoint)
        if limiter is None or limiter.limits != limits:
            limiter = _registry[endpoint] = AdaptiveLimiter(limits)
        return limiter
