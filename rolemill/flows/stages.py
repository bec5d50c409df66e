"""The build's stages as Prefect tasks. Generation stages take a shard of roles and run
its LLM calls concurrently inside one task (never one task per call); each writes its
rows to a shard file in the run workspace and returns a small report."""

from __future__ import annotations

import asyncio
import os
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
from rolemill.schemas.profile import CharacterProfile, profile_from_row, profile_row
from rolemill.schemas.recipe import Recipe
from rolemill.schemas.sample import Provenance
from rolemill.schemas.seeds import CharacterSeed, SeedSet
from rolemill.tasks.generators.base import Role
from rolemill.tasks.generators.profiles.generator import PROMPT as PROFILE_PROMPT
from rolemill.tasks.generators.profiles.generator import ProfileGenerator
from rolemill.tasks.generators.profiles.persona import PERSONA_PROMPT, PersonaProfileGenerator
from rolemill.tasks.generators.registry import GENERATORS
from rolemill.tasks.llm import LLMGateway, Usage
from rolemill.tasks.parquet import write_arrow
from rolemill.tasks.persona_pool import PersonaPool

T = TypeVar("T")

PROFILES_SCHEMA = DATASET_CONFIGS["profiles"].arrow_schema


@dataclass
class ShardReport:
    stage: str
    index: int
    path: str
    rows: int
    usage: Usage
    failures: list[str] = field(default_factory=list)
    below_threshold: int = 0
    pid: int = field(default_factory=os.getpid)  # the process that ran the shard


async def _each(stage: str, items: list[T], work: Callable[[T], Awaitable[object]]) -> list[object]:
    """Run `work` on every item concurrently (the gateway's limiter bounds the load),
    advancing the stage's progress as each one finishes."""

    async def one(item: T) -> object:
        result = await work(item)
        progress().advance(stage)
        return result

    return await asyncio.gather(*(one(item) for item in items))


def _gateway(recipe: Recipe) -> LLMGateway:
    """On a Dask cluster the provider's limits must hold across worker processes."""
    return LLMGateway(recipe.llm, cross_process=recipe.runner.kind == "dask")


ProfileEntry = tuple[str, CharacterSeed | None, CharacterProfile | None, Usage, str | None]


def _profiles_report(
    index: int, out: Path, recipe: Recipe, run_id: str, model: str, prompt_hash: str,
    entries: list[ProfileEntry],
) -> ShardReport:  # fmt: skip
    """Write a shard's profile rows; (role id, seed, profile, usage, error) entries whose
    profile is missing are reported as failures and left out."""
    report = ShardReport("profiles", index, str(out), 0, Usage())
    rows = []
    for role_id, character, profile, usage, error in entries:
        report.usage.add(usage)
        if character is None or profile is None:
            report.failures.append(f"profile of {role_id}: {error}")
            continue
        provenance = Provenance(
            model=model,
            provider=recipe.llm.provider,
            prompt_hash=prompt_hash,
            recipe_hash=recipe.content_hash(),
            run_id=run_id,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )
        rows.append(profile_row(character, profile, provenance))
    write_arrow(pa.Table.from_pylist(rows, schema=PROFILES_SCHEMA), out)
    report.rows = len(rows)
    return report


@task(name="profiles-shard", cache_policy=NO_CACHE)
def profiles_shard(
    index: int, characters: list[CharacterSeed], recipe: Recipe, out: Path, run_id: str = ""
) -> ShardReport:
    """One structured request per character; characters whose reply never parses are
    reported as failures and left out."""

    async def run() -> ShardReport:
        async with _gateway(recipe) as gateway:
            generator = ProfileGenerator(gateway, recipe.generators.profiles.max_tokens)
            outcomes = await _each("profiles", characters, generator.generate)
        entries: list[ProfileEntry] = [
            (o.character.id, o.character, o.profile, o.usage, o.error) for o in outcomes
        ]
        return _profiles_report(
            index, out, recipe, run_id, gateway.model, PROFILE_PROMPT.hash, entries
        )

    return asyncio.run(run())


@task(name="persona-profiles-shard", cache_policy=NO_CACHE)
def persona_profiles_shard(
    index: int, indexes: range, pool: PersonaPool, recipe: Recipe, out: Path, run_id: str = ""
) -> ShardReport:
    """One structured request per synthetic role of `indexes`, drawn here from the pool
    (the flow holds only the range); roles whose reply never parses are reported."""

    async def run() -> ShardReport:
        async with _gateway(recipe) as gateway:
            generator = PersonaProfileGenerator(gateway, recipe.generators.profiles.max_tokens)
            outcomes = await _each("profiles", pool.draws(indexes), generator.generate)
        entries: list[ProfileEntry] = [
            (o.draw.role_id, o.character, o.profile, o.usage, o.error) for o in outcomes
        ]
        return _profiles_report(
            index, out, recipe, run_id, gateway.model, PERSONA_PROMPT.hash, entries
        )

    return asyncio.run(run())


def _character(row: dict[str, object]) -> CharacterSeed:
    """A role's seed as its profile row holds it (how persona shards get their roles)."""
    return CharacterSeed.model_validate(
        {
            "id": row["role_id"],
            "name": row["role_name"],
            "language": row["language"],
            "work": row["work"] or "",
            "source": {"description": row["source_description"], "scene": row["source_scene"]},
        }
    )


@task(name="samples-shard", cache_policy=NO_CACHE, task_run_name="{generator}-shard-{index}")
def samples_shard(
    index: int,
    generator: str,
    characters: list[CharacterSeed] | None,
    profiles: ShardReport,
    recipe: Recipe,
    seeds: SeedSet,
    out: Path,
    run_id: str = "",
) -> ShardReport:
    """Run one generator over the shard's roles: every job's requests concurrently.

    `profiles` is the report of the shard's profiles task; given as that task's future,
    Prefect starts this shard as soon as its own profiles are done. Roles whose profile
    failed are skipped (the failure is already reported). `characters` None: the roles
    are those of the profiles file (a persona shard).
    """
    profile_rows = pq.read_table(profiles.path).to_pylist()
    profile_of: dict[str, CharacterProfile] = {
        row["role_id"]: profile_from_row(row) for row in profile_rows
    }
    if characters is None:
        characters = [_character(row) for row in profile_rows]
    roles = [Role(c, profile_of[c.id]) for c in characters if c.id in profile_of]
    schema = DATASET_CONFIGS[generator].arrow_schema

    async def run() -> ShardReport:
        async with _gateway(recipe) as gateway:
            settings = getattr(recipe.generators, generator)
            maker = GENERATORS[generator](gateway, settings, seeds, recipe.content_hash(), run_id)
            jobs = [(role, job) for role in roles for job in maker.jobs(role)]
            progress().grow(generator, len(jobs))
            outcomes = await _each(generator, jobs, lambda item: maker.run(*item))
        report = ShardReport(generator, index, str(out), 0, Usage())
        rows = []
        for outcome in outcomes:
            report.usage.add(outcome.usage)
            rows.extend(sample.model_dump() for sample in outcome.samples)
            report.failures.extend(outcome.errors)
            report.below_threshold += outcome.filtered
        report.rows = len(rows)
        write_arrow(pa.Table.from_pylist(rows, schema=schema), out)
        return report

    return asyncio.run(run())
