"""The deployments of prefect.yaml on a real Prefect server with a real process worker:
a run triggered the way the dashboard's Run button does it publishes a version and leaves
its artifacts; the scheduler follows the cron of the active schedule only.

Slow (a server, a worker and a flow-run subprocess on busy cores): select with
`pytest -m deployments`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from rolemill.prefect_stack import PrefectStack, alive, descendants
from rolemill.tasks.llm.local_server import free_loopback_port
from rolemill.testing.scripted_server import ScriptedLLMServer
from tests.flows.conftest import clone_version

pytestmark = pytest.mark.deployments

DEPLOYMENTS = ["build-demo", "build-rolebench-en", "build-persona-pool"]
ROLES = ["alice", "sherlock-holmes"]


class Api:
    """The Prefect REST API, as the dashboard uses it."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30)

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """One request, tried again on 503 as Prefect's own client does: the server answers
        503 when its SQLite database is briefly locked by the worker's writes."""
        for attempt in range(5):
            reply = self.client.request(method, path, json=body)
            if reply.status_code != 503:
                break
            time.sleep(0.5 * 2**attempt)
        return reply

    def get(self, path: str) -> Any:
        reply = self.send("GET", path)
        reply.raise_for_status()
        return reply.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        reply = self.send("POST", path, body)
        assert reply.is_success, f"POST {path}: {reply.status_code} {reply.text}"
        return reply.json()

    def deployment(self, name: str) -> dict[str, Any]:
        return self.get(f"/deployments/name/build-dataset/{name}")

    def runs_of(self, deployment_id: str) -> list[dict[str, Any]]:
        body = {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}}
        return self.post("/flow_runs/filter", body)

    def artifacts_of(self, flow_run_id: str) -> dict[str, dict[str, Any]]:
        body = {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}}
        return {a["key"]: a for a in self.post("/artifacts/filter", body) if a["key"]}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rolemill-data")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[PrefectStack]:
    """Server, pool, deployments from the project's prefect.yaml and a worker whose flow
    runs write to a temporary data folder (runs, hub) and response cache."""
    home = tmp_path_factory.mktemp("prefect-home")
    with PrefectStack(
        home=home,
        port=free_loopback_port(),
        worker_env={
            "ROLEMILL_DATA_DIR": str(data_dir),
            "ROLEMILL_LLM_CACHE_DIR": str(data_dir / "llm-cache"),
            "OPENAI_API_KEY": "sk-scripted-test-key-0001",
        },
        settings={
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
            "PREFECT_WORKER_QUERY_SECONDS": "2",
        },
    ) as running:
        yield running


@pytest.fixture(scope="module")
def api(stack: PrefectStack) -> Iterator[Api]:
    client = Api(stack.api_url)
    yield client
    client.client.close()


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # ended meanwhile
        return b""


def run_demo(api: Api, llm: ScriptedLLMServer, roles: list[str]) -> dict[str, Any]:
    """Press build-demo's Run button with the form filled in: the scripted LLM, these
    characters and one persona, one reading-comprehension sample per role."""
    parameters = {
        "llm": {"provider": "openai", "model": "scripted-model", "base_url": llm.base_url},
        "counts": {"personas": 1, "mrc_samples_per_role": 1},
        "overrides": [f"seeds.only_roles={json.dumps(roles)}", "llm.timeout_s=20"],
    }
    deployment = api.deployment("build-demo")
    return api.post(f"/deployments/{deployment['id']}/create_flow_run", {"parameters": parameters})


def wait_for_final_state(
    api: Api, stack: PrefectStack, run_id: str, seen_progress: list[float]
) -> dict[str, Any]:
    """Poll the run until it is final, noting the progress artifact's values meanwhile."""
    deadline = time.monotonic() + 540
    while True:
        run = api.get(f"/flow_runs/{run_id}")
        progress = api.artifacts_of(run_id).get("build-progress-demo")
        if progress is not None:
            seen_progress.append(float(progress["data"]))
        if run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            return run
        worker = (stack.logs / "worker.log").read_text()[-3000:]
        assert stack.failed_process() is None, f"{stack.failed_process()} stopped: {worker}"
        assert time.monotonic() < deadline, f"run still {run['state']['type']}: {worker}"
        time.sleep(0.5)


