"""Style imitation, RoleGPT-style: general instructions answered in character.

The model is prompted with the role's description, speaking style, catchphrases and
example lines (few-shot), then given a general instruction; its reply becomes a sample
whose system message is the plain role prompt. This is RoleBench's `general` part.
"""

from __future__ import annotations

import pyarrow as pa

from rolemill.schemas.recipe import StyleTransferConfig
from rolemill.schemas.sample import Message
from rolemill.schemas.seeds import Instruction
from rolemill.tasks.generators.base import JobOutcome, Role, SampleGenerator
from rolemill.tasks.generators.prompt_template import PromptTemplate, stable_seed
from rolemill.tasks.generators.role_system import role_system_prompt

CONFIG = "style_transfer"


class StyleTransferGenerator(SampleGenerator):
    config = CONFIG
    fields_type = pa.struct([pa.field("instruction_id", pa.string())])
    tasks = (f"{CONFIG}/general",)
    prompt = PromptTemplate.beside(__file__)
    settings: StyleTransferConfig

    def instructions_for(self, role: Role) -> list[Instruction]:
        """A stable per-role draw from the instructions in the role's language: each
        instruction's rank depends only on the role and its own id, so adding
        instructions to the seeds keeps most of every role's earlier draw."""
        pool = [i for i in self.seeds.instructions if i.language == role.character.language]
        pool = pool or list(self.seeds.instructions)
        ranked = sorted(pool, key=lambda i: (stable_seed(CONFIG, role.character.id, i.id), i.id))
        return ranked[: self.settings.instructions_per_role]

    def jobs(self, role: Role) -> list[Instruction]:
        return self.instructions_for(role)

    async def run(self, role: Role, job: Instruction) -> JobOutcome:
        instruction = job
        messages = [
            {"role": "system", "content": role_system_prompt(role, few_shot=True)},
            {"role": "user", "content": self.prompt.render("user.j2", instruction=job.instruction)},
        ]
        params = self.gateway.config.params.model_copy(
            update={"max_tokens": self.settings.max_tokens}
        )
        result = await self.gateway.chat(
            messages, seed=stable_seed(CONFIG, role.character.id, job.id), params=params
        )
        answer = (result.text or "").strip()
        if not result.ok or not answer:
            reason = result.error or "empty reply"
            where = f"{role.character.id}/{job.id}"
            return JobOutcome([], result.usage, errors=[f"{where}: {reason}"])
        sample = self.sample(
            role,
            f"{CONFIG}/general",
            [
                Message(role="system", content=role_system_prompt(role)),
                Message(role="user", content=instruction.instruction),
                Message(role="assistant", content=answer),
            ],
            {"instruction_id": instruction.id},
            self.provenance(result.model, result.usage, 1),
        )
        return JobOutcome([sample], result.usage)
