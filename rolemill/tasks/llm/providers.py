"""One request processor per provider behind one interface: `send(LLMRequest) -> ProviderReply`.

Each maps its SDK's errors onto ours: TransientProviderError (retry), RequestRejected
(a failed item), LLMConfigurationError (stop the run: bad key, model or endpoint).
SDK-internal retries are off; the gateway owns retries so that limits see every try.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal, Protocol

from rolemill.tasks.llm.errors import (
    LLMConfigurationError,
    ProviderUnavailable,
    RequestRejected,
    TransientProviderError,
)
from rolemill.tasks.llm.secrets import redact
from rolemill.tasks.llm.types import LLMRequest, ProviderReply

OpenAIClient = Literal["direct", "sdk"]
DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"


class Provider(Protocol):
    name: str
    model: str

    async def send(self, request: LLMRequest) -> ProviderReply: ...

    async def aclose(self) -> None: ...


def _retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (delta seconds); None when absent."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    return None


def _classify_status(
    provider: str, model: str, status: int, message: str, headers: Any
) -> Exception:
    message = redact(message)[:300]
    if status == 429:
        return TransientProviderError(
            f"429 rate limited: {message}", _retry_after(headers), rate_limited=True
        )
    if status >= 500 or status in (408, 409):
        return TransientProviderError(f"{status} server error: {message}", _retry_after(headers))
    if status in (401, 403):
        return LLMConfigurationError(f"{provider}: the API key was refused ({status}); check it")
    if status == 404:
        return LLMConfigurationError(
            f"{provider}: model {model!r} or endpoint not found (404); check llm.model and llm.base_url"
        )
    return RequestRejected(f"{status}: {message}")


def transport_error(exc: BaseException) -> TransientProviderError:
    """A timeout or connection failure from an SDK, told apart by its root cause.

    The SDKs' aiohttp transport reports a refused connection as a connect *timeout*;
    the aiohttp error underneath says what really happened.
    """
    import aiohttp

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError):
            return TransientProviderError(f"connection error: {redact(str(cause))}")
        cause = cause.__cause__ or cause.__context__
    if "timeout" in type(exc).__name__.lower():
        return TransientProviderError("timeout")
    return TransientProviderError(f"connection error: {redact(str(exc))}")


class OpenAIProvider:
    """The OpenAI API and every OpenAI-compatible server (vLLM, SGLang, llama-server, Ollama).

    Two ways to post the same Chat Completions body (`llm.client`):
    - `direct` (default): JSON over one aiohttp session. The SDK builds each request
      through its option, URL and header models (about 1 ms of CPU per request, half of
      the gateway's budget, bench/gateway.py), and the gateway already owns retries,
      limits and parsing, so none of that is needed on the hot path.
    - `sdk`: the official `openai` SDK (its `post`, with aiohttp as its transport).
    """

    name = "openai"

    def __init__(
        self,
        model: str,
        api_key: str,
        base_url: str | None,
        timeout_s: float,
        provider_label: str = "openai",
        client: OpenAIClient = "direct",
    ):
        self.model = model
        self.label = provider_label
        self.sdk: Any = None  # the openai SDK client (`sdk`)
        self.session: Any = None  # the aiohttp session (`direct`), opened on first use
        if client == "sdk":
            import openai

            # aiohttp as the SDK's transport: about a third less CPU per request than
            # httpx, whose connection pool scans every connection on every request.
            self.sdk = openai.AsyncOpenAI(
                api_key=api_key,
                base_url=base_url,
                timeout=timeout_s,
                max_retries=0,
                http_client=openai.DefaultAioHttpClient(),
            )
            return
        root = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL
        self.url = root.rstrip("/") + "/chat/completions"
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        for variable, header in (
            ("OPENAI_ORG_ID", "OpenAI-Organization"),
            ("OPENAI_PROJECT_ID", "OpenAI-Project"),
        ):
            if os.environ.get(variable):  # as the SDK does
                self.headers[header] = os.environ[variable]
        self.timeout_s = timeout_s

    def body(self, request: LLMRequest) -> dict[str, Any]:
        """The Chat Completions request body."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.seed is not None:
            body["seed"] = request.seed
        if request.schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name or "reply",
                    "schema": request.schema,
                    "strict": True,
                },
            }
        return body

    async def send(self, request: LLMRequest) -> ProviderReply:
        body = self.body(request)
        if self.sdk is not None:
            completion = await self._post_sdk(body)
        else:
            completion = await self._post_direct(body)
        choices = completion.get("choices") or []
        if not choices:
            raise TransientProviderError("reply with no choices")
        choice = choices[0]
        usage = completion.get("usage") or {}
        return ProviderReply(
            text=(choice.get("message") or {}).get("content") or "",
            model=completion.get("model") or self.model,
            prompt_tokens=usage.get("prompt_tokens") or 0,
            completion_tokens=usage.get("completion_tokens") or 0,
            finish_reason=choice.get("finish_reason"),
        )

    async def _post_sdk(self, body: dict[str, Any]) -> dict[str, Any]:
        import openai

        try:
            # The plain `post` with a dict result skips the SDK's parameter transform and
            # response models (about a millisecond of CPU per request); the body is plain JSON.
            completion: dict[str, Any] = await self.sdk.post(
                "/chat/completions", body=body, cast_to=dict
            )
        except openai.APIConnectionError as exc:  # APITimeoutError included
            raise transport_error(exc) from None
        except openai.APIStatusError as exc:
            raise _classify_status(
                self.label, self.model, exc.status_code, exc.message, exc.response.headers
            ) from None
        return completion

    async def _post_direct(self, body: dict[str, Any]) -> dict[str, Any]:
        import aiohttp

        if self.session is None:
            self.session = aiohttp.ClientSession(
                # no pool cap of its own: the gateway's limiter caps requests in flight
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            )
        try:
            async with self.session.post(
                self.url, data=json.dumps(body, ensure_ascii=False).encode(), headers=self.headers
            ) as response:
                payload = await response.read()
                status, headers = response.status, response.headers
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise transport_error(exc) from None
        if status >= 400:
            raise _classify_status(
                self.label, self.model, status, _error_message(payload), headers
            ) from None
        try:
            completion = json.loads(payload)
        except ValueError:
            raise TransientProviderError("reply is not JSON") from None
        if not isinstance(completion, dict):
            raise TransientProviderError("reply is not a JSON object")
        return completion

    async def aclose(self) -> None:
        if self.sdk is not None:
            await self.sdk.close()
        if self.session is not None:
            await self.session.close()


