"""`build_dataset`: recipe -> seeds -> profiles -> Context-Instruct -> dedup -> validation
-> a new version on the hub (only when the content changed).

Generation runs as shard tasks (a shard = up to `shard_size` roles, its LLM calls
concurrent inside); every reply is cached as it arrives, so a rerun or a resumed
crash sends only the requests that never completed.
"""

from __future__ import annotations

import logging
import uuid

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import flow
from prefect.runtime import flow_run

from rolemill.flows.progress import progress
from rolemill.flows.stages import ShardReport, context_instruct_shard, profiles_shard
from rolemill.flows.summary import BuildSummary
from rolemill.flows.workspace import RunWorkspace
from rolemill.schemas.dataset_configs import DATASET_CONFIGS
from rolemill.schemas.recipe import LoadedRecipe, load_recipe
from rolemill.schemas.seeds import CharacterSeed
from rolemill.tasks.dedup import deduplicate
from rolemill.tasks.publish.release import publish_release
from rolemill.tasks.seed_loader import load_seeds
from rolemill.tasks.validation import raise_if_failed, validate_config
from rolemill.tasks.views import rolebench_view

log = logging.getLogger(__name__)
CONTEXT_INSTRUCT = DATASET_CONFIGS["context_instruct"].arrow_schema


def _read_shards(reports: list[ShardReport], schema: pa.Schema) -> pl.DataFrame:
    tables = [pq.read_table(r.path, schema=schema) for r in sorted(reports, key=lambda r: r.index)]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    return pl.from_arrow(table)  # type: ignore[return-value]


def _account(summary: BuildSummary, reports: list[ShardReport]) -> None:
    for report in reports:
        summary.usage.add(report.usage)
        summary.generation_failures.extend(report.failures)
        summary.below_confidence += report.below_threshold


def _generate(
    loaded: LoadedRecipe,
    characters: list[CharacterSeed],
    workspace: RunWorkspace,
    summary: BuildSummary,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    recipe = loaded.recipe
    size = recipe.shard_size
    shards = [characters[i : i + size] for i in range(0, len(characters), size)]

    config = recipe.generators.context_instruct
    progress().start("profiles", len(characters))
    profile_futures = [
        profiles_shard.submit(i, shard, recipe, workspace.shard("profiles", i), summary.run_id)
        for i, shard in enumerate(shards)
    ]
    ci_futures = []
    if config.enabled:
        progress().start(
            "context_instruct", len(characters) * len(config.segments) * config.rounds
        )
        # Each shard starts as soon as its own profiles are done (Prefect resolves the future).
        ci_futures = [
            context_instruct_shard.submit(
                i, shard, future, recipe, workspace.shard("context_instruct", i), summary.run_id
            )
            for i, (shard, future) in enumerate(zip(shards, profile_futures, strict=True))
        ]
    profile_reports = [future.result() for future in profile_futures]
    progress().finish("profiles")
    _account(summary, profile_reports)
    profiles = _read_shards(profile_reports, DATASET_CONFIGS["profiles"].arrow_schema)
    ci_reports = [future.result() for future in ci_futures]
    progress().finish("context_instruct")
    _account(summary, ci_reports)
    return profiles, _read_shards(ci_reports, CONTEXT_INSTRUCT)


@flow(name="build-dataset")
def build_dataset(
    recipe: str, overrides: list[str] | None = None, publish: bool = True
) -> dict[str, object]:
    """Build the dataset a recipe describes and publish a new version if its content changed.

    recipe: path to the recipe YAML. overrides: `key=value` settings applied on top of
    it (e.g. `llm.model=gpt-4o-mini`). publish: off to build and validate only.
    """
    loaded = load_recipe(recipe, overrides or [])
    seeds = load_seeds(loaded)
    run_id = str(flow_run.get_id() or uuid.uuid4())
    workspace = RunWorkspace.create(loaded.recipe.name, run_id)
    summary = BuildSummary(loaded.recipe.name, run_id, str(workspace.root))

    profiles, samples = _generate(loaded, seeds.characters, workspace, summary)
    progress().start("dedup + validation", 1)
    outcome = deduplicate(samples, loaded.recipe.dedup)
    summary.dedup_exact, summary.dedup_near = outcome.exact_dropped, outcome.near_dropped
    tables = {
        "profiles": profiles,
        "context_instruct": outcome.kept,
        "rolebench": rolebench_view(outcome.kept),
    }
    summary.rows = {name: frame.height for name, frame in tables.items()}
    if loaded.recipe.validation.enabled:
        results = [
            validate_config(name, frame, DATASET_CONFIGS[name].expectations)
            for name, frame in tables.items()
        ]
        summary.validation_failures = [line for r in results for line in r.failures]
        summary.write(workspace.summary)
        raise_if_failed(results)
    progress().advance("dedup + validation")
    progress().finish("dedup + validation")

    if publish and loaded.recipe.publish.enabled:
        publish_release(loaded, tables, workspace, summary)
    else:
        summary.publish_note = "not published (publishing is off)"
    summary.write(workspace.summary)
    for line in summary.lines():
        log.info(line)
    return summary.as_dict()
