"""The gateway against the real embedded llama-server: through both SDKs (openai, anthropic)
and the openai provider's direct client."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from rolemill.schemas.llm import GenerationParams, LLMConfig
from rolemill.tasks.llm import LLMGateway

pytestmark = pytest.mark.llm_server


class Name(BaseModel):
    name: str = Field(description="the character's name")


class Persona(BaseModel):
    name: str = Field(description="the character's name")
    era: str = Field(description="when the character lives")


SYSTEM = {"role": "system", "content": "You are Sherlock Holmes, the detective of Baker Street."}
ASK = {"role": "user", "content": "Who are you? Answer in one sentence."}
ASK_NAME = [{"role": "user", "content": "What is the name of the detective of Baker Street?"}]
DESCRIBE = [{"role": "user", "content": "Describe Sherlock Holmes: his name and his era."}]


def _gateway(
    server,
    tmp_path: Path,
    provider: str,
    monkeypatch: pytest.MonkeyPatch,
    client: Literal["direct", "sdk"] = "direct",
) -> LLMGateway:
    if provider == "anthropic":
        monkeypatch.setenv("ANTHROPIC_API_KEY", "not-needed-by-llama-server")
        base_url = server.root_url
    else:
        base_url = server.base_url
    return LLMGateway(
        LLMConfig(
            provider=provider,
            model=server.model_name,
            base_url=base_url,
            api_key_env="ANTHROPIC_API_KEY" if provider == "anthropic" else None,
            cache_dir=tmp_path / "cache",
            params=GenerationParams(temperature=0.7, max_tokens=80),
            client=client,
        )
    )


def test_local_provider_chat_and_structured(embedded_server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ROLEMILL_LOCAL_BASE_URL", embedded_server.base_url)
    gateway = LLMGateway(
        LLMConfig(
            provider="local", cache_dir=tmp_path / "cache", params=GenerationParams(max_tokens=80)
        )
    )

    async def run():
        async with gateway:
            return (
                await gateway.chat([SYSTEM, ASK], seed=1),
                await gateway.structured(DESCRIBE, Persona, seed=1, max_string=60),
            )

    chat, persona = asyncio.run(run())
    assert chat.ok and chat.text and chat.text.strip()
    assert chat.model == "SmolLM2-135M-Instruct"
    assert chat.usage.prompt_tokens > 10 and chat.usage.completion_tokens > 0
    # json_schema makes the server constrain its grammar: the tiny model still gives valid JSON
    assert persona.ok, persona.error
    assert persona.attempts == 1
    assert 0 < len(persona.value.name) <= 60 and len(persona.value.era) <= 60
    assert gateway.usage.requests == 2 and gateway.usage.cost_usd == 0.0

    again = LLMGateway(gateway.config)
    asyncio.run(again.structured(DESCRIBE, Persona, seed=1, max_string=60))
    assert again.usage.requests == 0 and again.usage.cache_hits == 1


@pytest.mark.parametrize("client", ["sdk", "direct"])
def test_openai_provider_chat_and_grammar_constrained_structured(
    embedded_server, tmp_path: Path, monkeypatch, client: Literal["direct", "sdk"]
) -> None:
    """Through the official openai SDK, and posted directly (the default `llm.client`)."""
    monkeypatch.setenv("OPENAI_API_KEY", "not-needed-by-llama-server")
    gateway = _gateway(embedded_server, tmp_path, "openai", monkeypatch, client)

    async def run():
        async with gateway:
            chat = await gateway.chat([SYSTEM, ASK], seed=3)
            return chat, await asyncio.gather(
                *(gateway.structured(DESCRIBE, Persona, seed=s, max_string=40) for s in range(4))
            )

    chat, results = asyncio.run(run())
    assert chat.ok and chat.text.strip() and chat.usage.completion_tokens > 0
    assert all(r.ok and r.attempts == 1 for r in results), [r.error for r in results]


def test_anthropic_sdk_chat_and_structured(embedded_server, tmp_path: Path, monkeypatch) -> None:
    gateway = _gateway(embedded_server, tmp_path, "anthropic", monkeypatch)
    longer = GenerationParams(temperature=0.7, max_tokens=120)

    async def run():
        async with gateway:
            chat = await gateway.chat([SYSTEM, ASK], seed=2)
            structured = [
                await gateway.structured(ASK_NAME, Name, seed=s, params=longer, max_string=60)
                for s in range(8)
            ]
            return chat, structured

    chat, structured = asyncio.run(run())
    assert chat.ok and chat.text and chat.text.strip()
    assert chat.usage.prompt_tokens > 10 and chat.usage.completion_tokens > 0
    # llama-server's /v1/messages has no JSON-schema grammar, so the tiny model is only
    # prompted (schema in the system prompt, `{` prefilled): each call ends valid or as a
    # reported failure. Measured here: about 3 in 4 calls end valid within 3 attempts.
    assert all(r.ok or (r.error and "unusable" in r.error) for r in structured)
    valid = [r.value for r in structured if r.ok]
    assert len(valid) >= 2, [r.error for r in structured]
    assert all(isinstance(v, Name) and v.name.strip() for v in valid)
