"""The `rolemill` command line (typer). Thin: it parses options and calls into tasks/ and flows/."""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, Field

app = typer.Typer(
    help="rolemill: a data factory for role-play training data.", no_args_is_help=True
)
llm_app = typer.Typer(help="The LLM gateway and the embedded local model.", no_args_is_help=True)
app.add_typer(llm_app, name="llm")
hub_app = typer.Typer(help="Datasets on the hub.", no_args_is_help=True)
app.add_typer(hub_app, name="hub")


class CharacterSketch(BaseModel):
    """What `rolemill llm check` asks for as its structured request."""

    name: str = Field(description="the character's name")
    catchphrase: str = Field(description="a line the character often says")
    era: str = Field(description="when the character lives")


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


@llm_app.command("check")
def llm_check(
    provider: Annotated[str, typer.Option(help="local | openai | anthropic")] = "local",
    model: Annotated[str | None, typer.Option(help="model name (default per provider)")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="an OpenAI/Anthropic-compatible endpoint")
    ] = None,
) -> None:
    """Send one chat and one structured request through the gateway and print what came back."""
    from rolemill.schemas.llm import GenerationParams, LLMConfig, RetryPolicy
    from rolemill.tasks.llm import LLMConfigurationError, LLMGateway
    from rolemill.tasks.llm.embedded_build import EmbeddedModelMissing

    if provider not in ("local", "openai", "anthropic"):
        _fail(f"--provider must be local, openai or anthropic, not {provider!r}")
    config = LLMConfig(
        provider=provider,  # type: ignore[arg-type]
        model=model,
        base_url=base_url,
        refresh_cache=True,
        timeout_s=60,
        retry=RetryPolicy(max_attempts=2, base_delay_s=0.5),
        params=GenerationParams(temperature=0.7, max_tokens=96),
    )

    async def run() -> None:
        gateway = LLMGateway(config)
        try:
            messages = [
                {"role": "system", "content": "You are Sherlock Holmes. Stay in character."},
                {"role": "user", "content": "Introduce yourself in one sentence."},
            ]
            chat = await gateway.chat(messages, seed=1)
            if not chat.ok:
                _fail(f"chat request failed: {chat.error}")
            typer.echo(f"provider:   {provider}")
            typer.echo(f"model:      {chat.model}")
            typer.echo(
                f"chat:       {chat.latency_s:.2f}s, {chat.usage.prompt_tokens} prompt + "
                f"{chat.usage.completion_tokens} completion tokens"
            )
            typer.echo(f"reply:      {(chat.text or '').strip()[:300]}")
            sketch = await gateway.structured(
                [
                    {"role": "system", "content": "You describe fictional characters as JSON."},
                    {
                        "role": "user",
                        "content": "Describe Sherlock Holmes: name, catchphrase, era.",
                    },
                ],
                CharacterSketch,
                seed=1,
                max_string=120,
            )
            if not sketch.ok:
                _fail(f"structured request failed: {sketch.error}")
            assert sketch.value is not None
            typer.echo(
                f"structured: {sketch.latency_s:.2f}s, {sketch.usage.prompt_tokens} prompt + "
                f"{sketch.usage.completion_tokens} completion tokens, {sketch.attempts} attempt(s)"
            )
            typer.echo("parsed:     " + json.dumps(sketch.value.model_dump(), ensure_ascii=False))
            typer.echo(f"cost:       ${gateway.usage.cost_usd:.6f}")
        finally:
            await gateway.aclose()

    try:
        asyncio.run(run())
    except (LLMConfigurationError, EmbeddedModelMissing) as exc:
        _fail(str(exc))


