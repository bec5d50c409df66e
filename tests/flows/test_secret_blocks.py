"""API keys from a Prefect Secret block (on a real Prefect server): the gateway sends the
block's key, masks it wherever a server echoes it, and a missing block is one clear error."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from prefect.blocks.system import Secret
from prefect.settings import PREFECT_API_URL, temporary_settings

from rolemill.tasks.llm.errors import LLMConfigurationError
from rolemill.testing.scripted_server import ScriptedLLMServer

BLOCK_KEY = "sk-from-a-prefect-secret-block-777"


def test_the_key_comes_from_the_secret_block_and_is_masked(
    prefect_api: str,
    scripted: ScriptedLLMServer,
    make_gateway: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with temporary_settings({PREFECT_API_URL: prefect_api}):
        Secret(value=BLOCK_KEY).save("rolemill-test-openai-key", overwrite=True)
        gateway = make_gateway(scripted, api_key_block="rolemill-test-openai-key")

        async def run() -> list[Any]:
            async with gateway:
                return [
                    await gateway.chat([{"role": "user", "content": "hello"}]),
                    # the server echoes the Authorization header it got into its error text
                    await gateway.chat(
                        [
                            {
                                "role": "user",
                                "content": "x [[faults: echo-key,echo-key,echo-key,echo-key]]",
                            }
                        ]
                    ),
                ]

        fine, echoed = asyncio.run(run())
    assert fine.ok and scripted.requests[-1].authorization
    assert not echoed.ok and "Bearer ***" in echoed.error  # the block's key, masked
    assert BLOCK_KEY not in echoed.error


def test_a_missing_secret_block_is_one_clear_error(
    prefect_api: str,
    scripted: ScriptedLLMServer,
    make_gateway: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with temporary_settings({PREFECT_API_URL: prefect_api}):
        gateway = make_gateway(scripted, api_key_block="no-such-block")

        async def run() -> Any:
            async with gateway:
                return await gateway.chat([{"role": "user", "content": "hello"}])

        with pytest.raises(LLMConfigurationError) as error:
            asyncio.run(run())
    message = str(error.value)
    assert "Prefect Secret block 'no-such-block'" in message
    assert "OPENAI_API_KEY" in message  # what to set instead


def test_the_hub_token_comes_from_the_secret_block(
    prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rolemill.tasks.llm.secrets import redact
    from rolemill.tasks.publish.hf_hub import HubError, _resolve_token

    monkeypatch.delenv("HF_TOKEN", raising=False)
    with temporary_settings({PREFECT_API_URL: prefect_api}):
        Secret(value="hf_token_from_a_block_123").save("rolemill-test-hf-token", overwrite=True)
        assert _resolve_token("rolemill-test-hf-token") == "hf_token_from_a_block_123"
        assert redact("token hf_token_from_a_block_123") == "token ***"  # registered
        with pytest.raises(HubError, match=r"'no-such-block'.*set HF_TOKEN"):
            _resolve_token("no-such-block")
