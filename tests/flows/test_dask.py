"""Scale-out: the same build on a Dask LocalCluster of two worker processes publishes
exactly what the default (threads) runner publishes, and the provider's concurrency cap
holds across the processes (Prefect global concurrency limits)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rolemill.testing.scripted_server import ScriptedLLMServer
from tests.flows.conftest import Project, clone_version, make_project

ROLES = ["sherlock-holmes", "sun-wukong", "alice", "captain-ahab"]  # two shards of two
CAP = 2
GENERATED = {"profiles", "context_instruct", "style_transfer", "self_alignment", "rolebench"}


@dataclass
class Builds:
    threads: Project
    dask: Project
    dask_server: ScriptedLLMServer


def summary(project: Project) -> dict[str, object]:
    (path,) = (project.root / "data").glob("runs/tiny/*/summary.json")
    return json.loads(path.read_text())


def published_ids(project: Project, dest: Path) -> dict[str, list[str]]:
    """Every config's sample ids (profiles: role ids) in v0.1.0, sorted."""
    checkout = clone_version(project.hub, "v0.1.0", dest)
    out = {}
    for config in sorted((checkout / "data").iterdir()):
        table = pq.read_table(config)
        key = "id" if "id" in table.column_names else table.column_names[0]
        out[config.name] = sorted(map(str, table.column(key).to_pylist()))
    return out


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> Iterator[Builds]:
    with ScriptedLLMServer(latency_s=0.01) as server:
        threads = make_project(tmp_path_factory.mktemp("threads"), server, prefect_api, ROLES, CAP)
        done = threads.build()
        assert done.returncode == 0, done.stderr
    # Latency keeps requests overlapping, so two processes would exceed the cap of one.
    with ScriptedLLMServer(latency_s=0.15) as server:
        dask = make_project(tmp_path_factory.mktemp("dask"), server, prefect_api, ROLES, CAP)
        done = dask.build("--dask", "local", "--set", "runner.threads_per_worker=1")
        assert done.returncode == 0, done.stderr
        yield Builds(threads, dask, server)


def test_a_dask_build_publishes_exactly_the_ids_of_the_default_runner(
    builds: Builds, tmp_path: Path
) -> None:
    on_threads = published_ids(builds.threads, tmp_path / "threads")
    on_dask = published_ids(builds.dask, tmp_path / "dask")
    assert set(on_threads) >= GENERATED
    assert all(on_threads.values())
    assert on_dask == on_threads
    assert len(summary(builds.threads)["shard_processes"]) == 1
    assert len(summary(builds.dask)["shard_processes"]) == 2  # both workers ran shards


def test_the_concurrency_cap_holds_across_worker_processes(builds: Builds) -> None:
    # each process alone allows CAP requests: without the global limit, two reach 2 * CAP
    assert builds.dask_server.state.max_in_flight == CAP