@llm_app.command("serve")
def llm_serve(
    parallel: Annotated[int, typer.Option(help="parallel slots")] = 4,
    context: Annotated[int, typer.Option(help="context tokens per slot")] = 2048,
) -> None:
    """Run the embedded llama-server in the foreground until Ctrl-C."""
    from rolemill.tasks.llm.embedded_build import EmbeddedModelMissing
    from rolemill.tasks.llm.errors import ProviderUnavailable
    from rolemill.tasks.llm.local_server import LocalLlamaServer

    server = LocalLlamaServer(parallel=parallel, context_per_slot=context)
    try:
        server.start()
    except (EmbeddedModelMissing, ProviderUnavailable) as exc:
        _fail(str(exc))
    typer.echo(
        f"model {server.model_name} serving at {server.base_url} "
        f"(OpenAI) and {server.root_url}/v1/messages (Anthropic); Ctrl-C stops it"
    )
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
        _fail("llama-server stopped unexpectedly")
    except KeyboardInterrupt:
        typer.echo("stopping")
    finally:
        server.stop()


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Failures that deserve one clear line rather than a traceback."""
    from rolemill.schemas.input_error import InputError
    from rolemill.tasks.dedup_index import IndexSettingsError
    from rolemill.tasks.llm import LLMConfigurationError, ProviderUnavailable
    from rolemill.tasks.llm.embedded_build import EmbeddedModelMissing
    from rolemill.tasks.publish.hub import HubError
    from rolemill.tasks.validation import ValidationGateError

    return (
        InputError,
        IndexSettingsError,
        LLMConfigurationError,
        ProviderUnavailable,
        EmbeddedModelMissing,
        HubError,
        ValidationGateError,
    )


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_now(message: str) -> None:
    """Exit at once: shard threads still waiting on the LLM would hold a normal exit for
    minutes. Exit handlers still run, so the embedded llama-server and a temporary
    Prefect server stop; the response cache is already on disk."""
    typer.secho(message, fg=typer.colors.YELLOW, err=True)
    sys.stderr.flush()
    sys.stdout.flush()
    atexit._run_exitfuncs()
    os._exit(130)


@app.command("build")
def build(
    recipe: Annotated[Path, typer.Argument(help="the recipe YAML")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a recipe key, e.g. --set llm.model=gpt-4o-mini"),
    ] = None,
    publish: Annotated[
        bool, typer.Option(help="publish a new version when content changed")
    ] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show Prefect's logs")] = False,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="publish as this X.Y.Z (publish.version); refused if the hub has it or a later one",
        ),
    ] = None,
    dask: Annotated[
        str,
        typer.Option(help="run shards on Dask: a scheduler address (tcp://host:8786) or `local`"),
    ] = "",
) -> None:
    """Build the dataset a recipe describes; publish a new version if its content changed.

    Runs on a temporary Prefect server, or the one at PREFECT_API_URL when set.
    """
    # Quiet unless asked: a failure is reported below as one line, not Prefect's traceback.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "CRITICAL")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # The temporary server's first start on a fresh venv (bytecode, database migrations)
    # takes longer than Prefect's 20 s default on 2 busy cores.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    from rolemill.flows.runner import dask_overrides
    from rolemill.schemas.recipe import load_recipe
    from rolemill.tasks.persona_pool import load_persona_pool
    from rolemill.tasks.seed_loader import load_seeds

    expected = _expected_errors()
    overrides = list(set_ or []) + ([f"publish.version={version}"] if version else [])
    overrides += dask_overrides(dask)
    try:  # every input is checked before any work starts
        loaded = load_recipe(recipe, overrides)
        seeds = load_seeds(loaded)
        pool = load_persona_pool(loaded, seeds)
    except expected as exc:
        _fail(str(exc))
    personas = f" + {pool.count} synthetic personas" if pool else ""
    typer.echo(
        f"building {loaded.recipe.name}: {len(seeds.characters)} characters{personas}, "
        f"{loaded.recipe.llm.provider} model {loaded.recipe.llm.model_name}",
        err=True,
    )

    from prefect.exceptions import TerminationSignal

    from rolemill.flows.build import build_dataset
    from rolemill.flows.progress import set_progress_sink
    from rolemill.flows.rich_progress import RichProgress

    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with RichProgress() as bars:
            set_progress_sink(bars)
            summary = build_dataset(str(recipe), publish=publish, overrides=overrides)
    except expected as exc:
        _fail(str(exc))
    except (KeyboardInterrupt, TerminationSignal):
        _stop_now(
            "interrupted: every reply received so far is cached and nothing was published; "
            "run the same command again to resume"
        )
    finally:
        set_progress_sink(None)
    from rolemill.flows.summary import BuildSummary

    for line in BuildSummary.from_dict(summary).lines():
        typer.echo(line)


TargetArgument = Annotated[
    str,
    typer.Argument(
        help="dataset name (local hub), bare repo path, git URL (git+file|https|ssh://...) "
        "or hf://datasets/<org>/<name>"
    ),
]


@hub_app.command("list")
def hub_list(target: TargetArgument) -> None:
    """List a dataset's versions with their row counts per config."""
    from rolemill.tasks.publish.hub import HubError
    from rolemill.tasks.publish.targets import hub_for

    try:
        hub = hub_for(target)
        listing = hub.list_versions()
    except HubError as exc:
        _fail(str(exc))
    if not listing:
        typer.echo(f"no versions published at {hub.remote}")
        return
    for entry in listing:
        rows = ", ".join(f"{config} {count}" for config, count in entry.rows.items())
        typer.echo(f"{entry.tag:<10} {entry.date:<26} {rows}")


