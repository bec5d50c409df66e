"""The build flow's typed parameters: what the Prefect dashboard renders as a form.

Each field left empty keeps the recipe's value; a set field becomes a recipe override
(`key=value`, the same as `rolemill build --set key=value`), applied before the free
`overrides`, so those still win.
"""

from __future__ import annotations

import json
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    recipe_keys: ClassVar[dict[str, str]]  # field -> the recipe key it overrides

    def recipe_overrides(self) -> list[str]:
        """`key=value` overrides for the fields that are set, in field order. Strings are
        JSON-quoted so a value like `1.5` or `yes` stays a string when read as YAML."""
        return [
            f"{self.recipe_keys[name]}={json.dumps(value) if isinstance(value, str) else value}"
            for name, value in self.model_dump(exclude_none=True).items()
        ]


class LLMChoice(_Form):
    """Which model writes the data; empty fields keep the recipe's choice."""

    model_config = ConfigDict(title="LLM")
    recipe_keys: ClassVar[dict[str, str]] = {
        "provider": "llm.provider",
        "model": "llm.model",
        "base_url": "llm.base_url",
        "api_key_block": "llm.api_key_block",
    }

    provider: Literal["local", "openai", "anthropic"] | None = Field(
        default=None, description="local (embedded model), openai (and compatible), anthropic"
    )
    model: str | None = Field(default=None, description="e.g. gpt-4o-mini")
    base_url: str | None = Field(
        default=None, description="an OpenAI- or Anthropic-compatible endpoint (vLLM, Ollama...)"
    )
    api_key_block: str | None = Field(
        default=None, description="name of a Prefect Secret block holding the API key"
    )


class Counts(_Form):
    """How much to make; empty fields keep the recipe's counts."""

    model_config = ConfigDict(title="Counts")
    recipe_keys: ClassVar[dict[str, str]] = {
        "personas": "seeds.personas.count",
        "questions_per_segment": "generators.context_instruct.questions_per_segment",
        "instructions_per_role": "generators.style_transfer.instructions_per_role",
        "dialogues_per_role": "generators.self_alignment.dialogues_per_role",
        "mrc_samples_per_role": "generators.mrc.samples_per_role",
    }

    personas: int | None = Field(default=None, ge=0, description="synthetic roles to make")
    questions_per_segment: int | None = Field(
        default=None, ge=1, le=10, description="Context-Instruct questions per request"
    )
    instructions_per_role: int | None = Field(
        default=None, ge=1, description="general instructions answered by each role"
    )
    dialogues_per_role: int | None = Field(
        default=None, ge=1, description="self-alignment dialogues per role"
    )
    mrc_samples_per_role: int | None = Field(
        default=None, ge=1, description="reading-comprehension samples per role"
    )


RECIPE_LLM = LLMChoice()  # the flow's defaults: every field empty, the recipe decides
RECIPE_COUNTS = Counts()


def build_overrides(
    llm: LLMChoice | None,
    counts: Counts | None,
    overrides: list[str] | None,
    version: str = "",
) -> list[str]:
    """The recipe overrides a set of flow parameters stands for (free overrides last)."""
    return [
        *(llm.recipe_overrides() if llm else []),
        *(counts.recipe_overrides() if counts else []),
        *([f"publish.version={version.strip()}"] if version.strip() else []),
        *(overrides or []),
    ]