def test_the_run_button_builds_the_demo_with_form_parameters_and_leaves_artifacts(
    stack: PrefectStack, api: Api, data_dir: Path, tmp_path: Path
) -> None:
    with ScriptedLLMServer(latency_s=0.5) as llm:  # slow enough to watch progress move
        run = run_demo(api, llm, ROLES)
        seen: list[float] = []
        final = wait_for_final_state(api, stack, run["id"], seen)
        requests_sent = len(llm.completed)
    worker_log = (stack.logs / "worker.log").read_text()[-4000:]
    assert final["state"]["type"] == "COMPLETED", worker_log
    assert requests_sent > 0
    assert all(r.authorization for r in llm.requests)  # the worker's key reached the run

    # the new version on the hub, with the roles the form asked for
    checkout = clone_version(data_dir / "hub" / "demo.git", "v0.1.0", tmp_path / "v0.1.0")
    manifest = json.loads((checkout / "manifest.json").read_text())
    assert manifest["configs"]["profiles"]["rows"] == len(ROLES) + 1  # and one persona
    assert manifest["configs"]["mrc"]["rows"] == len(ROLES) + 1  # one sample per role

    artifacts = api.artifacts_of(run["id"])
    assert set(artifacts) == {
        "build-summary-demo", "build-release-demo", "build-plots-demo", "build-progress-demo"
    }  # fmt: skip

    table = artifacts["build-summary-demo"]
    assert table["type"] == "table"
    rows = {(r["section"], r["item"]): r["value"] for r in json.loads(table["data"])}
    assert rows["rows", "profiles"] == len(ROLES) + 1
    assert rows["llm", "requests sent"] == requests_sent
    assert rows["llm", "cache hits"] == 0
    assert ("dropped", "near duplicate") in rows

    release = artifacts["build-release-demo"]
    assert release["type"] == "markdown"
    assert f"Published **v0.1.0** to `{data_dir / 'hub' / 'demo.git'}`" in release["data"]
    assert "## Dataset card" in release["data"] and "| profiles | 3 |" in release["data"]
    assert "(assets/" not in release["data"]  # no link the dashboard cannot follow
    plots = artifacts["build-plots-demo"]
    assert plots["type"] == "markdown"
    assert plots["data"].count("](data:image/png;base64,iVBORw0KGgo") == 3  # PNGs, inlined

    progress = artifacts["build-progress-demo"]
    assert progress["type"] == "progress" and float(progress["data"]) == 100.0
    assert any(0 < value < 100 for value in seen), f"progress never seen mid-build: {seen}"
    assert seen == sorted(seen)  # it never goes back


def test_two_rebuilds_of_one_dataset_never_overlap(
    stack: PrefectStack, api: Api, data_dir: Path
) -> None:
    """Run pressed twice: the second run waits for the first (deployment limit of one,
    ENQUEUE) instead of building beside it."""
    roles = [*ROLES, "captain-ahab"]
    with ScriptedLLMServer(latency_s=0.3) as llm:
        first, second = run_demo(api, llm, roles), run_demo(api, llm, roles)
        waited = False
        deadline = time.monotonic() + 540
        while (runs := [api.get(f"/flow_runs/{r['id']}") for r in (first, second)]) and not all(
            run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED"} for run in runs
        ):
            states = [run["state"]["type"] for run in runs]
            assert states != ["RUNNING", "RUNNING"], "two builds of demo ran at once"
            waited |= any(run["state"]["name"] == "AwaitingConcurrencySlot" for run in runs)
            assert time.monotonic() < deadline, states
            time.sleep(0.3)
    assert [run["state"]["type"] for run in runs] == ["COMPLETED", "COMPLETED"]
    order = sorted(runs, key=lambda run: run["start_time"])
    assert order[0]["end_time"] <= order[1]["start_time"]  # one after the other
    assert waited, "neither run waited for a concurrency slot"


def test_the_scheduler_follows_the_active_cron_only(api: Api) -> None:
    deployments = {name: api.deployment(name) for name in DEPLOYMENTS}
    for name, deployment in deployments.items():
        assert deployment["work_pool_name"] == "rolemill-local"
        limit = deployment["global_concurrency_limit"]
        assert limit is not None and limit["limit"] == 1, name
        assert deployment["concurrency_options"]["collision_strategy"] == "ENQUEUE", name
        [schedule] = deployment["schedules"]
        assert schedule["active"] is (name == "build-demo"), name

    demo = deployments["build-demo"]["id"]
    deadline = time.monotonic() + 120
    while not (scheduled := [r for r in api.runs_of(demo) if r["auto_scheduled"]]):
        assert time.monotonic() < deadline, "the scheduler made no run for build-demo"
        time.sleep(1)
    for run in scheduled:
        assert run["state"]["type"] == "SCHEDULED"
        start = datetime.fromisoformat(run["expected_start_time"])
        assert (start.hour, start.minute, start.utcoffset()) == (2, 0, timedelta(0))  # the cron
    time.sleep(12)  # two more scheduler loops: time enough to (wrongly) schedule the others
    for name in ("build-rolebench-en", "build-persona-pool"):
        assert api.runs_of(deployments[name]["id"]) == [], name


def test_stopping_the_stack_ends_the_worker_its_flow_runs_and_the_server(
    stack: PrefectStack, api: Api
) -> None:
    """Last in this module: it stops the module's stack."""
    with ScriptedLLMServer(latency_s=8.0) as llm:  # the run stays busy on its requests
        run = run_demo(api, llm, ["jane-eyre"])  # not in the response cache yet
        deadline = time.monotonic() + 300
        while not llm.requests:
            assert stack.failed_process() is None and time.monotonic() < deadline
            time.sleep(0.5)
        assert api.get(f"/flow_runs/{run['id']}")["state"]["type"] == "RUNNING"
        pids = {p.pid for p in stack.processes.values()}
        pids |= {below for pid in pids for below in descendants(pid)}
        engines = [pid for pid in pids if b"prefect.engine" in command_line(pid)]
        assert engines, "no flow-run process found below the worker"
        stack.stop()
        assert [pid for pid in pids if alive(pid)] == []
