"""Context-Instruct, RoleLLM-style: per profile segment, questions with a confidence and
in-character answers; those rated below the recipe's threshold are dropped."""

from __future__ import annotations

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from rolemill.schemas.profile import ProfileSegment, profile_segments
from rolemill.schemas.recipe import ALL_SEGMENTS, ContextInstructConfig
from rolemill.schemas.sample import Message
from rolemill.tasks.generators.base import JobOutcome, Role, SampleGenerator
from rolemill.tasks.generators.prompt_template import PromptTemplate, stable_seed
from rolemill.tasks.generators.role_system import role_system_prompt

CONFIG = "context_instruct"


class ContextQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=3, max_length=160)
    confidence: int = Field(ge=0, le=10)
    answer: str = Field(min_length=1, max_length=400)


class ContextInstructReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ContextQuestion] = Field(min_length=1, max_length=10)


class ContextInstructGenerator(SampleGenerator):
    config = CONFIG
    fields_type = pa.struct([pa.field("segment", pa.string()), pa.field("confidence", pa.int64())])
    tasks = tuple(f"{CONFIG}/{kind}" for kind in ALL_SEGMENTS)
    prompt = PromptTemplate.beside(__file__)
    settings: ContextInstructConfig

    def jobs(self, role: Role) -> list[tuple[ProfileSegment, int]]:
        segments = profile_segments(
            role.profile, role.character.source.scene, self.settings.segments
        )
        return [(segment, r) for segment in segments for r in range(self.settings.rounds)]

    async def run(self, role: Role, job: tuple[ProfileSegment, int]) -> JobOutcome:
        segment, round_index = job
        character, count = role.character, self.settings.questions_per_segment
        messages = self.prompt.messages(
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
            params=self.gateway.config.params.model_copy(
                update={"max_tokens": self.settings.max_tokens}
            ),
        )
        if result.value is None:
            where = f"{character.id}/{segment.kind}/{round_index}"
            return JobOutcome([], result.usage, errors=[f"{where}: {result.error}"])
        items = result.value.items[:count]
        kept = [item for item in items if item.confidence >= self.settings.min_confidence]
        system = role_system_prompt(role)
        provenance = self.provenance(result.model, result.usage, len(items))
        samples = [
            self.sample(
                role,
                f"{CONFIG}/{segment.kind}",
                [
                    Message(role="system", content=system),
                    Message(role="user", content=item.question.strip()),
                    Message(role="assistant", content=item.answer.strip()),
                ],
                {"segment": segment.kind, "confidence": item.confidence},
                provenance,
            )
            for item in kept
        ]
        return JobOutcome(samples, result.usage, filtered=len(items) - len(kept))
