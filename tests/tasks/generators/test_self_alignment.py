"""Ditto-style self-alignment on the scripted server: quotas, turn order, labels."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from rolemill.schemas.profile import CharacterProfile
from rolemill.schemas.recipe import SelfAlignmentConfig
from rolemill.schemas.seeds import CharacterSeed, SeedSet, SourceText
from rolemill.tasks.generators.base import Role
from rolemill.tasks.generators.self_alignment.generator import SelfAlignmentGenerator, dealt_kinds
from rolemill.testing.scripted_server import ScriptedLLMServer

ROLE = Role(
    CharacterSeed(
        id="clerk",
        name="The Clerk",
        work="A Test Novel",
        source=SourceText(
            description="A careful clerk who counts everything twice.",
            scene='Clerk: "Two and two, and two again."',
        ),
    ),
    CharacterProfile(
        description="A careful clerk in a counting house.",
        personality="Precise and wary.",
        background="Grew up above a ledger shop in an old port town.",
        speaking_style="Short sentences, many numbers.",
        catchphrases=["Count it twice."],
        knows=["ledgers", "coins"],
        does_not_know=["electric calculators"],
        example_lines=["Two and two, and two again."],
    ),
)


@pytest.mark.parametrize(("general", "refused"), [(0.3, 0.3), (0.1, 0.5), (0.0, 1.0)])
def test_kinds_follow_the_recipe_shares_exactly(general: float, refused: float) -> None:
    settings = SelfAlignmentConfig(
        dialogues_per_role=100, turns=5, general_share=general, out_of_knowledge_share=refused
    )
    counts = Counter(dealt_kinds("clerk", settings))
    assert sum(counts.values()) == 500
    assert counts["general"] == round(500 * general)
    assert counts["out_of_knowledge"] == round(500 * refused)
    assert dealt_kinds("clerk", settings) == dealt_kinds("clerk", settings)
    assert dealt_kinds("clerk", settings) != dealt_kinds("other-role", settings) or refused == 1


def test_with_one_turn_per_role_the_shares_hold_over_many_roles() -> None:
    """One question per role cannot be split 40/30/30; the rounding differs by role, so
    a dataset of many roles still has every kind in its share."""
    settings = SelfAlignmentConfig(dialogues_per_role=1, turns=1)
    counts = Counter(kind for i in range(1000) for kind in dealt_kinds(f"role-{i}", settings))
    assert abs(counts["out_of_knowledge"] / 1000 - 0.3) < 0.05
    assert abs(counts["general"] / 1000 - 0.3) < 0.05
    assert abs(counts["own_world"] / 1000 - 0.4) < 0.05


def test_a_multi_turn_dialogue_alternates_and_labels_each_turn(
    scripted: ScriptedLLMServer, make_gateway: Callable[..., Any]
) -> None:
    settings = SelfAlignmentConfig(
        enabled=True, dialogues_per_role=3, turns=2, out_of_knowledge_share=0.5, general_share=0
    )

    async def run() -> list[Any]:
        async with make_gateway(scripted) as gateway:
            generator = SelfAlignmentGenerator(
                gateway, settings, SeedSet(characters=[ROLE.character])
            )
            return [await generator.run(ROLE, job) for job in jobs]

    jobs = SelfAlignmentGenerator(None, settings, SeedSet(characters=[ROLE.character])).jobs(ROLE)  # type: ignore[arg-type]
    outcomes = asyncio.run(run())
    assert len(scripted.completed) == 3 * 2 * 2  # a question and an answer per turn
    kinds = [kind for _, job_kinds in jobs for kind in job_kinds]
    assert Counter(kinds) == {"own_world": 3, "out_of_knowledge": 3}
    for (_, job_kinds), outcome in zip(jobs, outcomes, strict=True):
        assert outcome.errors == [] and len(outcome.samples) == 1
        sample = outcome.samples[0]
        assert [m.role for m in sample.messages] == [
            "system", "user", "assistant", "user", "assistant"
        ]  # fmt: skip
        assert sample.task == "self_alignment/multi_turn"
        assert sample.fields["kinds"] == list(job_kinds)
        assert sample.fields["rejections"] == [k == "out_of_knowledge" for k in job_kinds]
        for kind, evidence in zip(job_kinds, sample.fields["evidence"], strict=True):
            expected = "electric calculators" if kind == "out_of_knowledge" else "ledger shop"
            assert expected in evidence
    refusal_prompts = [r.prompt for r in scripted.requests if r.structured]
    assert any(
        "cannot know" in prompt and "electric calculators" in prompt for prompt in refusal_prompts
    )


def test_out_of_knowledge_and_general_shares_hold_over_500_samples_built(
    scripted: ScriptedLLMServer, make_gateway: Callable[..., Any]
) -> None:
    """500 one-turn dialogues over 100 roles, built on the scripted server: the shares of
    the samples' own labels match the recipe within 5 points."""
    settings = SelfAlignmentConfig(
        enabled=True, dialogues_per_role=5, out_of_knowledge_share=0.3, general_share=0.25
    )
    roles = [
        Role(ROLE.character.model_copy(update={"id": f"clerk-{i}"}), ROLE.profile)
        for i in range(100)
    ]
    seeds = SeedSet(characters=[role.character for role in roles])

    async def run() -> list[Any]:
        async with make_gateway(scripted, limits={"concurrency": 64}) as gateway:
            generator = SelfAlignmentGenerator(gateway, settings, seeds)
            work = [generator.run(role, job) for role in roles for job in generator.jobs(role)]
            return await asyncio.gather(*work)

    samples = [sample for outcome in asyncio.run(run()) for sample in outcome.samples]
    assert len(samples) == 500
    kinds = Counter(kind for sample in samples for kind in sample.fields["kinds"])
    assert abs(kinds["out_of_knowledge"] / 500 - 0.3) <= 0.05
    assert abs(kinds["general"] / 500 - 0.25) <= 0.05
    rejected = sum(flag for sample in samples for flag in sample.fields["rejections"])
    assert rejected == kinds["out_of_knowledge"]


def test_a_question_that_names_the_role_is_asked_again(
    scripted: ScriptedLLMServer, make_gateway: Callable[..., Any]
) -> None:
    settings = SelfAlignmentConfig(enabled=True, dialogues_per_role=1, turns=1)
    asked_back = "What does The Clerk count first?"
    scripted.state.structured_fields["question"] = [asked_back, asked_back, "What do you count?"]
    seeds = SeedSet(characters=[ROLE.character])
    (job,) = SelfAlignmentGenerator(None, settings, seeds).jobs(ROLE)  # type: ignore[arg-type]

    async def run() -> Any:
        async with make_gateway(scripted) as gateway:
            return await SelfAlignmentGenerator(gateway, settings, seeds).run(ROLE, job)

    outcome = asyncio.run(run())
    (sample,) = outcome.samples
    assert sample.messages[1].content == "What do you count?"
    assert sum(r.structured for r in scripted.completed) == 3  # asked three times
    assert sample.provenance.prompt_tokens > 0
