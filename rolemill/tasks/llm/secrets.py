"""API keys from the environment or Prefect Secret blocks, and their redaction.

Every key the gateway resolves is registered here; `redact` replaces registered
keys in any text, and `SecretRedactingFilter` does so for every log record, so a
key that a provider echoes in an error message still never reaches a log or error.
"""

from __future__ import annotations

import logging
import os
import threading

from rolemill.tasks.llm.errors import LLMConfigurationError

_known_secrets: set[str] = set()
_lock = threading.Lock()
MASK = "***"


def register_secret(value: str) -> None:
    if len(value) >= 6:
        with _lock:
            _known_secrets.add(value)


def redact(text: str) -> str:
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class SecretRedactingFilter(logging.Filter):
    """Masks registered secrets in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _known_secrets:
            record.msg = redact(record.getMessage())
            record.args = None
        return True


_filter = SecretRedactingFilter()


def install_log_redaction() -> None:
    """Attach the redacting filter to every handler in the process (idempotent): the root
    logger's, and those of named loggers, where Prefect keeps the handlers that send flow
    and task run logs to its API (and so to the dashboard's database)."""
    named = logging.Logger.manager.loggerDict.values()
    loggers = [logging.getLogger(), *(item for item in named if isinstance(item, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            if _filter not in handler.filters:
                handler.addFilter(_filter)


def secret_block_value(block_name: str) -> str:
    """The value of a Prefect Secret block, registered for redaction. Works inside an event
    loop too (the gateway resolves keys in its loop, where a bare `Secret.load` hands back
    a coroutine). Raises what Prefect raises when the block or the server is missing."""
    from prefect.blocks.system import Secret

    value = str(Secret.load(block_name, _sync=True).get())
    register_secret(value)
    return value


def resolve_api_key(provider: str, env_var: str | None, block_name: str | None) -> str:
    """The key from `env_var`, else from the Prefect Secret block; a clear error when neither."""
    if env_var and os.environ.get(env_var):
        key = os.environ[env_var]
        register_secret(key)
        return key
    if block_name:
        try:
            return secret_block_value(block_name)
        except Exception as exc:  # the block is missing or the server unreachable
            raise LLMConfigurationError(
                f"{provider}: could not load Prefect Secret block {block_name!r} "
                f"({type(exc).__name__}); create it or set {env_var or 'the key variable'}"
            ) from None
    where = f"set {env_var}" if env_var else "set llm.api_key_env"
    raise LLMConfigurationError(
        f"{provider}: no API key; {where} in the environment or name a Prefect Secret "
        "block in llm.api_key_block"
    )
