"""Synthetic roles (the persona pool): the attribute file they are drawn from, one role's
draw, the RoleMRC-style profile the model writes for it, and the published `personas` row.

A persona's profile has RoleMRC's seven sections (identity, personality, background,
speaking style, abilities, knowledge boundaries, example lines) plus catchphrases and a
short scene, so it maps onto `CharacterProfile` and the persona flows through every
generator like a seeded character.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from rolemill.schemas.profile import CharacterProfile, Line, SourceProfile
from rolemill.schemas.seeds import CharacterSeed, Language, SourceText

BIG_FIVE = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
PERSONA_ID_PREFIX = "persona-"
Value = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


def persona_id(index: int) -> str:
    return f"{PERSONA_ID_PREFIX}{index:06d}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _distinct(values: list[str]) -> list[str]:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"each value at most once; repeated: {repeated[:5]}")
    return values


class NameParts(_Model):
    """One language's names: persona i gets a unique (given, family) pair."""

    given: list[Value] = Field(min_length=1)
    family: list[Value] = Field(min_length=1)
    family_first: bool = False
    separator: str = " "

    _unique = field_validator("given", "family")(_distinct)

    @property
    def size(self) -> int:
        return len(self.given) * len(self.family)

    def name(self, k: int) -> str:
        """The k-th pair of the grid (0 <= k < size)."""
        given, family = self.given[k // len(self.family)], self.family[k % len(self.family)]
        parts = (family, given) if self.family_first else (given, family)
        return self.separator.join(parts)


class PersonaAttributes(_Model):
    """The attribute file (default `data/seeds/personas/attributes.yaml`)."""

    careers: list[Value] = Field(min_length=1)
    aspirations: list[Value] = Field(min_length=1)
    traits: list[Value] = Field(min_length=1)
    skills: list[Value] = Field(min_length=1)
    mbti: list[Value] = Field(min_length=1)
    big_five_levels: list[Value] = Field(min_length=1)
    names: dict[Language, NameParts] = Field(min_length=1)

    _unique = field_validator(
        "careers", "aspirations", "traits", "skills", "mbti", "big_five_levels"
    )(_distinct)


class PersonaLine(_Model):
    """A short persona seed (one JSONL line): who someone is, in a sentence."""

    id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=10, max_length=400)


class PersonaDraw(_Model):
    """What synthetic role `index` is made from; a pure function of the recipe and `index`."""

    index: int
    role_id: str
    name: str
    language: Language
    source: Literal["grid", "line"]
    career: str = ""
    aspiration: str = ""
    traits: list[str] = Field(default_factory=list)
    skill: str = ""
    line_id: str = ""
    line: str = ""
    mbti: str
    big_five: dict[str, str]

    def describe(self) -> str:
        """The attributes as text: the prompt's material and the row's source description."""
        head = [f"Persona: {self.line}"] if self.source == "line" else [
            f"Career: {self.career}",
            f"Aspiration: {self.aspiration}",
            f"Traits: {', '.join(self.traits)}",
            f"Skill: {self.skill}",
        ]  # fmt: skip
        levels = ", ".join(f"{dim} {self.big_five[dim]}" for dim in BIG_FIVE)
        return "\n".join([*head, f"MBTI type: {self.mbti}", f"Big Five: {levels}"])

    def character(self, scene: str) -> CharacterSeed:
        """The role as a seed, once its profile (and so its scene) is written."""
        return CharacterSeed(
            id=self.role_id,
            name=self.name,
            language=self.language,
            source=SourceText(description=self.describe(), scene=scene),
        )


# No docstring: it would enter the JSON schema sent with every request.
class PersonaProfileReply(_Model):
    description: str = Field(min_length=1, max_length=300, description="who they are")
    personality: str = Field(min_length=1, max_length=200, description="incl. MBTI, Big Five")
    background: str = Field(min_length=1, max_length=300, description="history and places")
    speaking_style: str = Field(min_length=1, max_length=200)
    abilities: list[Line] = Field(min_length=1, max_length=3, description="what they can do")
    knows: list[Line] = Field(min_length=1, max_length=3, description="what they know well")
    does_not_know: list[Line] = Field(
        min_length=1, max_length=3, description="what lies outside their knowledge"
    )
    example_lines: list[Line] = Field(min_length=1, max_length=3)
    catchphrases: list[Line] = Field(min_length=1, max_length=3)
    scene: str = Field(min_length=20, max_length=600, description="a short scene in their voice")

    def profile(self) -> CharacterProfile:
        values = self.model_dump(include=set(SourceProfile.model_fields))
        return CharacterProfile(**values, abilities=self.abilities)


PERSONA_COLUMNS: list[pa.Field] = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("role_id", pa.string(), nullable=False),
    pa.field("role_name", pa.string(), nullable=False),
    pa.field("language", pa.string(), nullable=False),
    pa.field("index", pa.int64(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("career", pa.string()),
    pa.field("aspiration", pa.string()),
    pa.field("traits", pa.list_(pa.string())),
    pa.field("skill", pa.string()),
    pa.field("line_id", pa.string()),
    pa.field("line", pa.string()),
    pa.field("mbti", pa.string()),
    pa.field("big_five", pa.struct([pa.field(dim, pa.string()) for dim in BIG_FIVE])),
]


def persona_arrow_schema() -> pa.Schema:
    """The `personas` config: what each synthetic role was drawn from, one row per role."""
    return pa.schema(PERSONA_COLUMNS)


def persona_row(draw: PersonaDraw) -> dict[str, Any]:
    content = draw.model_dump()
    content = {"role_id": content.pop("role_id"), "role_name": content.pop("name"), **content}
    digest = hashlib.sha256(
        json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()[:32]
    return {"id": digest, **content}
