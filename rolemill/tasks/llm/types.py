"""Values that cross the gateway boundary: requests, provider replies, results, usage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """What a provider sends: messages, sampling params and an optional JSON schema."""

    messages: list[dict[str, str]]
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    schema: dict[str, Any] | None = None
    schema_name: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderReply:
    """What a provider answered (and what the cache stores)."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "finish_reason": self.finish_reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProviderReply:
        return cls(**data)


@dataclass(slots=True)
class Usage:
    """Token usage and cost, per request or summed over a run."""

    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    failures: int = 0

    def add(self, other: Usage) -> None:
        self.requests += other.requests
        self.cache_hits += other.cache_hits
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost_usd += other.cost_usd
        self.failures += other.failures

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6),
            "failures": self.failures,
        }


@dataclass(slots=True)
class ChatResult:
    """A chat reply, or the reason there is none (`error`)."""

    text: str | None
    usage: Usage
    model: str
    latency_s: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class StructuredResult(Generic[T]):
    """A validated object, or the reason there is none (`error`) with the last raw text."""

    value: T | None
    usage: Usage
    model: str
    latency_s: float = 0.0
    error: str | None = None
    raw_text: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None
