"""A key set in the environment appears in no log line, cache file or error text."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from rolemill.testing.scripted_server import ScriptedLLMServer

SECRET = "sk-very-secret-value-4242424242"


def test_key_never_reaches_logs_cache_or_errors(
    tmp_path: Path, make_gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    with ScriptedLLMServer(latency_s=0.0, retry_after_s=0.05) as server:
        gateway = make_gateway(server, cache_dir=tmp_path / "secret-cache")

        async def run() -> list:
            async with gateway:
                return [
                    await gateway.chat([{"role": "user", "content": "fine"}]),
                    # the server echoes the Authorization header into its error text, every time
                    await gateway.chat(
                        [
                            {
                                "role": "user",
                                "content": "x [[faults: echo-key,echo-key,echo-key,echo-key]]",
                            }
                        ]
                    ),
                    await gateway.chat([{"role": "user", "content": "y [[faults: echo-key,429]]"}]),
                ]

        results = asyncio.run(run())
        assert all(entry.authorization for entry in server.requests)  # the key was really sent

    assert results[0].ok and results[2].ok
    assert not results[1].ok
    assert "***" in results[1].error  # the echoed key was there, masked
    assert SECRET not in results[1].error
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "retrying" in logged  # the retries were logged ...
    assert SECRET not in logged  # ... without the key
    for path in (tmp_path / "secret-cache").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_prefect_api_log_handlers_redact_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefect ships flow and task run logs to its API through handlers on named loggers."""
    from prefect.logging.configuration import setup_logging

    from rolemill.tasks.llm.secrets import install_log_redaction, register_secret

    setup_logging()
    handlers = logging.getLogger("prefect.flow_runs").handlers
    assert handlers, "Prefect's logging config changed: find where run logs are shipped"
    register_secret(SECRET)
    install_log_redaction()
    record = logging.LogRecord(
        "prefect.flow_runs", logging.ERROR, __file__, 1, "key %s", (SECRET,), None
    )
    for handler in handlers:
        assert all(f(record) if callable(f) else f.filter(record) for f in handler.filters)
    assert SECRET not in record.getMessage()
