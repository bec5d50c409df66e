"""A real Prefect server for the flow tests, and a small project to build."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rolemill.tasks.llm.local_server import answers_ok, free_loopback_port
from rolemill.testing.scripted_server import ScriptedLLMServer

ROOT = Path(__file__).parents[2]
SEED_CHARACTERS = ROOT / "data" / "seeds" / "characters"
SEED_INSTRUCTIONS = ROOT / "data" / "seeds" / "instructions.jsonl"
# its profile, two segments, one general instruction, a one-turn dialogue (question, answer)
REQUESTS_PER_ROLE = 1 + 2 + 1 + 2

RECIPE = """\
name: tiny
license: cc-by-4.0
seeds:
  characters: [characters/*.yaml]
  instructions: instructions.jsonl
generators:
  context_instruct:
    questions_per_segment: 2
    min_confidence: 0
    segments: [description, scene]
  style_transfer:
    enabled: true
    instructions_per_role: 1
  self_alignment:
    enabled: true
    dialogues_per_role: 1
llm:
  provider: openai
  model: scripted-model
  timeout_s: 5
  retry: {{max_attempts: 3, base_delay_s: 0.05, max_delay_s: 0.2}}
  limits: {{concurrency: {concurrency}}}
shard_size: 2
"""


# The git-LFS filters, given on the command line so clones do not depend on git config.
LFS = [
    "-c", "filter.lfs.process=git-lfs filter-process",
    "-c", "filter.lfs.smudge=git-lfs smudge -- %f",
    "-c", "filter.lfs.clean=git-lfs clean -- %f",
    "-c", "filter.lfs.required=true",
]  # fmt: skip


def clone_version(hub: Path, tag: str, dest: Path) -> Path:
    """`git clone --branch <tag>` of a hub repository, with LFS files checked out."""
    subprocess.run(
        ["git", *LFS, "clone", "-q", "--branch", tag, str(hub), str(dest)],
        check=True,
        capture_output=True,
    )
    return dest


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prefect server on loopback (SQLite in a temp folder) shared by the flow tests."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_loopback_port()
    env = os.environ | {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_UI_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while not answers_ok(f"{url}/health"):
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(
                f"Prefect server did not start: {(home / 'server.log').read_text()[-2000:]}"
            )
        time.sleep(0.5)
    yield url
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


@dataclass
class Project:
    """A folder with a recipe, its characters, a response cache and a data folder."""

    root: Path
    server: ScriptedLLMServer
    prefect_api: str

    @property
    def recipe(self) -> Path:
        return self.root / "recipe.yaml"

    @property
    def hub(self) -> Path:
        return self.root / "data" / "hub" / "tiny.git"

    def add_character(self, role_id: str) -> None:
        shutil.copy(SEED_CHARACTERS / f"{role_id}.yaml", self.root / "characters")

    def env(self) -> dict[str, str]:
        return os.environ | {
            "ROLEMILL_DATA_DIR": str(self.root / "data"),
            "ROLEMILL_LLM_CACHE_DIR": str(self.root / "cache"),
            "OPENAI_API_KEY": "sk-scripted-test-key-0001",
            "PREFECT_API_URL": self.prefect_api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }

    def command(self, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "rolemill.cli",
            "build",
            str(self.recipe),
            "--set",
            f"llm.base_url={self.server.base_url}",
            *extra,
        ]

    def build(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*extra), env=self.env(), capture_output=True, text=True, timeout=600
        )

    def popen(self, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*extra),
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def make_project(
    tmp_path: Path,
    server: ScriptedLLMServer,
    prefect_api: str,
    roles: list[str],
    concurrency: int = 8,
) -> Project:
    (tmp_path / "characters").mkdir()
    project = Project(tmp_path, server, prefect_api)
    for role_id in roles:
        project.add_character(role_id)
    project.recipe.write_text(RECIPE.format(concurrency=concurrency))
    shutil.copy(SEED_INSTRUCTIONS, tmp_path / "instructions.jsonl")
    return project
