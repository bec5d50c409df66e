"""Shared fixtures: a scripted OpenAI-compatible server, gateways on a private cache,
and one embedded llama-server for the whole session."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rolemill.schemas.llm import LLMConfig, RetryPolicy
from rolemill.tasks.llm import LLMGateway
from rolemill.testing.scripted_server import ScriptedLLMServer

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(autouse=True)
def private_llm_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the user's response cache."""
    folder = tmp_path / "llm-cache"
    monkeypatch.setenv("ROLEMILL_LLM_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def private_datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the user's `datasets` cache, nor another test's: `datasets` keys a
    local folder's cache by the folder's name and config, not its content, so a stale
    entry from an earlier run would be read back instead of the files under test."""
    import datasets

    folder = tmp_path / "hf-datasets-cache"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(folder))  # for subprocesses
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", folder)
    return folder


@pytest.fixture
def scripted() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer(latency_s=0.01, retry_after_s=0.3, hang_s=5.0) as server:
        yield server


@pytest.fixture
def make_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., LLMGateway]:
    """Gateways to the scripted server (OpenAI provider), all on one cache folder."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-scripted-test-key-0001")

    def make(server: ScriptedLLMServer, **overrides: Any) -> LLMGateway:
        settings: dict[str, Any] = {
            "provider": "openai",
            "model": "scripted-model",
            "base_url": server.base_url,
            "cache_dir": tmp_path / "cache",
            "timeout_s": 1.0,
            "retry": RetryPolicy(max_attempts=4, base_delay_s=0.05, max_delay_s=0.5),
        }
        settings.update(overrides)
        return LLMGateway(LLMConfig(**settings))

    return make


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[Any]:
    """One real llama-server with the embedded model for the session (built by `make setup`)."""
    from rolemill.tasks.llm.local_server import LocalLlamaServer

    with LocalLlamaServer(parallel=2, context_per_slot=1024) as server:
        yield server
