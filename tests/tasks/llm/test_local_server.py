"""The embedded server's lifecycle: it never outlives the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.llm_server

STARTER = """
import threading, time
from rolemill.tasks.llm.local_server import LocalLlamaServer
server = LocalLlamaServer(parallel=1, context_per_slot=512)
worker = threading.Thread(target=server.start)  # like a Prefect task thread: it ends at once
worker.start(); worker.join()
time.sleep(1.0)
print(server.process.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
        return stat.read().split()[2] != "Z"


def _wait_gone(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_server_stops_with_its_parent(how: signal.Signals) -> None:
    parent = subprocess.Popen([sys.executable, "-c", STARTER], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.send_signal(how)
        parent.wait(timeout=30)
        assert _wait_gone(child), f"llama-server {child} outlived its parent after {how.name}"
    finally:
        parent.kill()
