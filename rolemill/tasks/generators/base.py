"""What every sample generator has in common.

A generator turns one role (its seed and its profile) into jobs, and each job into
canonical samples through the LLM gateway. The flow runs generators over shards of
roles; a generator holds no state between roles, so any number of roles streams through.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from rolemill.schemas.profile import CharacterProfile
from rolemill.schemas.sample import Message, Provenance, Sample
from rolemill.schemas.seeds import CharacterSeed, SeedSet
from rolemill.tasks.generators.prompt_template import PromptTemplate
from rolemill.tasks.generators.role_system import ROLE_SYSTEM
from rolemill.tasks.llm import LLMGateway, Usage


@dataclass(frozen=True)
class Role:
    character: CharacterSeed
    profile: CharacterProfile


@dataclass
class JobOutcome:
    samples: list[Sample]
    usage: Usage
    filtered: int = 0  # made but dropped by the generator's own rule (e.g. low confidence)
    errors: list[str] = field(default_factory=list)


class SampleGenerator(ABC):
    """One config of the dataset, made from roles."""

    config: ClassVar[str]
    fields_type: ClassVar[pa.StructType]
    tasks: ClassVar[tuple[str, ...]]
    prompt: ClassVar[PromptTemplate]

    def __init__(
        self,
        gateway: LLMGateway,
        settings: Any,
        seeds: SeedSet,
        recipe_hash: str = "",
        run_id: str = "",
    ):
        self.gateway = gateway
        self.settings = settings
        self.seeds = seeds
        self.recipe_hash = recipe_hash
        self.run_id = run_id

    @abstractmethod
    def jobs(self, role: Role) -> list[Any]:
        """The units of work for one role (each becomes one or a few requests)."""

    @abstractmethod
    async def run(self, role: Role, job: Any) -> JobOutcome:
        """Do one job."""

    @property
    def prompt_hash(self) -> str:
        """The generator's own templates and the shared role-play system prompt."""
        return hashlib.sha256((self.prompt.hash + ROLE_SYSTEM.hash).encode()).hexdigest()[:16]

    def provenance(self, model: str, usage: Usage, rows: int) -> Provenance:
        """Provenance for `rows` samples made by one request (tokens shared among them)."""
        share = max(rows, 1)
        return Provenance(
            model=model,
            provider=self.gateway.config.provider,
            prompt_hash=self.prompt_hash,
            recipe_hash=self.recipe_hash,
            run_id=self.run_id,
            prompt_tokens=usage.prompt_tokens // share,
            completion_tokens=usage.completion_tokens // share,
        )

    def sample(
        self,
        role: Role,
        task: str,
        messages: list[Message],
        fields: dict[str, Any],
        provenance: Provenance,
    ) -> Sample:
        return Sample.build(
            config=self.config,
            task=task,
            role_id=role.character.id,
            role_name=role.character.name,
            language=role.character.language,
            messages=messages,
            fields=fields,
            provenance=provenance,
        )
