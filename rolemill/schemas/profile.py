"""A character profile, RoleLLM-style, its published row, and the segments Context-Instruct reads.

`SourceProfile` is what the model writes from a source text; `CharacterProfile` (what
generators read) adds the abilities persona profiles carry. Strings and lists are bounded
so that even a model that writes every field to its limit (small models do) fits in about
700 tokens, and a grammar-constrained server cannot run away; `ProfileSegment` is one passage of it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rolemill.schemas.recipe import SegmentKind
from rolemill.schemas.sample import PROVENANCE_TYPE, Provenance
from rolemill.schemas.seeds import CharacterSeed

Line = Annotated[str, StringConstraints(min_length=1, max_length=100)]


# No docstring: it would enter the JSON schema, hence every cached request's key.
class SourceProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=300, description="who the character is")
    personality: str = Field(min_length=1, max_length=200)
    background: str = Field(min_length=1, max_length=300, description="history, era, places")
    speaking_style: str = Field(min_length=1, max_length=200)
    catchphrases: list[Line] = Field(min_length=1, max_length=3)
    knows: list[Line] = Field(min_length=1, max_length=3, description="what they know well")
    does_not_know: list[Line] = Field(
        min_length=1, max_length=3, description="what lies outside their knowledge or era"
    )
    example_lines: list[Line] = Field(
        min_length=1, max_length=3, description="lines of dialogue in their voice"
    )


class CharacterProfile(SourceProfile):
    """The profile every generator reads: `SourceProfile` (what the model writes from a
    source text) plus `abilities`, which persona profiles fill (RoleMRC's ability section)."""

    abilities: list[Line] = Field(
        default_factory=list, max_length=3, description="what they can do"
    )


class ProfileSegment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SegmentKind
    text: str


def profile_segments(
    profile: CharacterProfile, scene: str, kinds: list[SegmentKind]
) -> list[ProfileSegment]:
    """The profile cut into the passages Context-Instruct asks questions about."""

    def bullets(items: list[str]) -> str:
        return "\n".join(f"- {item}" for item in items)

    texts: dict[SegmentKind, str] = {
        "description": f"{profile.description}\n\n{profile.background}",
        "personality": (
            f"{profile.personality}\n\nSpeaking style: {profile.speaking_style}\n"
            f"Catchphrases:\n{bullets(profile.catchphrases)}"
        ),
        "knowledge": (
            f"Knows about:\n{bullets(profile.knows)}\n\n"
            f"Does not know about:\n{bullets(profile.does_not_know)}"
        ),
        "scene": scene.strip(),
    }
    return [ProfileSegment(kind=kind, text=texts[kind]) for kind in kinds]


LINES = pa.list_(pa.string())
PROFILE_COLUMNS: list[pa.Field] = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("role_id", pa.string(), nullable=False),
    pa.field("role_name", pa.string(), nullable=False),
    pa.field("language", pa.string(), nullable=False),
    pa.field("work", pa.string()),
    pa.field("description", pa.string()),
    pa.field("personality", pa.string()),
    pa.field("background", pa.string()),
    pa.field("speaking_style", pa.string()),
    pa.field("catchphrases", LINES),
    pa.field("knows", LINES),
    pa.field("does_not_know", LINES),
    pa.field("example_lines", LINES),
    pa.field("abilities", LINES),
    pa.field("source_description", pa.string()),
    pa.field("source_scene", pa.string()),
    pa.field("provenance", PROVENANCE_TYPE),
]


def profile_arrow_schema() -> pa.Schema:
    """The `profiles` config: one row per character (plain string/list types)."""
    return pa.schema(PROFILE_COLUMNS)


def profile_row(
    character: CharacterSeed, profile: CharacterProfile, provenance: Provenance
) -> dict[str, Any]:
    content = {
        "role_id": character.id,
        "role_name": character.name,
        "language": character.language,
        "work": character.work,
        **profile.model_dump(exclude={"abilities"} if not profile.abilities else None),
        "source_description": character.source.description,
        "source_scene": character.source.scene,
    }
    digest = hashlib.sha256(
        json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()[:32]
    row = {"id": digest, **content, "provenance": provenance.model_dump()}
    return row | {"abilities": profile.abilities}  # empty ones stay out of the id


def profile_from_row(row: dict[str, Any]) -> CharacterProfile:
    values = {k: row[k] for k in SourceProfile.model_fields}
    return CharacterProfile.model_validate(values | {"abilities": row.get("abilities") or []})
