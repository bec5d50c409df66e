"""Seeds: the small hand-written inputs a build starts from.

Characters (our YAML, or Character Card V2 JSON converted to the same model),
general instructions and reading-comprehension passages (JSONL).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Language = Literal["en", "zh"]
ROLE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"


class SourceText(BaseModel):
    """What a profile is built from: a description and a short scene in the character's voice."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=20)
    scene: str = Field(min_length=20)


class CharacterSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ROLE_ID_PATTERN, description="lowercase letters, digits and '-'")
    name: str = Field(min_length=1, max_length=100)
    language: Language = "en"
    work: str = Field(default="", description="the work the character comes from")
    source: SourceText

    @field_validator("name", "work")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class Instruction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    language: Language = "en"
    instruction: str = Field(min_length=3)


class PassageQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=3)
    answer: str | None = Field(description="a span of the passage, or null when unanswerable")


class Passage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    language: Language = "en"
    title: str = ""
    text: str = Field(min_length=20)
    questions: list[PassageQuestion] = Field(min_length=1)

    @model_validator(mode="after")
    def _answers_are_spans(self) -> Passage:
        for number, item in enumerate(self.questions):
            if item.answer is not None and item.answer not in self.text:
                raise ValueError(
                    f"questions[{number}].answer {item.answer!r} is not a span of text: copy "
                    "the words exactly from the passage, or use null when it has no answer"
                )
        return self


class CharacterCardData(BaseModel):
    """The `data` of a Character Card V2 (SillyTavern's `chara_card_v2`); fields we read."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    extensions: dict[str, Any] = Field(default_factory=dict)


class CharacterCardV2(BaseModel):
    model_config = ConfigDict(extra="allow")

    spec: Literal["chara_card_v2"]
    spec_version: str = "2.0"
    data: CharacterCardData


class SeedSet(BaseModel):
    """Everything a build reads from its seeds."""

    characters: list[CharacterSeed]
    instructions: list[Instruction] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
