"""A scripted OpenAI-compatible HTTP server for fast, deterministic tests and fault injection.

It speaks `/v1/chat/completions` over real HTTP, so the real SDKs and the whole
gateway are exercised. Replies are deterministic: a structured request gets an
instance of its JSON schema built from a hash of the request; a chat request gets
a short text, in Chinese words when the request holds Chinese (a zh role's prompts), as a
real model would answer. Faults are scripted in the last user message:

    "... [[faults: 429,500,timeout,truncated,malformed,echo-key]]"

The n-th time the server sees that request (same messages), it answers with the
n-th fault; after the list it answers normally. The server keeps its own request
log (`requests`), the most requests it ever had in flight, and serves them at
`GET /_log` when it runs in another process.

    with ScriptedLLMServer(latency_s=0.05) as server:
        client = OpenAI(base_url=server.base_url, api_key="x")
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_PATTERN = re.compile(r"\[\[faults:\s*([^\]]*)\]\]")
WORDS = [
    "the",
    "old",
    "lighthouse",
    "keeper",
    "watched",
    "grey",
    "waves",
    "roll",
    "over",
    "the",
    "harbour",
    "while",
    "gulls",
    "called",
    "and",
    "the",
    "lamp",
    "turned",
    "slowly",
    "through",
    "the",
    "long",
    "night",
]

# Chinese words for requests that hold Chinese text: the same scene, no spaces between
ZH_WORDS = ["老", "灯塔", "守护人", "望着", "灰色的", "海浪", "翻过", "港口", "海鸥", "鸣叫", "灯", "缓缓", "转动", "漫长的", "夜晚"]  # fmt: skip
HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class LoggedRequest:
    path: str
    received: float
    finished: float = 0.0
    status: int = 0
    fault: str | None = None
    messages_hash: str = ""
    prompt: str = ""  # every message's text, so tests can tell what a request was for
    structured: bool = False
    authorization: bool = False


@dataclass
class ScriptState:
    latency_s: float = 0.0
    retry_after_s: float = 1.0
    hang_s: float = 30.0
    reply_suffix: str = ""
    """appended to every free-text (not structured) reply: a model that rewords slightly"""
    structured_fields: dict[str, list[str]] = field(default_factory=dict)
    """field name -> values that successive structured replies with that field take (one
    each, in order; then generated values again): a model that writes a given text"""
    requests: list[LoggedRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    seen: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _text(seed: str, max_len: int, words: int = 8, chinese: bool = False, min_len: int = 0) -> str:
    """`words` words (more while shorter than `min_len`), cut at `max_len` characters."""
    start = int(seed[:8], 16)
    vocabulary, space = (ZH_WORDS, "") if chinese else (WORDS, " ")
    chosen: list[str] = []
    while len(chosen) < words or len(space.join(chosen)) < min_len:
        chosen.append(vocabulary[(start + len(chosen) * 7) % len(vocabulary)])
    return space.join(chosen)[:max_len]


def instance_of(schema: dict[str, Any], seed: str, chinese: bool = False) -> Any:
    """A deterministic value that satisfies `schema` (the subset rolemill emits); its
    strings in Chinese words with `chinese`."""
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"] or schema["anyOf"]
        return instance_of(options[0], seed, chinese)
    if "enum" in schema:
        return schema["enum"][int(seed[:4], 16) % len(schema["enum"])]
    kind = schema.get("type")
    if kind == "object":
        return {
            name: instance_of(sub, digest([seed, name]), chinese)
            for name, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        count = max(schema.get("minItems", 0), min(schema.get("maxItems", 3), 3))
        items = schema.get("items", {})
        return [instance_of(items, digest([seed, i]), chinese) for i in range(count)]
    if kind == "integer":
        low, high = schema.get("minimum", 0), schema.get("maximum", 10)
        return low + int(seed[:6], 16) % (high - low + 1)
    if kind == "number":
        low, high = schema.get("minimum", 0.0), schema.get("maximum", 1.0)
        return round(low + (int(seed[:6], 16) % 1000) / 1000 * (high - low), 3)
    if kind == "boolean":
        return int(seed[:2], 16) % 2 == 0
    if kind == "null":
        return None
    return _text(
        seed, schema.get("maxLength", 200), chinese=chinese, min_len=schema.get("minLength", 0)
    )


def build_app(state: ScriptState) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(
            {"error": {"message": message, "type": "scripted", "code": status}},
            status_code=status,
            headers=headers,
        )

    async def completions(request: Request) -> Any:
        entry = LoggedRequest(path=request.url.path, received=time.time())
        state.requests.append(entry)
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            response = await _answer(request, entry)
            entry.status = response.status_code
            return response
        finally:
            entry.finished = time.time()
            state.in_flight -= 1

    async def _answer(request: Request, entry: LoggedRequest) -> Any:
        body = await request.json()
        auth = request.headers.get("authorization", "")
        entry.authorization = bool(auth)
        messages = body.get("messages", [])
        entry.messages_hash = digest(messages)
        last_user = next(
            (m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), ""
        )
        entry.prompt = "\n".join(str(m.get("content", "")) for m in messages)
        faults = []
        match = FAULT_PATTERN.search(last_user if isinstance(last_user, str) else "")
        if match:
            faults = [f.strip() for f in match.group(1).split(",") if f.strip()]
        seen = state.seen[entry.messages_hash]
        state.seen[entry.messages_hash] = seen + 1
        fault = faults[seen] if seen < len(faults) else None
        entry.fault = fault
        if state.latency_s:
            await asyncio.sleep(state.latency_s)
        if fault == "429":
            return error(429, "rate limited (scripted)", {"retry-after": str(state.retry_after_s)})
        if fault == "500":
            return error(500, "internal error (scripted)")
        if fault == "503":
            return error(503, "overloaded (scripted)")
        if fault == "echo-key":
            return error(500, f"upstream rejected header {auth!r} (scripted)")
        if fault == "400":
            return error(400, "bad request (scripted)")
        if fault == "timeout":
            await asyncio.sleep(state.hang_s)
            return error(504, "too late")
        response_format = body.get("response_format") or {}
        schema = (response_format.get("json_schema") or {}).get("schema")
        entry.structured = schema is not None
        seed = digest([messages, body.get("seed")])
        chinese = HAN.search(entry.prompt) is not None
        if schema is not None:
            instance = instance_of(schema, seed, chinese)
            for name, values in state.structured_fields.items():
                if isinstance(instance, dict) and name in instance and values:
                    instance[name] = values.pop(0)
            content = json.dumps(instance, ensure_ascii=False)
        elif chinese:
            content = "脚本回复：" + _text(seed, 200, words=12, chinese=True) + state.reply_suffix
        else:
            content = "Scripted reply: " + _text(seed, 200, words=12) + state.reply_suffix
        if fault == "truncated":
            content = content[: max(1, len(content) // 2)]
        elif fault == "malformed":
            content = "Sure! Here is the answer: {not really json"
        elif fault == "invalid":
            content = json.dumps({"unexpected": "shape"})
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        return JSONResponse(
            {
                "id": "chatcmpl-" + seed[:12],
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "scripted"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(content.split()),
                    "total_tokens": prompt_tokens + len(content.split()),
                },
            }
        )

    async def request_log(request: Request) -> Any:
        return JSONResponse(
            {"max_in_flight": state.max_in_flight, "requests": [asdict(r) for r in state.requests]}
        )

    async def health(request: Request) -> Any:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/_log", request_log, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


class ScriptedLLMServer:
    """Runs the scripted server on a free loopback port in a background thread."""

    def __init__(self, latency_s: float = 0.0, retry_after_s: float = 1.0, hang_s: float = 30.0):
        self.state = ScriptState(latency_s=latency_s, retry_after_s=retry_after_s, hang_s=hang_s)
        self.port: int | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[LoggedRequest]:
        return self.state.requests

    @property
    def completed(self) -> list[LoggedRequest]:
        """Requests answered with 200."""
        return [r for r in self.state.requests if r.status == 200]

    def start(self) -> ScriptedLLMServer:
        import uvicorn

        from rolemill.tasks.llm.local_server import free_loopback_port

        self.port = self.port or free_loopback_port()
        config = uvicorn.Config(
            build_app(self.state),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("scripted server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._server = None

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the scripted OpenAI-compatible server.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(
        build_app(ScriptState(latency_s=args.latency)),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        lifespan="off",
        backlog=4096,
        timeout_keep_alive=60,
    )


if __name__ == "__main__":
    main()
