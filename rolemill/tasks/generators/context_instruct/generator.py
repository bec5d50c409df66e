"""Context-Instruct, RoleLLM-style: per profile segment, questions with a confidence and
in-character answers; those rated below the recipe's threshold are dropped."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from rolemill.schemas.profile import CharacterProfile, ProfileSegment
from rolemill.schemas.recipe import ContextInstructConfig
from rolemill.schemas.sample import Message, Provenance, Sample
from rolemill.schemas.seeds import CharacterSeed
from rolemill.tasks.generators.prompt_template import PromptTemplate, stable_seed
from rolemill.tasks.llm import LLMGateway, Usage

PROMPT = PromptTemplate.beside(__file__)
CONFIG = "context_instruct"


class ContextQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=3, max_length=160)
    confidence: int = Field(ge=0, le=10)
    answer: str = Field(min_length=1, max_length=400)


class ContextInstructReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ContextQuestion] = Field(min_length=1, max_length=10)


@dataclass
class SegmentOutcome:
    samples: list[Sample]
    usage: Usage
    below_threshold: int = 0
    errors: list[str] = field(default_factory=list)


def role_system_prompt(character: CharacterSeed, profile: CharacterProfile) -> str:
    return PROMPT.render(
        "role_system.j2",
        name=character.name,
        work=character.work,
        language=character.language,
        description=profile.description,
    )


class ContextInstructGenerator:
    def __init__(
        self,
        gateway: LLMGateway,
        config: ContextInstructConfig,
        recipe_hash: str = "",
        run_id: str = "",
    ):
        self.gateway = gateway
        self.config = config
        self.params = gateway.config.params.model_copy(update={"max_tokens": config.max_tokens})
        self.recipe_hash = recipe_hash
        self.run_id = run_id

    async def generate(
        self,
        character: CharacterSeed,
        profile: CharacterProfile,
        segment: ProfileSegment,
        round_index: int = 0,
    ) -> SegmentOutcome:
        count = self.config.questions_per_segment
        messages = PROMPT.messages(
            name=character.name,
            work=character.work,
            language=character.language,
            kind=segment.kind,
            passage=segment.text,
            count=count,
        )
        result = await self.gateway.structured(
            messages,
            ContextInstructReply,
            seed=stable_seed(CONFIG, character.id, segment.kind, count, round_index),
            params=self.params,
        )
        if result.value is None:
            where = f"{character.id}/{segment.kind}/{round_index}"
            return SegmentOutcome([], result.usage, errors=[f"{where}: {result.error}"])
        items = result.value.items[:count]
        kept = [item for item in items if item.confidence >= self.config.min_confidence]
        system = role_system_prompt(character, profile)
        provenance = Provenance(
            model=result.model,
            provider=self.gateway.config.provider,
            prompt_hash=PROMPT.hash,
            recipe_hash=self.recipe_hash,
            run_id=self.run_id,
            prompt_tokens=result.usage.prompt_tokens // max(len(items), 1),
            completion_tokens=result.usage.completion_tokens // max(len(items), 1),
        )
        samples = [
            Sample.build(
                config=CONFIG,
                task=f"{CONFIG}/{segment.kind}",
                role_id=character.id,
                role_name=character.name,
                language=character.language,
                messages=[
                    Message(role="system", content=system),
                    Message(role="user", content=item.question.strip()),
                    Message(role="assistant", content=item.answer.strip()),
                ],
                fields={"segment": segment.kind, "confidence": item.confidence},
                provenance=provenance,
            )
            for item in kept
        ]
        return SegmentOutcome(samples, result.usage, below_threshold=len(items) - len(kept))
