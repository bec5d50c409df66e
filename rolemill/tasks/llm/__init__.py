"""The LLM gateway: one async interface to every provider, with retries, limits and a cache.

    async with LLMGateway(LLMConfig(provider="local")) as gateway:
        reply = await gateway.chat([{"role": "user", "content": "Hi"}])
        parsed = await gateway.structured(messages, MyModel)

Names are imported lazily, so `python -m rolemill.tasks.llm.embedded_build` (run by
`make setup`) does not pull in the SDKs.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ChatResult": "rolemill.tasks.llm.types",
    "StructuredResult": "rolemill.tasks.llm.types",
    "Usage": "rolemill.tasks.llm.types",
    "LLMConfigurationError": "rolemill.tasks.llm.errors",
    "ProviderUnavailable": "rolemill.tasks.llm.errors",
    "LLMGateway": "rolemill.tasks.llm.gateway",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
