"""Benchmark of LLMGateway throughput, CPU overhead and response-cache speed.

Runs the scripted OpenAI-compatible server in its own process (fixed latency, default
0.2 s); for each concurrency C (default 64, 256) sends N (default 2000) distinct
`structured` requests through a fresh LLMGateway (fresh cache), at most C outstanding,
and measures wall time, this process's CPU time (server not counted), throughput vs
the ideal C / latency, CPU per request and the server's max in flight. Then times
ResponseCache `get` (20,000 lookups, 20,000 entries) and a gateway pass over the first
run's requests that must be served from the cache alone (nothing sent to the server).

Targets: achieved/ideal >= 0.9 at C=64; gateway CPU < 2 ms per request;
cache >= 20,000 lookups/s.

    .venv/bin/python bench/gateway.py [--requests N] [--latency S] [--concurrency 64 256]
                                      [--client direct|sdk]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from rolemill.schemas.llm import LLMConfig, RateLimits
from rolemill.tasks.llm.cache import ResponseCache, cache_key
from rolemill.tasks.llm.gateway import LLMGateway
from rolemill.tasks.llm.local_server import free_loopback_port, stop_process
from rolemill.tasks.llm.types import ProviderReply

CACHE_ENTRIES = 20_000
TARGET_RATIO, TARGET_CPU_MS, TARGET_LOOKUPS = 0.9, 2.0, 20_000.0


class Item(BaseModel):
    name: str
    colour: str
    summary: str


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def start_server(port: int, latency: float) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rolemill.testing.scripted_server",
            "--port",
            str(port),
            "--latency",
            str(latency),
        ]
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.read().strip() == b"ok":
                    return proc
        except OSError:
            time.sleep(0.05)
    stop_server(proc)
    raise RuntimeError(f"scripted server did not become healthy (exit code {proc.returncode})")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    stop_process(proc)


def warm_sdk() -> None:
    """Load the SDK's lazily imported chat resources and types (~0.2 s CPU) outside any timing."""
    import openai.types.chat

    _ = openai.AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1").chat.completions


def messages_for(i: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You describe catalogue items as JSON."},
        {"role": "user", "content": f"Describe catalogue item number {i} in a few words."},
    ]


CLIENT: Literal["direct", "sdk"] = "direct"  # llm.client; --client sets it


def gateway_for(base_url: str, concurrency: int, cache_dir: Path) -> LLMGateway:
    return LLMGateway(
        LLMConfig(
            provider="openai",
            model="bench",
            base_url=base_url,
            cache_dir=cache_dir,
            limits=RateLimits(concurrency=concurrency, adaptive=False),
            timeout_s=30,
            client=CLIENT,
        )
    )


async def drive(gateway: LLMGateway, n: int, concurrency: int) -> tuple[int, float, float]:
    """Send n structured requests with a pool of `concurrency` workers: (failures, wall s, CPU s)."""
    next_index, failures = iter(range(n)), 0

    async def worker() -> None:
        nonlocal failures
        for i in next_index:
            result = await gateway.structured(messages_for(i), Item, seed=i)
            failures += not result.ok or result.value is None

    wall, cpu = time.perf_counter(), time.process_time()
    async with gateway:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failures, time.perf_counter() - wall, time.process_time() - cpu


def peak_in_flight(entries: list[dict[str, Any]]) -> int:
    """Most of `entries` overlapping in time (the server's own max_in_flight spans all runs)."""
    events = sorted([(e["received"], 1) for e in entries] + [(e["finished"], -1) for e in entries])
    return max(itertools.accumulate(step for _, step in events), default=0)


def bench_concurrency(
    server: str, n: int, c: int, latency: float, cache_dir: Path
) -> dict[str, Any]:
    before = len(get_json(server + "/_log")["requests"])
    failures, wall, cpu = asyncio.run(drive(gateway_for(server + "/v1", c, cache_dir), n, c))
    log = get_json(server + "/_log")
    run_entries = log["requests"][before:]
    throughput, ideal = n / wall, c / latency
    return {
        "concurrency": c,
        "requests": n,
        "failures": failures,
        "sent": len(run_entries),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "throughput_rps": round(throughput, 1),
        "ideal_rps": round(ideal, 1),
        "ratio": round(throughput / ideal, 3),
        "cpu_ms_per_request": round(cpu / n * 1000, 3),
        "server_max_in_flight": log["max_in_flight"],
        "run_peak_in_flight": peak_in_flight(run_entries),
    }


def bench_cache_lookups(folder: Path) -> dict[str, Any]:
    cache = ResponseCache(folder / "lookups.sqlite")
    keys = [cache_key(i=i, bench="lookup") for i in range(CACHE_ENTRIES)]
    reply = ProviderReply(
        text='{"name": "x", "colour": "y", "summary": "z"}',
        model="bench",
        prompt_tokens=12,
        completion_tokens=9,
        finish_reason="stop",
    )
    started = time.perf_counter()
    for key in keys:
        cache.put(key, reply)
    fill = time.perf_counter() - started
    random.Random(0).shuffle(keys)
    started = time.perf_counter()
    misses = sum(cache.get(key) is None for key in keys)
    elapsed = time.perf_counter() - started
    cache.close()
    return {
        "entries": CACHE_ENTRIES,
        "fill_s": round(fill, 3),
        "lookups": len(keys),
        "misses": misses,
        "lookup_s": round(elapsed, 4),
        "lookups_per_s": round(len(keys) / elapsed, 1),
    }


