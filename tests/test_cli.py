"""`rolemill llm check` as a user runs it: a real process, real output, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _rolemill(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "rolemill.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("provider", "variable"), [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")]
)
def test_missing_key_is_one_clear_line(provider: str, variable: str) -> None:
    result = _rolemill("llm", "check", "--provider", provider)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"set {variable}" in lines[0]


def test_unreachable_provider_is_one_clear_line() -> None:
    from rolemill.tasks.llm.local_server import free_loopback_port

    url = f"http://127.0.0.1:{free_loopback_port()}/v1"
    result = _rolemill(
        "llm",
        "check",
        "--provider",
        "openai",
        "--base-url",
        url,
        env={"OPENAI_API_KEY": "sk-test-unreachable"},
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"error: openai: cannot reach {url}; check llm.base_url and the network, or use --provider local"
    )
    assert "sk-test-unreachable" not in result.stdout + result.stderr


def test_check_against_the_scripted_server(scripted) -> None:
    result = _rolemill(
        "llm",
        "check",
        "--provider",
        "openai",
        "--model",
        "scripted-model",
        "--base-url",
        scripted.base_url,
        env={"OPENAI_API_KEY": "sk-test"},
    )
    assert result.returncode == 0, result.stderr
    assert "model:      scripted-model" in result.stdout
    parsed = json.loads(result.stdout.split("parsed:", 1)[1].splitlines()[0])
    assert set(parsed) == {"name", "catchphrase", "era"}
    assert [r.structured for r in scripted.requests] == [False, True]


@pytest.mark.llm_server
def test_check_on_the_embedded_model(embedded_server) -> None:
    result = _rolemill("llm", "check", env={"ROLEMILL_LOCAL_BASE_URL": embedded_server.base_url})
    assert result.returncode == 0, result.stderr
    assert "model:      SmolLM2-135M-Instruct" in result.stdout
    parsed = json.loads(result.stdout.split("parsed:", 1)[1].splitlines()[0])
    assert parsed["name"]
