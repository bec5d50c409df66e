"""RoleGPT style imitation on the scripted server: few-shot prompt, plain published system
prompt, a stable per-role draw of instructions in the role's language, failures reported."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rolemill.schemas.recipe import StyleTransferConfig
from rolemill.schemas.seeds import Instruction, SeedSet
from rolemill.tasks.generators.base import JobOutcome
from rolemill.tasks.generators.role_system import role_system_prompt
from rolemill.tasks.generators.style_transfer.generator import StyleTransferGenerator
from rolemill.testing.scripted_server import ScriptedLLMServer
from tests.tasks.generators.test_self_alignment import ROLE

ENGLISH = [
    Instruction(id=f"en-{i:02d}", instruction=f"Describe a rainy day, part {i}.") for i in range(12)
]
CHINESE = [Instruction(id="zh-00", language="zh", instruction="请描述一个下雨天。")]


def generator(
    gateway: Any, instructions: list[Instruction], per_role: int
) -> StyleTransferGenerator:
    settings = StyleTransferConfig(enabled=True, instructions_per_role=per_role)
    return StyleTransferGenerator(
        gateway, settings, SeedSet(characters=[ROLE.character], instructions=instructions)
    )


def run_all(
    server: ScriptedLLMServer, make_gateway: Callable[..., Any], instructions: list[Instruction]
) -> list[JobOutcome]:
    async def run() -> list[JobOutcome]:
        async with make_gateway(server) as gateway:
            made = generator(gateway, instructions, per_role=3)
            return [await made.run(ROLE, job) for job in made.jobs(ROLE)]

    return asyncio.run(run())


def test_the_prompt_is_few_shot_and_the_sample_keeps_the_plain_role_prompt(
    scripted: ScriptedLLMServer, make_gateway: Callable[..., Any]
) -> None:
    outcomes = run_all(scripted, make_gateway, ENGLISH + CHINESE)
    assert len(outcomes) == len(scripted.requests) == 3
    profile = ROLE.profile
    for request in scripted.requests:  # the model saw the role's style, phrases and lines
        assert profile.speaking_style in request.prompt
        assert profile.catchphrases[0] in request.prompt
        assert profile.example_lines[0] in request.prompt
    for outcome in outcomes:
        (sample,) = outcome.samples
        system, user, assistant = sample.messages
        assert system.content == role_system_prompt(ROLE)  # no few-shot lines in the data
        assert profile.example_lines[0] not in system.content
        instruction = next(i for i in ENGLISH if i.id == sample.fields["instruction_id"])
        assert user.content == instruction.instruction  # the instruction as the user asked it
        assert assistant.content.startswith("Scripted reply:")
        assert sample.task == "style_transfer/general" and sample.language == "en"


def test_the_draw_is_stable_in_the_roles_language_and_survives_new_instructions() -> None:
    draw = generator(None, ENGLISH + CHINESE, per_role=4).instructions_for(ROLE)
    assert [i.language for i in draw] == ["en"] * 4  # the Chinese one is not this role's
    assert draw == generator(None, list(reversed(ENGLISH + CHINESE)), 4).instructions_for(ROLE)
    more = ENGLISH + [Instruction(id=f"en-new-{i}", instruction=f"New task {i}.") for i in range(2)]
    kept = set(i.id for i in draw) & set(
        i.id for i in generator(None, more, 4).instructions_for(ROLE)
    )
    assert len(kept) >= 2  # new instructions displace at most two of the earlier four


def test_a_failed_request_is_a_reported_failure_not_a_sample(
    scripted: ScriptedLLMServer, make_gateway: Callable[..., Any]
) -> None:
    rejected = [Instruction(id="bad", instruction="Say hello. [[faults: 400]]")]

    async def run() -> JobOutcome:
        async with make_gateway(scripted) as gateway:
            return await generator(gateway, rejected, per_role=1).run(ROLE, rejected[0])

    outcome = asyncio.run(run())
    assert outcome.samples == []
    assert (
        outcome.errors
        and outcome.errors[0].startswith("clerk/bad: ")
        and "400" in outcome.errors[0]
    )
