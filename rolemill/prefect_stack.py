"""A local Prefect stack: server (SQLite), the `rolemill-local` process pool, the
deployments of prefect.yaml, and a process worker, all on loopback and offline.

`make dashboard` runs one in the foreground (rolemill/dashboard.py); the deployment
tests run one on a free port with a temporary PREFECT_HOME. Each process starts in its
own session, dies with this process (Linux PDEATHSIG) and is stopped by `stop()`, which
also ends the flow runs the worker started (they run in sessions of their own).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from rolemill.tasks.llm.local_server import _die_with_parent, answers_ok

POOL = "rolemill-local"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class PrefectStackError(RuntimeError):
    """A part of the stack did not start; the message names it and quotes its log."""


def offline_settings(home: Path, api_url: str) -> dict[str, str]:
    """Prefect settings for a private, offline server and its clients."""
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_CLI_PROMPT": "false",
    }


def _children_by_parent() -> dict[int, list[int]]:
    """pid -> child pids, from /proc (Linux)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, whatever its session."""
    tree, found, todo = _children_by_parent(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _signal(pids: set[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@dataclass
class PrefectStack:
    """Server, pool, deployments and worker; use as a context manager or call `stop()`."""

    home: Path
    port: int = 4200
    root: Path = PROJECT_ROOT
    worker_env: dict[str, str] = field(default_factory=dict)  # reaches the flow runs
    settings: dict[str, str] = field(default_factory=dict)  # extra PREFECT_* for all
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def env(self) -> dict[str, str]:
        return os.environ | offline_settings(self.home, self.api_url) | self.settings

    def _log_tail(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"{path}:\n{text[-3000:]}"

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "prefect", *args],
                cwd=self.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop them in order
                preexec_fn=_die_with_parent,
            )

    def _prefect(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        """A `prefect` CLI command against the stack's server; its output goes to a log."""
        result = subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("a") as log:
            log.write(f"$ prefect {' '.join(args)}\n{result.stdout}{result.stderr}\n")
        return result

    def start_server(self, timeout_s: float = 180) -> None:
        """`prefect server start` on loopback; waits until /api/health answers."""
        self._spawn(
            "server",
            ["server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            self.env(),
        )
        server = self.processes["server"]
        deadline = time.monotonic() + timeout_s
        while not answers_ok(f"{self.api_url}/health"):
            if server.poll() is not None:
                raise PrefectStackError(f"the Prefect server stopped: {self._log_tail('server')}")
            if time.monotonic() > deadline:
                raise PrefectStackError(
                    f"the Prefect server did not answer within {timeout_s:.0f} s: "
                    f"{self._log_tail('server')}"
                )
            time.sleep(0.5)

    def ensure_pool(self) -> None:
        """The process work pool, created unless it exists."""
        if self._prefect("setup", "work-pool", "inspect", POOL).returncode == 0:
            return
        created = self._prefect("setup", "work-pool", "create", POOL, "--type", "process")
        if created.returncode != 0:
            raise PrefectStackError(f"could not create work pool {POOL}: {self._log_tail('setup')}")

    def deploy(self) -> None:
        """`prefect deploy --all` from the project root (its prefect.yaml)."""
        result = self._prefect("setup", "--no-prompt", "deploy", "--all")
        if result.returncode != 0:
            raise PrefectStackError(f"prefect deploy --all failed: {self._log_tail('setup')}")

    def start_worker(self) -> None:
        """A process worker on the pool; its environment reaches the flow runs."""
        self._spawn(
            "worker",
            ["worker", "start", "--pool", POOL, "--type", "process"],
            self.env() | self.worker_env,
        )

    def start(self) -> PrefectStack:
        try:
            self.start_server()
            self.ensure_pool()
            self.deploy()
            self.start_worker()
        except BaseException:
            self.stop()
            raise
        return self

    def failed_process(self) -> str | None:
        """The name of a stack process that has exited, if any."""
        return next((name for name, p in self.processes.items() if p.poll() is not None), None)

    def stop(self, grace_s: float = 20) -> None:
        """Worker (and its flow runs) first, then the server: SIGTERM to each process
        group and every descendant, SIGKILL to whatever outlives the grace period."""
        for name in ("worker", "server"):
            process = self.processes.pop(name, None)
            if process is None:
                continue
            below = descendants(process.pid)
            if process.poll() is None:
                _signal(below, signal.SIGTERM)
                _signal_group(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    _signal_group(process.pid, signal.SIGKILL)
                    process.wait()
            deadline = time.monotonic() + grace_s
            while any(alive(pid) for pid in below) and time.monotonic() < deadline:
                time.sleep(0.2)
            _signal({pid for pid in below if alive(pid)}, signal.SIGKILL)

    def __enter__(self) -> PrefectStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
