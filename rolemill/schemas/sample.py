"""The canonical sample row: one schema for every generator.

A sample is one chat (`messages`, the {role, content} convention TRL and the hub use)
plus labels, generator-specific `fields` in a typed struct, and provenance. Its `id`
hashes its content (not its provenance), so the same sample made twice has one id.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

ChatRole = Literal["system", "user", "assistant"]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: ChatRole
    content: str


class Provenance(BaseModel):
    """Where a sample came from. Never holds secrets."""

    model_config = ConfigDict(extra="forbid")

    model: str
    provider: str
    prompt_hash: str = Field(description="content hash of the prompt template")
    recipe_hash: str = ""
    run_id: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    config: str = Field(description="the generator / dataset config, e.g. `context_instruct`")
    task: str = Field(description="fine label, e.g. `mrc/refusal`")
    role_id: str
    role_name: str
    language: Literal["en", "zh"]
    messages: list[Message] = Field(min_length=1)
    fields: dict[str, Any] = Field(default_factory=dict, description="generator-specific")
    provenance: Provenance

    @staticmethod
    def content_id(
        config: str,
        task: str,
        role_id: str,
        language: str,
        messages: list[Message],
        fields: dict[str, Any],
    ) -> str:
        """Stable id: sha256 over the canonical JSON of the sample's content."""
        payload = {
            "config": config,
            "task": task,
            "role_id": role_id,
            "language": language,
            "messages": [m.model_dump() for m in messages],
            "fields": fields,
        }
        canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    @classmethod
    def build(cls, **data: Any) -> Sample:
        """Make a sample, computing its content id."""
        messages = [m if isinstance(m, Message) else Message(**m) for m in data["messages"]]
        data["messages"] = messages
        data["id"] = cls.content_id(
            data["config"],
            data["task"],
            data["role_id"],
            data["language"],
            messages,
            data.get("fields", {}),
        )
        return cls(**data)


MESSAGE_TYPE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])
PROVENANCE_TYPE = pa.struct(
    [
        pa.field("model", pa.string()),
        pa.field("provider", pa.string()),
        pa.field("prompt_hash", pa.string()),
        pa.field("recipe_hash", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("prompt_tokens", pa.int64()),
        pa.field("completion_tokens", pa.int64()),
    ]
)


def sample_arrow_schema(fields_type: pa.StructType | None = None) -> pa.Schema:
    """The Arrow schema of a config's samples; `fields_type` is the generator's own struct.

    Plain `string` and `list` (not the large_ variants polars writes), so `datasets`
    reads `messages` as `List({'role': Value('string'), 'content': Value('string')})`.
    """
    columns = [
        pa.field("id", pa.string(), nullable=False),
        pa.field("config", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("role_id", pa.string(), nullable=False),
        pa.field("role_name", pa.string(), nullable=False),
        pa.field("language", pa.string(), nullable=False),
        pa.field("messages", pa.list_(MESSAGE_TYPE), nullable=False),
    ]
    if fields_type is not None and fields_type.num_fields:
        columns.append(pa.field("fields", fields_type))
    columns.append(pa.field("provenance", PROVENANCE_TYPE))
    return pa.schema(columns)
