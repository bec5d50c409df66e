"""Profiles, RoleLLM-style: one structured request per character, from its source text."""

from __future__ import annotations

from dataclasses import dataclass

from rolemill.schemas.profile import CharacterProfile, SourceProfile
from rolemill.schemas.seeds import CharacterSeed
from rolemill.tasks.generators.prompt_template import PromptTemplate, stable_seed
from rolemill.tasks.llm import LLMGateway, Usage

PROMPT = PromptTemplate.beside(__file__)


@dataclass
class ProfileOutcome:
    character: CharacterSeed
    profile: CharacterProfile | None
    usage: Usage
    error: str | None = None


class ProfileGenerator:
    def __init__(self, gateway: LLMGateway, max_tokens: int):
        self.gateway = gateway
        self.params = gateway.config.params.model_copy(update={"max_tokens": max_tokens})

    @property
    def prompt_hash(self) -> str:
        return PROMPT.hash

    async def generate(self, character: CharacterSeed) -> ProfileOutcome:
        messages = PROMPT.messages(
            name=character.name,
            work=character.work,
            language=character.language,
            description=character.source.description.strip(),
            scene=character.source.scene.strip(),
        )
        result = await self.gateway.structured(
            messages,
            SourceProfile,
            seed=stable_seed("profile", character.id),
            params=self.params,
        )
        profile = CharacterProfile(**result.value.model_dump()) if result.value else None
        return ProfileOutcome(character, profile, result.usage, result.error)
