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
