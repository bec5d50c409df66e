"""Where a build's shard tasks run: the flow's own task runner (threads), or a Dask cluster.

The choice is the recipe's `runner` section, so the CLI (`--dask`), a deployment's
parameters and the recipe all reach it, and it is made inside the flow run (a
deployment's flow object has a fixed task runner; this one is entered per run).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect.context import FlowRunContext
from prefect.task_runners import TaskRunner

from rolemill.schemas.recipe import RunnerConfig


def dask_overrides(dask: str) -> list[str]:
    """Recipe overrides for `--dask`: `local` (a LocalCluster), a scheduler address, or
    empty (the recipe's own runner)."""
    if not dask:
        return []
    if dask == "local":
        return ["runner.kind=dask", "runner.address=null"]
    return ["runner.kind=dask", f"runner.address={dask}"]


@contextmanager
def shard_runner(config: RunnerConfig) -> Iterator[TaskRunner[Any]]:
    """The task runner shard tasks are submitted to, started for the `with` block."""
    if config.kind == "threads":
        context = FlowRunContext.get()
        if context is None or context.task_runner is None:
            raise RuntimeError("shard_runner: call it inside a flow run")
        yield context.task_runner
        return
    from prefect_dask import DaskTaskRunner

    if config.address:
        runner = DaskTaskRunner(address=config.address)
    else:
        runner = DaskTaskRunner(
            cluster_kwargs={
                "n_workers": config.workers,
                "processes": True,
                "threads_per_worker": config.threads_per_worker,
                "dashboard_address": ":0",  # any free port: never clash with another build
            }
        )
    with runner:
        yield runner
