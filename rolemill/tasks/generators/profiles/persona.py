"""Persona profiles (RoleMRC's profile meta-pool): one structured request per synthetic
role, from its drawn attributes instead of a source text."""

from __future__ import annotations

from dataclasses import dataclass

from rolemill.schemas.persona import PersonaDraw, PersonaProfileReply
from rolemill.schemas.profile import CharacterProfile
from rolemill.schemas.seeds import CharacterSeed
from rolemill.tasks.generators.prompt_template import PromptTemplate, stable_seed
from rolemill.tasks.llm import LLMGateway, Usage

PERSONA_PROMPT = PromptTemplate.beside(__file__, "persona")


@dataclass
class PersonaOutcome:
    draw: PersonaDraw
    character: CharacterSeed | None
    profile: CharacterProfile | None
    usage: Usage
    error: str | None = None


class PersonaProfileGenerator:
    def __init__(self, gateway: LLMGateway, max_tokens: int):
        self.gateway = gateway
        self.params = gateway.config.params.model_copy(update={"max_tokens": max_tokens})

    async def generate(self, draw: PersonaDraw) -> PersonaOutcome:
        messages = PERSONA_PROMPT.messages(
            name=draw.name, language=draw.language, attributes=draw.describe()
        )
        result = await self.gateway.structured(
            messages,
            PersonaProfileReply,
            seed=stable_seed("persona-profile", draw.role_id),
            params=self.params,
        )
        if result.value is None:
            return PersonaOutcome(draw, None, None, result.usage, result.error)
        reply = result.value
        return PersonaOutcome(draw, draw.character(reply.scene), reply.profile(), result.usage)
