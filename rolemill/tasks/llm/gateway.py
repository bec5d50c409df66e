"""LLMGateway: `chat` and `structured` over any provider, with cache, limits, retries and cost.

Every request goes: cache lookup -> limiter (concurrency, RPM, TPM) -> provider ->
retry with exponential backoff and jitter on transient errors (honouring
Retry-After) -> cache write -> usage and cost. A structured reply that does not
parse or validate is asked again (a new seed, its own cache entry) a bounded number
of times, then returned as a failed result with its reason; it never raises.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import random
import threading
import time
import weakref
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from rolemill.schemas.llm import GenerationParams, LLMConfig
from rolemill.tasks.llm.cache import ResponseCache, cache_key
from rolemill.tasks.llm.embedded_build import cache_root
from rolemill.tasks.llm.errors import RequestRejected, TransientProviderError
from rolemill.tasks.llm.global_limits import GlobalLimiter
from rolemill.tasks.llm.pricing import cost_usd, price_for
from rolemill.tasks.llm.providers import AnthropicProvider, OpenAIProvider, Provider, unreachable
from rolemill.tasks.llm.rate_limit import AdaptiveLimiter, limiter_for
from rolemill.tasks.llm.secrets import install_log_redaction, redact, resolve_api_key
from rolemill.tasks.llm.structured_output import (
    StructuredOutputError,
    parse_structured,
    strict_json_schema,
)
from rolemill.tasks.llm.types import ChatResult, LLMRequest, ProviderReply, StructuredResult, Usage

T = TypeVar("T", bound=BaseModel)
log = logging.getLogger("rolemill.llm")

MAX_RETRY_AFTER_S = 600.0


class _RequestFailed(Exception):
    """All transport attempts of one request failed; the message is the reason."""


def default_cache_path() -> Path:
    """ROLEMILL_LLM_CACHE_DIR, else `llm/` in the per-machine cache folder."""
    folder = os.environ.get("ROLEMILL_LLM_CACHE_DIR")
    return (Path(folder) if folder else cache_root() / "llm") / "responses.sqlite"


def backoff_delay(attempt: int, base_s: float, max_s: float) -> float:
    """Exponential backoff with equal jitter: half fixed, half random."""
    ceiling = min(max_s, base_s * (2**attempt))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def estimate_tokens(request: LLMRequest) -> int:
    """A cheap upper-ish estimate for TPM budgeting: ~4 characters a token, plus the reply cap."""
    chars = sum(len(m["content"]) for m in request.messages)
    return chars // 4 + request.max_tokens


class LLMGateway:
    def __init__(
        self, config: LLMConfig, cache: ResponseCache | None = None, cross_process: bool = False
    ):
        """cross_process: hold the provider's limits across processes (Prefect global
        concurrency limits, see global_limits.py) instead of in this process."""
        self.config = config
        self.cross_process = cross_process
        self.model = config.model_name
        self.cache = cache or ResponseCache(
            (config.cache_dir / "responses.sqlite") if config.cache_dir else default_cache_path()
        )
        self.price = price_for(self.model, config.provider, config.prices)
        self.usage = Usage()
        self._usage_lock = threading.Lock()
        # SDK clients belong to one event loop; Prefect may run shards on several.
        self._providers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Provider] = (
            weakref.WeakKeyDictionary()
        )
        self._provider_lock = threading.Lock()
        self._any_success = False
        install_log_redaction()

    # -- provider wiring ---------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"{self.config.provider}|{self.config.base_url or 'default'}"

    @property
    def limiter(self) -> AdaptiveLimiter | GlobalLimiter:
        if self.cross_process:
            return GlobalLimiter(self.config)
        return limiter_for(self.endpoint, self.config.limits)

    def provider(self) -> Provider:
        """This event loop's provider client (made on first use)."""
        loop = asyncio.get_running_loop()
        with self._provider_lock:
            provider = self._providers.get(loop)
            if provider is None:
                provider = self._providers[loop] = self._make_provider()
            return provider

    def _make_provider(self) -> Provider:
        cfg = self.config
        if cfg.provider == "local":
            base_url = cfg.base_url or os.environ.get("ROLEMILL_LOCAL_BASE_URL")
            if base_url is None:
                from rolemill.tasks.llm.local_server import shared_local_server

                base_url = shared_local_server(cfg.local_parallel, cfg.local_context).base_url
            return OpenAIProvider(
                self.model,
                "local-no-key",
                base_url,
                cfg.timeout_s,
                provider_label="local",
                client=cfg.client,
            )
        key = resolve_api_key(cfg.provider, cfg.api_key_env, cfg.api_key_block)
        if cfg.provider == "anthropic":
            return AnthropicProvider(self.model, key, cfg.base_url, cfg.timeout_s)
        return OpenAIProvider(self.model, key, cfg.base_url, cfg.timeout_s, client=cfg.client)

    async def aclose(self) -> None:
        """Close this event loop's provider client."""
        with self._provider_lock:
            provider = self._providers.pop(asyncio.get_running_loop(), None)
        if provider is not None:
            await provider.aclose()

    async def __aenter__(self) -> LLMGateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- public interface ----------------------------------------------------------------

    async def chat(
        self,
        messages: list[dict[str, str]],
        *,
        seed: int | None = None,
        params: GenerationParams | None = None,
    ) -> ChatResult:
        started = time.perf_counter()
        request = self._request(messages, params, seed, schema=None, schema_name=None)
        usage = Usage()
        try:
            reply = await self._reply(request, usage, parse_attempt=0)
        except (_RequestFailed, RequestRejected) as exc:
            usage.failures += 1
            self._account(usage)
            return ChatResult(
                None, usage, self.model, time.perf_counter() - started, error=str(exc)
            )
        self._account(usage)
        return ChatResult(reply.text, usage, reply.model, time.perf_counter() - started)

    async def structured(
        self,
        messages: list[dict[str, str]],
        output: type[T],
        *,
        seed: int | None = None,
        params: GenerationParams | None = None,
        max_string: int = 2000,
    ) -> StructuredResult[T]:
        started = time.perf_counter()
        schema = strict_json_schema(output, max_string)
        usage = Usage()
        error = ""
        raw: str | None = None
        attempt = 0
        attempts = self.config.retry.max_parse_attempts
        for attempt in range(attempts):
            attempt_seed = seed if attempt == 0 else (seed or 0) + attempt
            request = self._request(messages, params, attempt_seed, schema, output.__name__)
            try:
                reply = await self._reply(request, usage, parse_attempt=attempt)
            except (_RequestFailed, RequestRejected) as exc:
                error = str(exc)
                break
            raw = reply.text
            try:
                value = parse_structured(reply.text, output)
            except StructuredOutputError as exc:
                error = f"reply {attempt + 1}/{attempts} unusable: {exc}"
                log.debug("structured %s: %s", output.__name__, error)
                continue
            self._account(usage)
            return StructuredResult(
                value,
                usage,
                reply.model,
                time.perf_counter() - started,
                raw_text=raw,
                attempts=attempt + 1,
            )
        usage.failures += 1
        self._account(usage)
        return StructuredResult(
            None,
            usage,
            self.model,
            time.perf_counter() - started,
            error=error,
            raw_text=raw,
            attempts=attempt + 1,  # fewer than the limit when a transport failure ended it
        )

    # -- internals -------------------------------------------------------------------------

    def _request(
        self,
        messages: list[dict[str, str]],
        params: GenerationParams | None,
        seed: int | None,
        schema: dict[str, Any] | None,
        schema_name: str | None,
    ) -> LLMRequest:
        p = params or self.config.params
        return LLMRequest(
            messages=[{"role": m["role"], "content": m["content"]} for m in messages],
            max_tokens=p.max_tokens,
            temperature=p.temperature,
            top_p=p.top_p,
            seed=seed,
            schema=schema,
            schema_name=schema_name,
        )

    def _key(self, request: LLMRequest, parse_attempt: int) -> str:
        return cache_key(
            provider=self.config.provider,
            model=self.model,
            messages=request.messages,
            params={
                "max_tokens": request.max_tokens,
                "temperature": request.temperature,
                "top_p": request.top_p,
            },
            schema=request.schema,
            seed=request.seed,
            parse_attempt=parse_attempt,
        )

    async def _reply(self, request: LLMRequest, usage: Usage, parse_attempt: int) -> ProviderReply:
        key = self._key(request, parse_attempt)
        if not self.config.refresh_cache:
            cached = self.cache.get(key)
            if cached is not None:
                usage.cache_hits += 1
                return cached
        reply = await self._send_with_retries(request)
        self.cache.put(key, reply)  # before anything else: a crash now never pays twice
        usage.requests += 1
        usage.prompt_tokens += reply.prompt_tokens
        usage.completion_tokens += reply.completion_tokens
        usage.cost_usd += cost_usd(self.price, reply.prompt_tokens, reply.completion_tokens)
        return reply

    async def _send_with_retries(self, request: LLMRequest) -> ProviderReply:
        provider = self.provider()
        limiter = self.limiter
        policy = self.config.retry
        estimate = estimate_tokens(request)
        reasons: list[str] = []
        for attempt in range(policy.max_attempts):
            permit = await limiter.acquire(estimate)
            try:
                reply = await provider.send(request)
            except TransientProviderError as exc:
                await _released(
                    limiter.release(
                        permit,  # type: ignore[arg-type]
                        rate_limited=exc.rate_limited,
                        retry_after_s=exc.retry_after_s,
                    )
                )
                reasons.append(exc.reason)
                if attempt + 1 == policy.max_attempts:
                    break
                if exc.retry_after_s is not None:
                    delay = min(exc.retry_after_s, MAX_RETRY_AFTER_S)
                else:
                    delay = backoff_delay(attempt, policy.base_delay_s, policy.max_delay_s)
                log.debug("retrying in %.2fs after: %s", delay, exc.reason)
                await asyncio.sleep(delay)
                continue
            except BaseException:
                await _released(limiter.release(permit))  # type: ignore[arg-type]
                raise
            used = reply.prompt_tokens + reply.completion_tokens
            await _released(limiter.release(permit, used_tokens=used))  # type: ignore[arg-type]
            self._any_success = True
            return reply
        if not self._any_success and all(r.startswith("connection error") for r in reasons):
            raise unreachable(self.config.provider, self.config.base_url)
        summary = redact("; ".join(dict.fromkeys(reasons)))
        raise _RequestFailed(f"gave up after {len(reasons)} attempt(s): {summary}")

    def _account(self, usage: Usage) -> None:
        with self._usage_lock:
            self.usage.add(usage)


async def _released(outcome: object) -> None:
    """A global limiter's release goes through the API (a coroutine); a local one is done."""
    if inspect.isawaitable(outcome):
        await outcome