def _error_message(payload: bytes) -> str:
    """An error body's message: OpenAI's {"error": {"message": ...}}, or the raw text."""
    text = payload.decode("utf-8", errors="replace")
    try:
        error = json.loads(text).get("error")
    except (ValueError, AttributeError):
        return text
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(error) if error else text


class AnthropicProvider:
    """The Anthropic Messages API (and compatible servers such as llama-server's /v1/messages).

    Structured output uses the API's native `output_config.format` (JSON schema). On
    compatible servers, which ignore it, the schema goes into the system prompt with
    an assistant prefill of `{`; the gateway's lenient parse and retries do the rest.
    """

    name = "anthropic"

    def __init__(self, model: str, api_key: str, base_url: str | None, timeout_s: float):
        import anthropic

        self._anthropic = anthropic
        self.model = model
        self.compatible_server = base_url is not None
        self.client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=0,
            http_client=anthropic.DefaultAioHttpClient(),
        )

    async def send(self, request: LLMRequest) -> ProviderReply:
        anthropic = self._anthropic
        system = "\n\n".join(m["content"] for m in request.messages if m["role"] == "system")
        messages = [m for m in request.messages if m["role"] != "system"]
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
        }
        if system:
            kwargs["system"] = system
        extra: dict[str, Any] = {}
        if request.temperature is not None:
            extra["temperature"] = request.temperature
        if self.compatible_server and request.seed is not None:
            extra["seed"] = request.seed
        if extra:
            kwargs["extra_body"] = extra
        if request.schema is not None and not self.compatible_server:
            kwargs["output_config"] = {"format": {"type": "json_schema", "schema": request.schema}}
        elif request.schema is not None:
            # Compatible servers (llama-server's /v1/messages) drop JSON-schema fields:
            # describe the schema in the system prompt and prefill the opening brace.
            kwargs["system"] = "\n\n".join(filter(None, [system, json_instruction(request.schema)]))
            kwargs["messages"] = [*messages, {"role": "assistant", "content": "{"}]
        try:
            message = await self.client.messages.create(**kwargs)
        except anthropic.APIConnectionError as exc:  # APITimeoutError included
            raise transport_error(exc) from None
        except anthropic.APIStatusError as exc:
            raise _classify_status(
                "anthropic", self.model, exc.status_code, exc.message, exc.response.headers
            ) from None
        text = "".join(block.text for block in message.content if block.type == "text")
        if (
            request.schema is not None
            and self.compatible_server
            and not text.lstrip().startswith("{")
        ):
            text = "{" + text  # the prefill is ours; some servers echo it, others do not
        return ProviderReply(
            text=text,
            model=message.model or self.model,
            # input_tokens excludes prompt-cache reads and writes; count every input token
            prompt_tokens=message.usage.input_tokens
            + (getattr(message.usage, "cache_read_input_tokens", None) or 0)
            + (getattr(message.usage, "cache_creation_input_tokens", None) or 0),
            completion_tokens=message.usage.output_tokens,
            finish_reason=message.stop_reason,
        )

    async def aclose(self) -> None:
        await self.client.close()


def json_instruction(schema: dict[str, Any]) -> str:
    """How to answer, for servers that cannot constrain output to a schema."""
    properties = schema.get("properties", {})
    if properties and all(
        p.get("type") in ("string", "number", "integer", "boolean") for p in properties.values()
    ):
        keys = ", ".join(f'"{name}" ({p["type"]})' for name, p in properties.items())
        return f"Answer with one JSON object with exactly these keys: {keys}. No other text."
    return (
        "Answer with one JSON object and nothing else. It must match this JSON schema:\n"
        + json.dumps(schema, ensure_ascii=False)
    )


def unreachable(provider: str, base_url: str | None) -> ProviderUnavailable:
    where = base_url or "its default endpoint"
    return ProviderUnavailable(
        f"{provider}: cannot reach {where}; check llm.base_url and the network, "
        "or use --provider local"
    )
