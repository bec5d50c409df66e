"""The LLM gateway: one async interface to every provider, with retries, limits and a cache.

gateway = LLMGateway(LLMConfig(provider="local"))
reply = await gateway.chat([{"role": "user", "content": "Hi"}])
parsed = await gateway.structured(messages, MyModel)
"""

from rolemill.tasks.llm.errors import LLMConfigurationError, ProviderUnavailable
from rolemill.tasks.llm.gateway import LLMGateway
from rolemill.tasks.llm.types import ChatResult, StructuredResult, Usage

__all__ = [
    "ChatResult",
    "LLMConfigurationError",
    "LLMGateway",
    "ProviderUnavailable",
    "StructuredResult",
    "Usage",
]
