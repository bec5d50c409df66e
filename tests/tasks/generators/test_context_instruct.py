"""Context-Instruct on the scripted server: the recipe's confidence threshold decides which
questions become samples, and the rest are counted as filtered."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rolemill.schemas.recipe import ContextInstructConfig
from rolemill.schemas.seeds import SeedSet
from rolemill.tasks.generators.base import JobOutcome
from rolemill.tasks.generators.context_instruct.generator import ContextInstructGenerator
from rolemill.testing.scripted_server import ScriptedLLMServer
from tests.tasks.generators.test_self_alignment import ROLE


def outcomes(
    server: ScriptedLLMServer, make_gateway: Callable[..., Any], min_confidence: int
) -> list[JobOutcome]:
    settings = ContextInstructConfig(questions_per_segment=3, min_confidence=min_confidence)
    seeds = SeedSet(characters=[ROLE.character])

    async def run() -> list[JobOutcome]:
        async with make_gateway(server) as gateway:
            generator = ContextInstructGenerator(gateway, settings, seeds)
            return [await generator.run(ROLE, job) for job in generator.jobs(ROLE)]

    return asyncio.run(run())


def test_questions_below_the_threshold_are_dropped_and_counted(
    scripted: ScriptedLLMServer, make_gateway: Callable[..., Any]
) -> None:
    everything = outcomes(scripted, make_gateway, min_confidence=0)
    assert all(not o.errors and o.filtered == 0 for o in everything)
    confidences = [s.fields["confidence"] for o in everything for s in o.samples]
    assert len(confidences) >= 6 and len(set(confidences)) > 1
    threshold = sorted(confidences)[len(confidences) // 2]  # some on each side
    sent = len(scripted.requests)

    kept = outcomes(scripted, make_gateway, min_confidence=threshold)
    assert len(scripted.requests) == sent  # the same replies, from the cache
    kept_confidences = [s.fields["confidence"] for o in kept for s in o.samples]
    assert sorted(kept_confidences) == sorted(c for c in confidences if c >= threshold)
    assert sum(o.filtered for o in kept) == sum(c < threshold for c in confidences) > 0
