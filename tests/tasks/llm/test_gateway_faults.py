"""The gateway against the scripted server: faults, bounded retries, the cache."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel, Field

from rolemill.testing.scripted_server import ScriptedLLMServer, digest


class QA(BaseModel):
    question: str
    confidence: float = Field(ge=0, le=1)
    answer: str


def _ask(text: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You are Sherlock Holmes."},
        {"role": "user", "content": text},
    ]


FAULT_PLANS = {
    "clean": "",
    "rate-limited": "429,429",
    "server-errors": "500,503",
    "timeout": "timeout",
    "truncated": "truncated",
    "malformed": "malformed,invalid",
    "mixed": "429,500,truncated",
    "hopeless-transport": "500,500,500,500,500,500",
    "hopeless-parse": "malformed,malformed,malformed",
    "rejected": "400",
}


def _prompt(name: str) -> list[dict[str, str]]:
    plan = FAULT_PLANS[name]
    return _ask(f"Question {name}" + (f" [[faults: {plan}]]" if plan else ""))


async def _run_all(gateway) -> dict:
    async def one(name: str):
        return name, await gateway.structured(_prompt(name), QA, seed=7)

    async with gateway:
        return dict(await asyncio.gather(*(one(name) for name in FAULT_PLANS)))


def _chat(gateway, messages, **kwargs):
    async def run():
        async with gateway:
            return await gateway.chat(messages, **kwargs)

    return asyncio.run(run())


@pytest.mark.parametrize("client", ["direct", "sdk"])
def test_every_request_ends_in_a_result_or_a_reported_failure(
    scripted: ScriptedLLMServer, make_gateway, client: str
) -> None:
    gateway = make_gateway(scripted, client=client)
    results = asyncio.run(_run_all(gateway))

    for name in (
        "clean",
        "rate-limited",
        "server-errors",
        "timeout",
        "truncated",
        "malformed",
        "mixed",
    ):
        assert results[name].ok, (name, results[name].error)
        assert isinstance(results[name].value, QA)
    assert not results["hopeless-transport"].ok
    assert "gave up after 4 attempt(s)" in results["hopeless-transport"].error
    assert "500" in results["hopeless-transport"].error
    assert not results["hopeless-parse"].ok
    assert "unusable" in results["hopeless-parse"].error
    assert not results["rejected"].ok and "400" in results["rejected"].error

    # Retries are bounded: 4 transport attempts, 3 parse attempts, no more.
    per_prompt: dict[str, int] = {}
    for entry in scripted.requests:
        per_prompt[entry.messages_hash] = per_prompt.get(entry.messages_hash, 0) + 1
    assert max(per_prompt.values()) <= 4
    assert len(scripted.requests) == 1 + 3 + 3 + 2 + 2 + 3 + 4 + 4 + 3 + 1
    assert gateway.usage.failures == 3


def test_a_second_run_sends_zero_requests(scripted: ScriptedLLMServer, make_gateway) -> None:
    first = asyncio.run(_run_all(make_gateway(scripted)))
    sent = len(scripted.requests)
    paid_for = {entry.messages_hash for entry in scripted.completed}

    again = make_gateway(scripted)
    second = asyncio.run(_run_all(again))

    # Transport failures are not cached, so those two prompts ask again; nothing else does.
    resent = {entry.messages_hash for entry in scripted.requests[sent:]}
    assert resent == {digest(_prompt("hopeless-transport")), digest(_prompt("rejected"))}
    assert not resent & paid_for  # no completed request was paid for twice
    for name in FAULT_PLANS:
        if first[name].ok:
            assert second[name].value == first[name].value
    assert again.usage.cache_hits >= 10


def test_refresh_asks_again(scripted: ScriptedLLMServer, make_gateway) -> None:
    _chat(make_gateway(scripted), _ask("hello"))
    _chat(make_gateway(scripted), _ask("hello"))
    assert len(scripted.requests) == 1
    _chat(make_gateway(scripted, refresh_cache=True), _ask("hello"))
    assert len(scripted.requests) == 2


def test_retry_after_is_honoured(scripted: ScriptedLLMServer, make_gateway) -> None:
    result = _chat(make_gateway(scripted), _ask("wait [[faults: 429]]"))
    assert result.ok
    first, second = scripted.requests
    assert second.received - first.finished >= 0.3  # the server asked for 0.3 s


def test_different_seeds_are_different_requests(scripted: ScriptedLLMServer, make_gateway) -> None:
    gateway = make_gateway(scripted)

    async def run() -> list:
        async with gateway:
            return [await gateway.chat(_ask("same prompt"), seed=s) for s in (1, 2, 1)]

    replies = asyncio.run(run())
    assert len(scripted.requests) == 2
    assert replies[0].text == replies[2].text != replies[1].text


def test_usage_and_cost_are_summed(scripted: ScriptedLLMServer, make_gateway) -> None:
    from rolemill.schemas.llm import ModelPrice

    gateway = make_gateway(
        scripted, prices={"scripted-model": ModelPrice(input_per_mtok=1e6, output_per_mtok=2e6)}
    )

    async def run() -> list:
        async with gateway:
            return [await gateway.chat(_ask(f"count {i}")) for i in range(3)]

    results = asyncio.run(run())
    prompt = sum(r.usage.prompt_tokens for r in results)
    completion = sum(r.usage.completion_tokens for r in results)
    assert prompt > 0 and completion > 0
    assert gateway.usage.requests == 3
    assert gateway.usage.prompt_tokens == prompt
    assert gateway.usage.cost_usd == prompt * 1.0 + completion * 2.0
