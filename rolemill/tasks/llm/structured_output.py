"""Pydantic model <-> strict JSON schema, and lenient parsing of what a model wrote.

The schema sent to providers bounds every string (`maxLength`) and forbids extra
properties, so grammar-constrained servers cannot run away. Parsing forgives raw
control characters inside strings, code fences and text around the object, then
validates with pydantic; any failure is a `StructuredOutputError` with the reason.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)

DEFAULT_MAX_STRING = 2000


class StructuredOutputError(ValueError):
    """The reply was not a valid instance of the schema; the message says why."""


@functools.lru_cache(maxsize=512)
def strict_json_schema(
    model: type[BaseModel], max_string: int = DEFAULT_MAX_STRING
) -> dict[str, Any]:
    """The model's JSON schema, inlined, with maxLength on strings and no extra properties.

    Cached per model (generating it costs about 0.3 ms): the dict is shared, read-only.
    """
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = defs[node["$ref"].split("/")[-1]]
                return walk(copy.deepcopy(target))
            node = {
                k: ({name: walk(sub) for name, sub in v.items()} if k == "properties" else walk(v))
                for k, v in node.items()
                if k not in ("title", "default")
            }
            if node.get("type") == "string" and "enum" not in node:
                node.setdefault("maxLength", max_string)
            if node.get("type") == "object":
                node["additionalProperties"] = False
                node["required"] = list(node.get("properties", {}))
            return node
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(schema)


def _json_candidates(text: str) -> list[str]:
    stripped = text.strip()
    candidates = [stripped]
    if stripped.startswith("```"):
        body = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        candidates.append(body.rsplit("```", 1)[0])
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        candidates.append(stripped[start : end + 1])
    return candidates


def _first_object(text: str) -> Any:
    """The first complete JSON value from the first `{`, ignoring text after it."""
    start = text.find("{")
    if start < 0:
        raise json.JSONDecodeError("no JSON object", text, 0)
    return json.JSONDecoder(strict=False).raw_decode(text, start)[0]


def parse_structured(text: str, model: type[T]) -> T:
    """Parse `text` into `model`, leniently; raise StructuredOutputError with the reason."""
    if not text or not text.strip():
        raise StructuredOutputError("empty reply")
    if "{" not in text:
        raise StructuredOutputError(f"no JSON object in reply: {text.strip()[:80]!r}")
    decode_error: str | None = None
    for candidate in _json_candidates(text):
        try:
            data = json.loads(candidate, strict=False)  # strict=False: control chars in strings
        except json.JSONDecodeError as exc:
            decode_error = decode_error or f"invalid JSON ({exc.msg} at char {exc.pos})"
            try:
                data = _first_object(candidate)
            except json.JSONDecodeError:
                continue
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "<root>"
            raise StructuredOutputError(
                f"does not match {model.__name__}: {where}: {first['msg']} "
                f"({exc.error_count()} error(s))"
            ) from None
    raise StructuredOutputError(decode_error or "no JSON object in reply")
