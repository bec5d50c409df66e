"""The build's stages as Prefect tasks. Generation stages take a shard of roles and run
its LLM calls concurrently inside one task (never one task per call); each writes its
rows to a shard file in the run workspace and returns a small report."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from rolemill.flows.progress import progress
from rolemill.schemas.dataset_configs import DATASET_CONFIGS
from rolemill.schemas.profile import (
    CharacterProfile,
    profile_from_row,
    profile_row,
    profile_segments,
)
from rolemill.schemas.recipe import Recipe
from rolemill.schemas.sample import Provenance
from rolemill.schemas.seeds import CharacterSeed
from rolemill.tasks.generators.context_instruct.generator import ContextInstructGenerator
from rolemill.tasks.generators.profiles.generator import PROMPT as PROFILE_PROMPT
from rolemill.tasks.generators.profiles.generator import ProfileGenerator
from rolemill.tasks.llm import LLMGateway, Usage
from rolemill.tasks.parquet import write_arrow

T = TypeVar("T")

PROFILES_SCHEMA = DATASET_CONFIGS["profiles"].arrow_schema
CONTEXT_INSTRUCT_SCHEMA = DATASET_CONFIGS["context_instruct"].arrow_schema


@dataclass
class ShardReport:
    stage: str
    index: int
    path: str
    rows: int
    usage: Usage
    failures: list[str] = field(default_factory=list)
    below_threshold: int = 0


async def _each(stage: str, items: list[T], work: Callable[[T], Awaitable[object]]) -> list[object]:
    """Run `work` on every item concurrently (the gateway's limiter bounds the load),
    advancing the stage's progress as each one finishes."""

    async def one(item: T) -> object:
        result = await work(item)
        progress().advance(stage)
        return result

    return await asyncio.gather(*(one(item) for item in items))


@task(name="profiles-shard", cache_policy=NO_CACHE)
def profiles_shard(
    index: int, characters: list[CharacterSeed], recipe: Recipe, out: Path, run_id: str = ""
) -> ShardReport:
    """One structured request per character; characters whose reply never parses are
    reported as failures and left out."""

    async def run() -> ShardReport:
        usage = Usage()
        rows, failures = [], []
        async with LLMGateway(recipe.llm) as gateway:
            generator = ProfileGenerator(gateway, recipe.generators.profiles.max_tokens)
            outcomes = await _each("profiles", characters, generator.generate)
        for outcome in outcomes:
            usage.add(outcome.usage)
            if outcome.profile is None:
                failures.append(f"profile of {outcome.character.id}: {outcome.error}")
                continue
            provenance = Provenance(
                model=gateway.model,
                provider=recipe.llm.provider,
                prompt_hash=PROFILE_PROMPT.hash,
                recipe_hash=recipe.content_hash(),
                run_id=run_id,
                prompt_tokens=outcome.usage.prompt_tokens,
                completion_tokens=outcome.usage.completion_tokens,
            )
            rows.append(profile_row(outcome.character, outcome.profile, provenance))
        write_arrow(pa.Table.from_pylist(rows, schema=PROFILES_SCHEMA), out)
        return ShardReport("profiles", index, str(out), len(rows), usage, failures)

    return asyncio.run(run())


@task(name="context-instruct-shard", cache_policy=NO_CACHE)
def context_instruct_shard(
    index: int,
    characters: list[CharacterSeed],
    profiles: ShardReport,
    recipe: Recipe,
    out: Path,
    run_id: str = "",
) -> ShardReport:
    """Questions and in-character answers for every segment of every profile in the shard.

    `profiles` is the report of the shard's profiles task; given as that task's future,
    Prefect starts this shard as soon as its own profiles are done.
    """
    config = recipe.generators.context_instruct
    profile_of: dict[str, CharacterProfile] = {
        row["role_id"]: profile_from_row(row) for row in pq.read_table(profiles.path).to_pylist()
    }
    jobs = [
        (character, profile_of[character.id], segment, round_index)
        for character in characters
        if character.id in profile_of
        for segment in profile_segments(
            profile_of[character.id], character.source.scene, config.segments
        )
        for round_index in range(config.rounds)
    ]

    async def run() -> ShardReport:
        async with LLMGateway(recipe.llm) as gateway:
            generator = ContextInstructGenerator(gateway, config, recipe.content_hash(), run_id)
            outcomes = await _each("context_instruct", jobs, lambda job: generator.generate(*job))
        usage, rows, failures, below = Usage(), [], [], 0
        for outcome in outcomes:
            usage.add(outcome.usage)
            rows.extend(sample.model_dump() for sample in outcome.samples)
            failures.extend(outcome.errors)
            below += outcome.below_threshold
        write_arrow(pa.Table.from_pylist(rows, schema=CONTEXT_INSTRUCT_SCHEMA), out)
        return ShardReport("context_instruct", index, str(out), len(rows), usage, failures, below)

    return asyncio.run(run())
