"""Benchmark of a persona pool build: peak memory and roles/s through the real flow.

Starts the scripted OpenAI-compatible server (fixed latency, default 0.05 s) and a Prefect
server in their own processes, then runs `build_dataset` in this process on a recipe
asking for N synthetic roles (default 2,000) and no seeded characters, with a temporary
data folder and response cache: persona shards are profiled (one structured request per
role), the `personas` config is drawn, every config passes the validation gate; nothing
is published unless --publish. A second build of the same recipe must be served by the
response cache alone. Reports wall time, roles/s and peak RSS (ru_maxrss) of this
process (the build) and of its children (the two servers).

Target: peak RSS under 1 GB, for the build and for every child.

    .venv/bin/python bench/personas.py [--roles N] [--shard-size S] [--concurrency C]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway import start_server, stop_server

from rolemill.tasks.llm.local_server import answers_ok, free_loopback_port, stop_process

TARGET_MB = 1024.0
RECIPE = """\
name: persona-bench
seeds:
  personas:
    count: {roles}
    languages: {{en: 3, zh: 1}}
    lines: {lines}
    line_share: 0.25
generators:
  context_instruct: {{enabled: false}}
llm:
  provider: openai
  model: bench
  base_url: {base_url}
  cache_dir: {cache}
  timeout_s: 30
  limits: {{concurrency: {concurrency}, adaptive: false}}
shard_size: {shard_size}
"""


def start_prefect(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Prefect server on loopback with its database in `home` (as the flow tests use)."""
    port = free_loopback_port()
    env = os.environ | {"PREFECT_HOME": str(home), "PREFECT_UI_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    log = (home / "server.log").open("wb")
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    proc = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while not answers_ok(f"{url}/health"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"Prefect server did not start; see {home / 'server.log'}")
        time.sleep(0.5)
    return proc, url


def build(recipe: Path) -> tuple[dict[str, Any], float]:
    from rolemill.flows.build import build_dataset

    started = time.perf_counter()
    summary = build_dataset(str(recipe), publish="--publish" in sys.argv)
    return summary, time.perf_counter() - started


def mb(kilobytes: int) -> float:
    return round(kilobytes / 1024, 1)


def report(args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
    build_mb = mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    children_mb = mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    met = build_mb < TARGET_MB and children_mb < TARGET_MB
    header = (
        f"{'build':<8} {'roles':>6} {'shards':>6} {'wall s':>7} {'roles/s':>8} {'sent':>6} "
        f"{'cached':>6} {'failed':>6} {'profiles':>8} {'personas':>8}"
    )
    print(header + "\n" + "-" * len(header))
    for run in runs:
        print(
            f"{run['build']:<8} {args.roles:>6} {run['shards']:>6} {run['wall_s']:>7.2f} "
            f"{run['roles_per_s']:>8.1f} {run['sent']:>6} {run['cache_hits']:>6} "
            f"{run['failures']:>6} {run['profiles']:>8} {run['personas']:>8}"
        )
    print(
        f"\npeak RSS: build process {build_mb:.0f} MB, largest child (servers) "
        f"{children_mb:.0f} MB   target < {TARGET_MB:.0f} MB   met {'yes' if met else 'NO'}"
    )
    rebuild_ok = runs[-1]["sent"] == 0 and runs[-1]["profiles"] == args.roles
    print(f"cached rebuild sends nothing: met {'yes' if rebuild_ok else 'NO'}")
    return {
        "roles": args.roles,
        "shard_size": args.shard_size,
        "concurrency": args.concurrency,
        "latency_s": args.latency,
        "runs": runs,
        "peak_rss_build_mb": build_mb,
        "peak_rss_children_mb": children_mb,
        "target_mb": TARGET_MB,
        "targets_met": {"peak_rss": met, "cached_rebuild_zero_sent": rebuild_ok},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", type=int, default=2000)
    parser.add_argument("--shard-size", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--publish", action="store_true", help="also publish to a local hub")
    args = parser.parse_args()
    lines = Path(__file__).parents[1] / "data" / "seeds" / "personas" / "persona-lines.jsonl"
    with tempfile.TemporaryDirectory(prefix="rolemill-bench-personas-") as tmp:
        folder = Path(tmp)
        port = free_loopback_port()
        llm = start_server(port, args.latency)
        prefect, api = start_prefect(folder)
        os.environ.update(
            PREFECT_API_URL=api,
            PREFECT_LOGGING_LEVEL="CRITICAL",
            ROLEMILL_DATA_DIR=str(folder / "data"),
            OPENAI_API_KEY="sk-bench-dummy",
        )
        recipe = folder / "recipe.yaml"
        recipe.write_text(
            RECIPE.format(
                roles=args.roles,
                lines=lines,
                base_url=f"http://127.0.0.1:{port}/v1",
                cache=folder / "cache",
                concurrency=args.concurrency,
                shard_size=args.shard_size,
            )
        )
        runs = []
        try:
            for name in ("first", "cached"):
                summary, wall = build(recipe)
                usage = summary["usage"]
                runs.append(
                    {
                        "build": name,
                        "shards": -(-args.roles // args.shard_size),
                        "wall_s": round(wall, 2),
                        "roles_per_s": round(args.roles / wall, 1),
                        "sent": usage["requests"],
                        "cache_hits": usage["cache_hits"],
                        "failures": len(summary["generation_failures"]),
                        "profiles": summary["rows"].get("profiles", 0),
                        "personas": summary["rows"].get("personas", 0),
                    }
                )
        finally:
            stop_server(llm)
            stop_process(prefect, timeout_s=20)
        result = report(args, runs)
    print("JSON: " + json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
