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
from rolemill.flows.stages import ShardReport, profiles_shard, samples_shard
from rolemill.flows.summary import BuildSummary
from rolemill.flows.workspace import RunWorkspace
from rolemill.schemas.dataset_configs import DATASET_CONFIGS
from rolemill.schemas.recipe import LoadedRecipe, load_recipe
from rolemill.schemas.seeds import SeedSet
from rolemill.tasks.dedup import deduplicate_per_role
from rolemill.tasks.generators.registry import enabled_generators
from rolemill.tasks.publish.release import publish_release
from rolemill.tasks.seed_loader import load_seeds
from rolemill.tasks.validation import raise_if_failed, validate_config
from rolemill.tasks.views import VIEWS

log = logging.getLogger(__name__)


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
    loaded: LoadedRecipe, seeds: SeedSet, workspace: RunWorkspace, summary: BuildSummary
) -> dict[str, pl.DataFrame]:
    """Profiles, then every enabled generator, per shard of roles: config -> rows."""
    recipe, characters = loaded.recipe, seeds.characters
    size = recipe.shard_size
    shards = [characters[i : i + size] for i in range(0, len(characters), size)]
    generators = [name for name, _ in enabled_generators(recipe)]

    progress().start("profiles", len(characters))
    for name in generators:
        progress().start(name, 0)  # each shard adds its jobs once its profiles are known
    profile_futures = [
        profiles_shard.submit(i, shard, recipe, workspace.shard("profiles", i), summary.run_id)
        for i, shard in enumerate(shards)
    ]
    # A generator's shard starts as soon as its own profiles are done (Prefect resolves
    # the future passed as a parameter).
    sample_futures = {
        name: [
            samples_shard.submit(
                i, name, shard, profiles, recipe, seeds, workspace.shard(name, i), summary.run_id
            )
            for i, (shard, profiles) in enumerate(zip(shards, profile_futures, strict=True))
        ]
        for name in generators
    }
    frames: dict[str, pl.DataFrame] = {}
    for name, futures in [("profiles", profile_futures), *sample_futures.items()]:
        reports = [future.result() for future in futures]
        progress().finish(name)
        _account(summary, reports)
        frames[name] = _read_shards(reports, DATASET_CONFIGS[name].arrow_schema)
    return frames


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

    try:  # the summary is written even when a stage fails
        generated = _generate(loaded, seeds, workspace, summary)
        progress().start("dedup + validation", 1)
        tables = {"profiles": generated.pop("profiles")}
        for name, frame in generated.items():
            outcome = deduplicate_per_role(frame, loaded.recipe.dedup)
            summary.dedup_exact += outcome.exact_dropped
            summary.dedup_near += outcome.near_dropped
            tables[name] = outcome.kept
        for view in VIEWS:
            rows = view.build(tables)
            if rows is not None:
                tables[view.name] = rows
        summary.rows = {name: frame.height for name, frame in tables.items()}
        if loaded.recipe.validation.enabled:
            results = [
                validate_config(name, frame, DATASET_CONFIGS[name].expectations)
                for name, frame in tables.items()
            ]
            summary.validation_failures = [line for r in results for line in r.failures]
            raise_if_failed(results)
        progress().advance("dedup + validation")
        progress().finish("dedup + validation")

        if publish and loaded.recipe.publish.enabled:
            publish_release(loaded, tables, workspace, summary)
        else:
            summary.publish_note = "not published (publishing is off)"
    finally:
        summary.write(workspace.summary)
    for line in summary.lines():
        log.info(line)
    return summary.as_dict()
