"""The benchmarks still run (on tiny inputs) and print their figures as JSON, so a change of
the code they drive cannot silently break them. Their figures are not judged here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).parents[1] / "bench"


def figures(script: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line.removeprefix("JSON: ") for line in done.stdout.splitlines()]
    found = [json.loads(line) for line in lines if line.startswith("{")]
    assert found, f"{script} printed no JSON (exit {done.returncode}):\n{done.stderr[-3000:]}"
    return found[-1]


def test_gateway_bench_runs() -> None:
    result = figures("gateway.py", "--requests", "64", "--concurrency", "8", "--latency", "0.05")
    (run,) = result["runs"]
    assert run["failures"] == 0 and run["sent"] == 64
    assert result["cache_pass"]["sent_to_server"] == 0


def test_dedup_bench_runs() -> None:
    result = figures("dedup.py", "--docs", "3000", "--slice", "300")
    assert result["docs"] == 3000 and result["exact_dropped"] + result["near_dropped"] > 0
    assert result["slice_datasketch_bulk_docs_per_s"] > 0


def test_dedup_index_bench_runs() -> None:
    result = figures("dedup_index.py", "--published", "3000", "--new", "300")
    assert result


def test_personas_bench_runs() -> None:
    result = figures("personas.py", "--roles", "20", "--shard-size", "10")
    first, cached = result["runs"]
    assert first["profiles"] == 20 and first["failures"] == 0
    assert cached["sent"] == 0
