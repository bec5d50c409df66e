"""`build_dataset`: recipe -> seeds -> profiles -> Context-Instruct -> dedup -> validation
-> a new version on the hub (only when the content changed).

Generation runs as shard tasks (a shard = up to `shard_size` roles, its LLM calls
concurrent inside); every reply is cached as it arrives, so a rerun or a resumed
crash sends only the requests that never completed.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import flow
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.task_runners import TaskRunner
from prefect.utilities.asyncutils import run_coro_as_sync

from rolemill.flows.artifacts import BuildArtifacts
from rolemill.flows.parameters import (
    RECIPE_COUNTS,
    RECIPE_LLM,
    Counts,
    LLMChoice,
    build_overrides,
)
from rolemill.flows.progress import progress
from rolemill.flows.runner import dask_overrides, shard_runner
from rolemill.flows.shard_window import ShardFutures, ShardWindow, shards_in_flight
from rolemill.flows.stages import ShardReport, persona_profiles_shard, profiles_shard, samples_shard
from rolemill.flows.summary import BuildSummary
from rolemill.flows.workspace import RunWorkspace
from rolemill.schemas.dataset_configs import DATASET_CONFIGS, gate_expectations
from rolemill.schemas.recipe import LoadedRecipe, Recipe, load_recipe
from rolemill.schemas.seeds import CharacterSeed, SeedSet
from rolemill.tasks.dedup import deduplicate_per_role
from rolemill.tasks.drop_report import DropReport
from rolemill.tasks.generators.registry import enabled_generators
from rolemill.tasks.llm.global_limits import ensure_global_limits
from rolemill.tasks.persona_pool import PersonaPool, load_persona_pool, persona_table
from rolemill.tasks.publish.published_index import PublishedIndex
from rolemill.tasks.publish.release import check_requested_version, publish_release
from rolemill.tasks.quality_filters import apply_filters
from rolemill.tasks.seed_loader import load_seeds
from rolemill.tasks.validation import raise_if_failed, run_gate
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
        if report.pid not in summary.shard_processes:
            summary.shard_processes.append(report.pid)


Shard = list[CharacterSeed] | range  # seeded characters, or a range of persona indexes


def _profiles(
    runner: TaskRunner[PrefectFuture[ShardReport]], i: int, shard: Shard,
    pool: PersonaPool | None, recipe: Recipe, out: Path, run_id: str,
) -> PrefectFuture[ShardReport]:  # fmt: skip
    common = {"index": i, "recipe": recipe, "out": out, "run_id": run_id}
    if isinstance(shard, range):
        assert pool is not None
        return runner.submit(persona_profiles_shard, {"indexes": shard, "pool": pool, **common})
    return runner.submit(profiles_shard, {"characters": shard, **common})


def _generate(
    loaded: LoadedRecipe,
    seeds: SeedSet,
    pool: PersonaPool | None,
    workspace: RunWorkspace,
    summary: BuildSummary,
    runner: TaskRunner[PrefectFuture[ShardReport]],
) -> dict[str, pl.DataFrame]:
    """Profiles, then every enabled generator, per shard of roles: config -> rows.

    Shards are submitted as earlier ones finish (`shards_in_flight`), so the flow holds
    small reports, not roles or tasks, whatever the number of roles. Persona shards are
    index ranges: their roles are drawn and profiled inside the shard task and read back
    from its profiles file.
    """
    recipe, characters = loaded.recipe, seeds.characters
    size = recipe.shard_size
    shards: list[Shard] = [characters[i : i + size] for i in range(0, len(characters), size)]
    shards += pool.shards(size) if pool else []
    generators = [name for name, _ in enabled_generators(recipe)]

    progress().start("profiles", len(characters) + (pool.count if pool else 0))
    for name in generators:
        progress().start(name, 0)  # each shard adds its jobs once its profiles are known
    window = ShardWindow(["profiles", *generators])
    for i, shard in enumerate(shards):
        out = workspace.shard("profiles", i)
        profiles = _profiles(runner, i, shard, pool, recipe, out, summary.run_id)
        tasks: ShardFutures = {"profiles": profiles}
        members = shard if isinstance(shard, list) else None  # persona shards: from profiles
        for name in generators:
            # Starts as soon as this shard's profiles are done (Prefect resolves the future
            # passed as a parameter).
            out = workspace.shard(name, i)
            parameters = {
                "index": i, "generator": name, "characters": members, "profiles": profiles,
                "recipe": recipe, "seeds": seeds, "out": out, "run_id": summary.run_id,
            }  # fmt: skip
            tasks[name] = runner.submit(samples_shard, parameters)
        window.add(tasks)
        window.drain(keep=shards_in_flight(recipe) - 1)
    window.drain(keep=0)
    frames: dict[str, pl.DataFrame] = {}
    for name, stage_reports in window.reports.items():
        progress().finish(name)
        stage_reports.sort(key=lambda report: report.index)  # in shard order, not finish order
        _account(summary, stage_reports)
        frames[name] = _read_shards(stage_reports, DATASET_CONFIGS[name].arrow_schema)
    return frames


@flow(name="build-dataset")
def build_dataset(
    recipe: str = "recipes/demo.yaml",
    llm: LLMChoice = RECIPE_LLM,
    counts: Counts = RECIPE_COUNTS,
    publish: bool = True,
    overrides: list[str] | None = None,
    version: str = "",
    dask: str = "",
) -> dict[str, object]:
    """Build the dataset a recipe describes and publish a new version if its content changed.

    recipe: path to the recipe YAML (relative paths: from the working directory, the
    project root under a deployment). llm, counts: settings that replace the recipe's
    (empty keeps it). publish: off to build and validate only. overrides: any other
    `key=value` recipe settings (e.g. `llm.timeout_s=120`), applied last. version:
    publish as this X.Y.Z (publish.version), refused before the build if the hub has it.
    dask: run the shards on a Dask cluster (a scheduler address, or `local` for a
    LocalCluster of `runner.workers` processes); empty: the recipe's `runner`.
    """
    overrides = build_overrides(llm, counts, overrides, version) + dask_overrides(dask)
    loaded = load_recipe(recipe, overrides)
    seeds = load_seeds(loaded)
    pool = load_persona_pool(loaded, seeds)
    run_id = str(flow_run.get_id() or uuid.uuid4())
    workspace = RunWorkspace.create(loaded.recipe.name, run_id)
    summary = BuildSummary(loaded.recipe.name, run_id, str(workspace.root))
    artifacts = BuildArtifacts(summary, card=workspace.dataset / "README.md")
    drops = DropReport()

    try:  # the summary is written even when a stage fails
        published = PublishedIndex.fetch(loaded, workspace)  # settings checked before requests
        if publish:
            check_requested_version(loaded, workspace)  # before any LLM request
        runner_config = loaded.recipe.runner
        if runner_config.kind == "dask":  # limits that hold across the worker processes
            run_coro_as_sync(ensure_global_limits(loaded.recipe.llm))
        with shard_runner(runner_config) as runner:
            generated = _generate(loaded, seeds, pool, workspace, summary, runner)
        progress().start("dedup + validation", 1)
        tables = {"profiles": generated.pop("profiles")}
        if pool is not None:
            personas = persona_table(pool, tables["profiles"]["role_id"].to_list())
            tables["personas"] = pl.from_arrow(personas)  # type: ignore[assignment]
        for name, frame in generated.items():
            # Quality filters before dedup: a junk row must never be the kept row of a
            # near-duplicate cluster (its clean near-copies would go with it).
            filtered = apply_filters(name, frame, loaded.recipe.filters)
            for reason, count in filtered.dropped.items():
                drops.add(name, reason, count, filtered.examples.get(reason, ()))
            frame = filtered.kept
            outcome = deduplicate_per_role(frame, loaded.recipe.dedup)
            summary.dedup_exact += outcome.exact_dropped
            summary.dedup_near += outcome.near_dropped
            drops.add_duplicates(
                name, frame, outcome.exact_dropped, outcome.near_dropped, outcome.clusters
            )
            tables[name] = outcome.kept
        published.drop_copies(tables, list(generated), summary, drops)  # across versions
        for view in VIEWS:
            rows = view.build(tables)
            if rows is not None:
                tables[view.name] = rows
        summary.rows = {name: frame.height for name, frame in tables.items()}
        if loaded.recipe.validation.enabled:
            suites = {
                name: (frame, gate_expectations(name, loaded.recipe, frame.height))
                for name, frame in tables.items()
            }
            gate = run_gate(suites, workspace.data_docs)
            summary.validation_failures = gate.failure_lines()
            summary.data_docs = str(gate.data_docs) if gate.data_docs else None
            raise_if_failed(gate)  # the summary (failures, Data Docs) is written below
        progress().advance("dedup + validation")
        progress().finish("dedup + validation")

        if publish and loaded.recipe.publish.enabled:
            publish_release(loaded, tables, workspace, summary, published)
        else:
            summary.publish_note = "not published (publishing is off)"
    finally:
        summary.drops = drops.counts
        summary.drop_examples = drops.headlines()
        summary.drop_report = str(drops.write(workspace.drop_report))
        summary.write(workspace.summary)
        artifacts.close()
    for line in summary.lines():
        log.info(line)
    return summary.as_dict()