def bench_cache_pass(server: str, n: int, c: int, cache_dir: Path) -> dict[str, Any]:
    before = len(get_json(server + "/_log")["requests"])
    gateway = gateway_for(server + "/v1", c, cache_dir)
    failures, wall, cpu = asyncio.run(drive(gateway, n, c))
    sent = len(get_json(server + "/_log")["requests"]) - before
    return {
        "requests": n,
        "failures": failures,
        "cache_hits": gateway.usage.cache_hits,
        "sent_to_server": sent,
        "wall_s": round(wall, 3),
        "rps": round(n / wall, 1),
        "cpu_ms_per_request": round(cpu / n * 1000, 3),
    }


def report(
    runs: list[dict[str, Any]], lookups: dict[str, Any], hits: dict[str, Any]
) -> dict[str, Any]:
    def verdict(ok: bool) -> str:
        return "yes" if ok else "NO"

    targets: dict[str, bool] = {}
    header = (
        f"{'concurrency':>11} {'fail':>4} {'wall s':>7} {'cpu s':>6} {'req/s':>7} {'ideal':>6} "
        f"{'ratio':>6} {'target':>7} {'met':>3} {'cpu ms/req':>10} {'target':>6} {'met':>3} "
        f"{'srv max inflight':>16} {'run peak':>8}"
    )
    print(header + "\n" + "-" * len(header))
    for r in runs:
        c = r["concurrency"]
        ratio_ok = r["ratio"] >= TARGET_RATIO and r["failures"] == 0
        cpu_ok = targets[f"cpu_ms_per_request_c{c}"] = r["cpu_ms_per_request"] < TARGET_CPU_MS
        if c == 64:
            targets["ratio_c64"] = ratio_ok
        print(
            f"{c:>11} {r['failures']:>4} {r['wall_s']:>7.2f} {r['cpu_s']:>6.2f} {r['throughput_rps']:>7.1f} "
            f"{r['ideal_rps']:>6.0f} {r['ratio']:>6.3f} {'>= 0.9' if c == 64 else '-':>7} "
            f"{verdict(ratio_ok) if c == 64 else '-':>3} {r['cpu_ms_per_request']:>10.3f} {'< 2':>6} "
            f"{verdict(cpu_ok):>3} {r['server_max_in_flight']:>16} {r['run_peak_in_flight']:>8}"
        )
    lookups_ok = targets["cache_lookups_per_s"] = (
        lookups["lookups_per_s"] >= TARGET_LOOKUPS and lookups["misses"] == 0
    )
    hits_ok = targets["cache_pass_zero_sent"] = (
        hits["sent_to_server"] == 0
        and hits["failures"] == 0
        and hits["cache_hits"] == hits["requests"]
    )
    print(
        f"\ncache get ({lookups['entries']} entries, {lookups['lookups']} lookups, {lookups['misses']} misses): "
        f"{lookups['lookups_per_s']:>10.0f} lookups/s   target >= 20000   met {verdict(lookups_ok)}"
    )
    print(
        f"gateway cache-hit pass ({hits['requests']} requests, {hits['cache_hits']} hits, "
        f"{hits['sent_to_server']} sent): {hits['rps']:>8.0f} req/s, "
        f"{hits['cpu_ms_per_request']:.3f} ms CPU/req   zero sent: met {verdict(hits_ok)}"
    )
    print(f"all targets met: {verdict(all(targets.values()))}")
    return {"runs": runs, "cache_lookups": lookups, "cache_pass": hits, "targets_met": targets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 256])
    parser.add_argument(
        "--client", choices=["direct", "sdk"], default="direct", help="llm.client to measure"
    )
    args = parser.parse_args()
    global CLIENT
    CLIENT = args.client
    print(f"openai provider, llm.client = {CLIENT}")
    os.environ["OPENAI_API_KEY"] = "sk-bench-dummy"
    warm_sdk()
    port = free_loopback_port()
    server = f"http://127.0.0.1:{port}"
    proc = start_server(port, args.latency)
    try:
        with tempfile.TemporaryDirectory(prefix="rolemill-bench-") as tmp:
            folder = Path(tmp)
            runs = [
                bench_concurrency(server, args.requests, c, args.latency, folder / f"run-c{c}")
                for c in args.concurrency
            ]
            lookups = bench_cache_lookups(folder)
            first = args.concurrency[0]
            hits = bench_cache_pass(server, args.requests, first, folder / f"run-c{first}")
            summary = report(runs, lookups, hits)
    finally:
        stop_server(proc)
    figures = {**summary, "latency_s": args.latency, "client": CLIENT}
    print("JSON: " + json.dumps(figures, separators=(",", ":")))


if __name__ == "__main__":
    main()
