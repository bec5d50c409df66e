"""Errors the gateway raises or maps provider errors onto."""

from __future__ import annotations


class LLMConfigurationError(RuntimeError):
    """A problem with the setup (missing key, bad model, unreachable endpoint): stop the run.

    The message is one line that says what to set or fix.
    """


class ProviderUnavailable(LLMConfigurationError):
    """The endpoint cannot be reached at all."""


class TransientProviderError(Exception):
    """A failure worth retrying: 429, 5xx, timeout, dropped connection."""

    def __init__(self, reason: str, retry_after_s: float | None = None, rate_limited: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.rate_limited = rate_limited


class RequestRejected(Exception):
    """The provider refused this one request (e.g. 400): a failed item, not a failed run."""
