"""Screenshots of a completed build's page in the Prefect dashboard, for docs/operations.md.

Starts a private Prefect stack (server with UI, pool, deployments, worker) on a free
loopback port with a temporary PREFECT_HOME and data folder, and the scripted
OpenAI-compatible server; presses build-demo's Run button through the API
(`POST /api/deployments/{id}/create_flow_run`), waits for Completed, then has headless
Chromium capture the flow run's page (timeline, artifact markers, logs), its Artifacts
tab (clicked through the DevTools protocol) and the pages of its summary table and
release artifacts. Every process it started is stopped on exit. A dev tool, not part of
`make test`:

    /work/main/.venv/bin/python scripts/screenshot_dashboard.py [--out docs/img]

Needs Chromium at /usr/bin/chromium (Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
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
    "build-plots-": "dashboard-plots.png",
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


def chromium_args(scratch: Path) -> list[str]:
    """Headless Chromium, offline apart from the page, with a fresh profile."""
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=scratch))
    return [
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
    ]


def screenshot(url: str, png: Path, budget_ms: int, scratch: Path) -> None:
    """One headless Chromium capture of `url` after `budget_ms` of virtual time."""
    subprocess.run(
        [*chromium_args(scratch), f"--virtual-time-budget={budget_ms}", f"--screenshot={png}", url],
        check=True,
        capture_output=True,
        timeout=180,
    )


# clicks the innermost visible element labelled `label` (the tab); true once it exists
CLICK_TAB = """(() => {
  const label = %s;
  const tab = [...document.querySelectorAll('body *')].find(e =>
    e.offsetParent !== null && e.textContent.trim() === label &&
    ![...e.children].some(c => c.textContent.trim() === label));
  if (tab) tab.click();
  return Boolean(tab);
})()"""


class DevTools:
    """The Chrome DevTools protocol over one page's websocket: call and await the reply."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.next_id = ws, 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        async for message in self.ws:
            reply = json.loads(message.data)
            if reply.get("id") == self.next_id:  # events in between are skipped
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method}: {reply['error']}")
                return dict(reply["result"])
        raise RuntimeError(f"DevTools closed the connection during {method}")


async def _capture_tab(debug_url: str, url: str, tab: str, png: Path, settle_s: float) -> None:
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 30
        while True:  # Chromium opens its debugging port a moment after it starts
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{debug_url}/json/list") as reply:
                    pages = [t for t in await reply.json() if t["type"] == "page"]
                    if pages:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"Chromium's DevTools did not answer at {debug_url}")
            await asyncio.sleep(0.5)
        async with session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            devtools = DevTools(ws)
            await devtools.call(  # the same size as the plain screenshots
                "Emulation.setDeviceMetricsOverride",
                width=1600,
                height=1000,
                deviceScaleFactor=1,
                mobile=False,
            )
            await devtools.call("Page.navigate", url=url)
            deadline = time.monotonic() + 60
            while not (
                await devtools.call(
                    "Runtime.evaluate", expression=CLICK_TAB % json.dumps(tab), returnByValue=True
                )
            )["result"].get("value"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no tab {tab!r} on {url} after 60 s")
                await asyncio.sleep(0.5)
            await asyncio.sleep(settle_s)  # the tab's content loads and renders
            shot = await devtools.call("Page.captureScreenshot", format="png")
            png.write_bytes(base64.b64decode(shot["data"]))


def screenshot_tab(url: str, tab: str, png: Path, scratch: Path, settle_s: float = 6) -> None:
    """Capture `url` after clicking its tab `tab`, through the DevTools protocol."""
    port = free_loopback_port()
    browser = subprocess.Popen(
        [*chromium_args(scratch), f"--remote-debugging-port={port}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its helper processes share its group: stopped together
    )
    try:
        asyncio.run(_capture_tab(f"http://127.0.0.1:{port}", url, tab, png, settle_s))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(browser.pid, signal.SIGTERM)
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(browser.pid, signal.SIGKILL)
            browser.wait()


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
                screenshot(url, args.out / name, args.budget_ms, scratch)
            tab_png = args.out / "dashboard-artifacts.png"
            screenshot_tab(pages["dashboard-run.png"], "Artifacts", tab_png, scratch)
            for png in [*(args.out / name for name in pages), tab_png]:
                print(f"{png} ({png.stat().st_size // 1024} KB)", flush=True)
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(scratch)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