@hub_app.command("show")
def hub_show(
    target: TargetArgument,
    version: Annotated[str | None, typer.Argument(help="vX.Y.Z; the latest by default")] = None,
    verify: Annotated[
        bool, typer.Option(help="download the version's files and check them against its manifest")
    ] = False,
) -> None:
    """One version: date, provenance, rows per config and split, files, the card's start."""
    import tempfile

    from rolemill.tasks.publish.hub import HubError
    from rolemill.tasks.publish.hub_report import resolve_version, show_lines
    from rolemill.tasks.publish.targets import hub_for
    from rolemill.tasks.publish.verify import download_version, verify_folder

    try:
        hub = hub_for(target)
        chosen = resolve_version(hub, version)
        for line in show_lines(hub, chosen):
            typer.echo(line)
        if verify:
            with tempfile.TemporaryDirectory(prefix=f"verify-{chosen.tag}-") as folder:
                manifest = verify_folder(download_version(hub, chosen, Path(folder)))
            typer.echo(f"verified  {len(manifest.files())} files match manifest.json")
    except HubError as exc:
        _fail(str(exc))


@hub_app.command("diff")
def hub_diff(
    target: TargetArgument,
    old: Annotated[str, typer.Argument(help="the earlier version, vX.Y.Z")],
    new: Annotated[str, typer.Argument(help="the later version, vX.Y.Z")],
) -> None:
    """Rows per config in two versions, and rows added and removed per config by id."""
    from rolemill.tasks.publish.hub import HubError
    from rolemill.tasks.publish.hub_report import diff_lines, resolve_version
    from rolemill.tasks.publish.targets import hub_for

    try:
        hub = hub_for(target)
        lines = diff_lines(hub, resolve_version(hub, old), resolve_version(hub, new))
    except HubError as exc:
        _fail(str(exc))
    for line in lines:
        typer.echo(line)


@hub_app.command("verify")
def hub_verify(
    folder: Annotated[Path, typer.Argument(help="a clone or copy of one version")],
) -> None:
    """Check every file of a version's folder against its manifest.json (sha256, rows)."""
    from rolemill.tasks.publish.hub import HubError
    from rolemill.tasks.publish.verify import verify_folder

    try:
        manifest = verify_folder(folder)
    except HubError as exc:
        _fail(str(exc))
    version = f"v{manifest.version}" if manifest.version else "(unpublished tree)"
    typer.echo(f"{folder}: {manifest.name} {version}, {len(manifest.files())} files match")


if __name__ == "__main__":
    app()
