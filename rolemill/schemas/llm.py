"""The recipe's `llm` section: which provider and model, with which limits and prices."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ProviderName = Literal["local", "openai", "anthropic"]

DEFAULT_KEY_ENV: dict[str, str | None] = {
    "local": None,
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
}
DEFAULT_MODEL: dict[str, str] = {
    "local": "SmolLM2-135M-Instruct",
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
}


class StrictModel(BaseModel):
    """A config model that rejects unknown keys, so typos surface as errors."""

    model_config = ConfigDict(extra="forbid")


class ModelPrice(StrictModel):
    """USD per million tokens."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class RateLimits(StrictModel):
    """Limits that hold for every caller of one provider endpoint in the process."""

    concurrency: int = Field(default=16, ge=1, description="max requests in flight")
    rpm: int | None = Field(default=None, ge=1, description="max requests per minute")
    tpm: int | None = Field(default=None, ge=1, description="max tokens per minute")
    adaptive: bool = Field(
        default=True, description="halve concurrency on 429, grow back on success"
    )


class RetryPolicy(StrictModel):
    max_attempts: int = Field(default=6, ge=1, description="transport attempts per request")
    base_delay_s: float = Field(default=0.5, gt=0)
    max_delay_s: float = Field(default=60.0, gt=0)
    max_parse_attempts: int = Field(
        default=3, ge=1, description="structured replies that fail to parse are re-asked this often"
    )


class GenerationParams(StrictModel):
    """Sampling parameters sent with each request (part of the cache key)."""

    temperature: float | None = Field(default=0.7, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int = Field(default=512, ge=1)


class LLMConfig(StrictModel):
    """Which LLM a build talks to. Keys never live here: only the names of where to find them."""

    provider: ProviderName = "local"
    model: str | None = Field(default=None, description="defaults per provider")
    base_url: str | None = Field(
        default=None, description="an OpenAI- or Anthropic-compatible endpoint"
    )
    api_key_env: str | None = Field(
        default=None, description="environment variable holding the key (default per provider)"
    )
    api_key_block: str | None = Field(
        default=None, description="name of a Prefect Secret block holding the key"
    )
    client: Literal["direct", "sdk"] = Field(
        default="direct",
        description="openai and local providers: post Chat Completions JSON directly over "
        "aiohttp (less CPU per request), or through the official openai SDK",
    )
    timeout_s: float = Field(default=120.0, gt=0)
    limits: RateLimits = Field(default_factory=RateLimits)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    params: GenerationParams = Field(default_factory=GenerationParams)
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict, description="per-model price overrides (USD per million tokens)"
    )
    cache_dir: Path | None = Field(default=None, description="response cache folder")
    refresh_cache: bool = Field(default=False, description="ignore cached replies and ask again")
    local_parallel: int = Field(default=4, ge=1, description="llama-server slots (local provider)")
    local_context: int = Field(default=2048, ge=256, description="context tokens per slot (local)")

    @model_validator(mode="after")
    def _fill_defaults(self) -> LLMConfig:
        if self.model is None:
            self.model = DEFAULT_MODEL[self.provider]
        if self.api_key_env is None:
            self.api_key_env = DEFAULT_KEY_ENV[self.provider]
        return self

    @property
    def model_name(self) -> str:
        assert self.model is not None  # filled by the validator
        return self.model
