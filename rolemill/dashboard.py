"""`make dashboard`: the Prefect dashboard with rolemill's deployments, until Ctrl-C.

Starts a Prefect server (SQLite under data/prefect, offline, loopback), creates the
`rolemill-local` process pool, deploys prefect.yaml and starts a worker, then prints
the dashboard's address. Ctrl-C (or SIGTERM) stops the worker, its flow runs and the
server. See docs/operations.md.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import time
from pathlib import Path

from rolemill.prefect_stack import PROJECT_ROOT, PrefectStack, PrefectStackError


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rolemill.dashboard", description=__doc__)
    parser.add_argument("--port", type=int, default=4200, help="dashboard and API port")
    parser.add_argument(
        "--home",
        type=Path,
        default=PROJECT_ROOT / "data" / "prefect",
        help="PREFECT_HOME: the server's SQLite database and the logs",
    )
    args = parser.parse_args(argv)
    if not _port_is_free(args.port):
        print(
            f"error: port {args.port} on 127.0.0.1 is in use (another Prefect server?): "
            f"stop it, or choose another port: make dashboard DASHBOARD_PORT=4300",
            file=sys.stderr,
        )
        return 1

    stack = PrefectStack(home=args.home.resolve(), port=args.port)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # even if inherited ignored
        signal.signal(signum, _raise_interrupt)
    try:
        print(f"starting the Prefect server (logs in {stack.logs}) ...", flush=True)
        stack.start_server()
        print("creating the work pool and deploying prefect.yaml ...", flush=True)
        stack.ensure_pool()
        stack.deploy()
        stack.start_worker()
        print(
            f"\nPrefect dashboard: {stack.dashboard_url}\n"
            f"  deployments: {stack.dashboard_url}/deployments\n"
            f"  API for other workers and the CLI: PREFECT_API_URL={stack.api_url}\n"
            f"  logs: {stack.logs}/{{server,worker,setup}}.log\n"
            "Ctrl-C stops the worker, its flow runs and the server.",
            flush=True,
        )
        while (failed := stack.failed_process()) is None:
            time.sleep(1)
        print(
            f"error: the Prefect {failed} stopped; see {stack.logs}/{failed}.log", file=sys.stderr
        )
        return 1
    except PrefectStackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping the worker and the server ...", flush=True)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
