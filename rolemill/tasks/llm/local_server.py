"""The embedded llama-server: started on a free loopback port, health-checked, stopped cleanly.

One server per process is shared by every gateway that uses the `local` provider
(`shared_local_server`). The child is tied to us: it gets SIGTERM when this process
dies, even by SIGKILL (Linux PR_SET_PDEATHSIG), and is stopped at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from rolemill.tasks.llm.embedded_build import MODEL_NAME, find_model_file, find_server_binary
from rolemill.tasks.llm.errors import ProviderUnavailable

STARTUP_TIMEOUT_S = 120.0


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    """SIGKILL, not SIGTERM: llama-server may not act on SIGTERM while it is still loading
    the model (seen under load), and an orphan has nothing worth shutting down gently."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class _Spawner:
    """Starts children from one thread that lives as long as the process.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so a server
    started from a short-lived worker thread (Prefect runs tasks in such threads)
    would die with that thread. Forking from this thread ties it to the process.
    """

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[list[str], Any, Future[subprocess.Popen[bytes]]]] = (
            queue.Queue()
        )
        threading.Thread(target=self._run, name="rolemill-spawner", daemon=True).start()

    def _run(self) -> None:
        while True:
            command, log, result = self._jobs.get()
            try:
                result.set_result(
                    subprocess.Popen(
                        command,
                        stdout=log,
                        stderr=log,
                        stdin=subprocess.DEVNULL,
                        preexec_fn=_die_with_parent,
                    )
                )
            except BaseException as exc:
                result.set_exception(exc)

    def spawn(self, command: list[str], log: Any) -> subprocess.Popen[bytes]:
        result: Future[subprocess.Popen[bytes]] = Future()
        self._jobs.put((command, log, result))
        return result.result()


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def _spawn(command: list[str], log: Any) -> subprocess.Popen[bytes]:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
    return _spawner.spawn(command, log)


def stop_process(process: subprocess.Popen[Any], timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout_s`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def answers_ok(url: str, timeout_s: float = 2.0) -> bool:
    """True when a GET of `url` answers 200 (a health check)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as reply:
            return reply.status == 200
    except OSError:
        return False


class LocalLlamaServer:
    """A llama-server child process serving the embedded model."""

    def __init__(
        self,
        parallel: int = 4,
        context_per_slot: int = 2048,
        threads: int | None = None,
        log_path: Path | None = None,
    ):
        self.parallel = parallel
        self.context = context_per_slot * parallel
        self.threads = threads or max(1, os.cpu_count() or 1)
        self.log_path = log_path
        self.model_name = MODEL_NAME
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (`.../v1`)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """The server root, which the Anthropic SDK takes as its base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalLlamaServer:
        if self.process is not None:
            return self
        binary, model = find_server_binary(), find_model_file()
        self.port = free_loopback_port()
        command = [
            str(binary),
            "--model",
            str(model),
            "--alias",
            self.model_name,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--parallel",
            str(self.parallel),
            "--ctx-size",
            str(self.context),
            "--threads",
            str(self.threads),
            "--jinja",
            "--no-webui",
        ]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = _spawn(command, log)
        atexit.register(self.stop)
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise ProviderUnavailable(
                    f"local: llama-server exited with code {code} while starting; "
                    "run `rolemill llm serve` to see its output"
                )
            if answers_ok(f"{self.root_url}/health"):
                return
            time.sleep(0.2)
        self.stop()
        raise ProviderUnavailable(f"local: llama-server not healthy after {STARTUP_TIMEOUT_S:.0f}s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process)

    def __enter__(self) -> LocalLlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_shared: LocalLlamaServer | None = None
_shared_lock = threading.Lock()


def shared_local_server(parallel: int = 4, context_per_slot: int = 2048) -> LocalLlamaServer:
    """The process-wide embedded server, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.process is None or _shared.process.poll() is not None:
            _shared = LocalLlamaServer(parallel=parallel, context_per_slot=context_per_slot).start()
        return _shared
