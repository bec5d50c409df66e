"""Screenshots of a completed build's page in the Prefect dashboard, for docs/operations.md.

Starts a private Prefect stack (server with UI, pool, deployments, worker) on a free
loopback port with a temporary PREFECT_HOME and data folder, and the scripted
OpenAI-compatible server; presses build-demo's Run button through the API
(`POST /api/deployments/{id}/create_flow_run`), waits for Completed, then has headless
Chromium capture the flow run's page (timeline, artifact markers, logs) and the pages of
its summary table and release artifacts. Every process it
started is stopped on exit. A dev tool, not part of `make test`:

    /work/main/.venv/bin/python scripts/screenshot_dashboard.py [--out docs/img]

Needs Chromium at /usr/bin/chromium (Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))  # the checkout's rolemill, whichever the cwd

from rolemill.prefect_stack import PrefectStack  # noqa: E402
from rolemill.tasks.llm.local_server import free_loopback_port  # noqa: E402
from rolemill.testing.scripted_server import ScriptedLLMServer  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# the run's artifacts (by key prefix) whose own pages are captured, and their PNGs
ARTIFACT_SHOTS = {
    "build-summary-": "dashboard-summary.png",
    "build-release-": "dashboard-release.png",
}


def trigger_demo(api: httpx.Client, llm_base_url: str) -> str:
    """What the Run button of build-demo sends, with the form pointing at the scripted LLM."""
    deployment = api.get("/deployments/name/build-dataset/build-demo").raise_for_status().json()
    parameters = {
        "llm": {"provider": "openai", "model": "scripted-model", "base_url": llm_base_url},
        "counts": {"personas": 1, "mrc_samples_per_role": 1},
        "overrides": ['seeds.only_roles=["alice", "sherlock-holmes"]', "llm.timeout_s=20"],
    }
    reply = api.post(
        f"/deployments/{deployment['id']}/create_flow_run", json={"parameters": parameters}
    )
    return str(reply.raise_for_status().json()["id"])


def artifact_ids(api: httpx.Client, run_id: str) -> dict[str, str]:
    """Artifact key -> id, for the run's keyed artifacts."""
    body = {"artifacts": {"flow_run_id": {"any_": [run_id]}}}
    artifacts = api.post("/artifacts/filter", json=body).raise_for_status().json()
    return {a["key"]: a["id"] for a in artifacts if a["key"]}


def wait_until_final(api: httpx.Client, stack: PrefectStack, run_id: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        state: dict[str, Any] = api.get(f"/flow_runs/{run_id}").raise_for_status().json()["state"]
        if state["type"] in FINAL_STATES:
            return str(state["type"])
        if (failed := stack.failed_process()) is not None:
            raise RuntimeError(f"the Prefect {failed} stopped; see {stack.logs}/{failed}.log")
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} still {state['type']} after {timeout_s:.0f} s")
        time.sleep(1)


def screenshot(url: str, png: Path, budget_ms: int, scratch: Path) -> None:
    """One headless Chromium capture of `url` after `budget_ms` of virtual time."""
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=scratch))
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--window-size=1600,1000",
            f"--virtual-time-budget={budget_ms}",
            f"--screenshot={png}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "img")
    parser.add_argument("--budget-ms", type=int, default=20000, help="Chromium virtual time")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"error: {CHROMIUM} not found: apt-get install chromium", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)

    scratch = Path(tempfile.mkdtemp(prefix="rolemill-screenshot-"))
    data = scratch / "data"
    stack = PrefectStack(
        home=scratch / "prefect-home",
        port=free_loopback_port(),
        root=PROJECT_ROOT,
        worker_env={
            "ROLEMILL_DATA_DIR": str(data),
            "ROLEMILL_LLM_CACHE_DIR": str(data / "llm-cache"),
            "OPENAI_API_KEY": "sk-scripted-screenshot-key",
        },
        settings={"PREFECT_WORKER_QUERY_SECONDS": "2"},
    )
    print(f"temporary folder: {scratch}", flush=True)
    try:
        with (
            stack,
            ScriptedLLMServer(latency_s=0.05) as llm,
            httpx.Client(base_url=stack.api_url, timeout=30) as api,
        ):
            run_id = trigger_demo(api, llm.base_url)
            print(f"flow run {run_id} triggered; waiting ...", flush=True)
            state = wait_until_final(api, stack, run_id, timeout_s=600)
            if state != "COMPLETED":
                print(f"error: the run ended {state}; see {stack.logs}/worker.log", file=sys.stderr)
                return 1
            pages = {"dashboard-run.png": f"{stack.dashboard_url}/runs/flow-run/{run_id}"}
            for key, artifact_id in artifact_ids(api, run_id).items():
                for prefix, name in ARTIFACT_SHOTS.items():
                    if key.startswith(prefix):
                        pages[name] = f"{stack.dashboard_url}/artifacts/artifact/{artifact_id}"
            for name, url in pages.items():
                png = args.out / name
                screenshot(url, png, args.budget_ms, scratch)
                print(f"{png} ({png.stat().st_size // 1024} KB)", flush=True)
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(scratch)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
