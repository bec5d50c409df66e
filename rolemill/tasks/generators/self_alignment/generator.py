"""Self-alignment, Ditto-style: the model plays the user and then the role.

Per dialogue turn, one structured request writes the user's question (about the role's
own world, a general one, or one outside the role's knowledge or era), then one chat
request answers it in character with the profile as reading material; questions outside
the role's knowledge are to be refused in character. Each turn carries its kind and a
rejection label and its evidence. Kinds are dealt from per-role quotas, so the recipe's shares hold
exactly over a role's turns.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from rolemill.schemas.llm import GenerationParams
from rolemill.schemas.recipe import SelfAlignmentConfig
from rolemill.schemas.sample import Message
from rolemill.tasks.generators.base import JobOutcome, Role, SampleGenerator
from rolemill.tasks.generators.prompt_template import PromptTemplate, stable_seed
from rolemill.tasks.generators.quotas import deal
from rolemill.tasks.generators.role_system import role_system_prompt
from rolemill.tasks.llm import Usage
from rolemill.tasks.quality_filters import names_role

CONFIG = "self_alignment"
QUESTION_ATTEMPTS = 3
QueryKind = Literal["own_world", "general", "out_of_knowledge"]
KIND_INSTRUCTIONS: dict[str, str] = {
    "own_world": "about {name}'s own life, world, people or experiences",
    "general": "a general question or request anyone might ask (advice, an opinion, an "
    "explanation), not about {name}",
    "out_of_knowledge": "about something {name} cannot know, such as an invention or an "
    "event after {name}'s era (for example: {example})",
}


class UserQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=3, max_length=200)


def dealt_kinds(role_id: str, settings: SelfAlignmentConfig) -> list[QueryKind]:
    """The kind of every turn of a role's dialogues, in order: per-role quotas by share
    (see `quotas.deal`), spread over the turns by a stable per-role ranking."""
    total = settings.dialogues_per_role * settings.turns
    shares = {
        "out_of_knowledge": settings.out_of_knowledge_share,
        "general": settings.general_share,
        "own_world": max(0.0, 1 - settings.out_of_knowledge_share - settings.general_share),
    }
    kinds = deal(range(total), shares, CONFIG, role_id)
    return [kinds[turn] for turn in range(total)]  # type: ignore[misc]


def evidence(role: Role, kind: QueryKind) -> str:
    """The profile material a turn's answer rests on (what a judge checks it against)."""
    profile = role.profile
    if kind == "own_world":
        return f"{profile.background} Knows: {'; '.join(profile.knows)}"
    if kind == "out_of_knowledge":
        return f"Cannot know: {'; '.join(profile.does_not_know)}"
    return ""


class SelfAlignmentGenerator(SampleGenerator):
    config = CONFIG
    fields_type = pa.struct(
        [
            pa.field("kinds", pa.list_(pa.string())),
            pa.field("rejections", pa.list_(pa.bool_())),
            pa.field("evidence", pa.list_(pa.string())),
        ]
    )
    tasks = (f"{CONFIG}/single_turn", f"{CONFIG}/multi_turn")
    prompt = PromptTemplate.beside(__file__)
    settings: SelfAlignmentConfig

    def jobs(self, role: Role) -> list[tuple[int, tuple[QueryKind, ...]]]:
        kinds = dealt_kinds(role.character.id, self.settings)
        turns = self.settings.turns
        return [
            (dialogue, tuple(kinds[dialogue * turns : (dialogue + 1) * turns]))
            for dialogue in range(self.settings.dialogues_per_role)
        ]

    def _query_messages(
        self, role: Role, kind: QueryKind, history: list[Message]
    ) -> list[dict[str, str]]:
        character, profile = role.character, role.profile
        instruction = KIND_INSTRUCTIONS[kind].format(
            name=character.name, example=profile.does_not_know[0]
        )
        values = dict(
            name=character.name,
            work=character.work,
            language=character.language,
            description=profile.description,
            knows=profile.knows,
            does_not_know=profile.does_not_know,
            history=[m.model_dump() for m in history],
            kind_instruction=instruction,
        )
        return [
            {"role": "system", "content": self.prompt.render("query_system.j2", **values)},
            {"role": "user", "content": self.prompt.render("query_user.j2", **values)},
        ]

    def _answer_system(self, role: Role) -> str:
        rules = self.prompt.render(
            "answer_rules.j2",
            background=role.profile.background,
            knows=role.profile.knows,
            does_not_know=role.profile.does_not_know,
        )
        return role_system_prompt(role, few_shot=True) + "\n\n" + rules

    async def _question(
        self,
        role: Role,
        kind: QueryKind,
        history: list[Message],
        seed: int,
        params: GenerationParams,
        usage: Usage,
    ) -> tuple[str, str]:
        """(the user's next question, "") or ("", the error). A question that talks about the
        role by name instead of to it (the `role_name_asked_back` filter would drop it) is
        asked again with the next seed; after the last attempt the filters decide."""
        messages = self._query_messages(role, kind, history)
        question = ""
        for attempt in range(QUESTION_ATTEMPTS):
            query = await self.gateway.structured(
                messages, UserQuery, seed=(seed + attempt) & 0x7FFFFFFF, params=params
            )
            usage.add(query.usage)
            if query.value is None:
                return "", str(query.error)
            question = query.value.question.strip()
            if not names_role(question, role.character.name):
                break
        return question, ""

    async def run(self, role: Role, job: tuple[int, tuple[QueryKind, ...]]) -> JobOutcome:
        dialogue, kinds = job
        params = self.gateway.config.params.model_copy(
            update={"max_tokens": self.settings.max_tokens}
        )
        usage, model, history = Usage(), self.gateway.model, []
        answer_system = {"role": "system", "content": self._answer_system(role)}
        for turn, kind in enumerate(kinds):
            where = f"{role.character.id}/dialogue-{dialogue}/turn-{turn}"
            seed = stable_seed(CONFIG, role.character.id, dialogue, turn)
            question, error = await self._question(role, kind, history, seed, params, usage)
            if error:
                return JobOutcome([], usage, errors=[f"{where} question: {error}"])
            history.append(Message(role="user", content=question))
            reply = await self.gateway.chat(
                [answer_system, *(m.model_dump() for m in history)], seed=seed, params=params
            )
            usage.add(reply.usage)
            answer = (reply.text or "").strip()
            if not reply.ok or not answer:
                return JobOutcome([], usage, errors=[f"{where} answer: {reply.error or 'empty'}"])
            history.append(Message(role="assistant", content=answer))
            model = reply.model
        sample = self.sample(
            role,
            f"{CONFIG}/{'single_turn' if len(kinds) == 1 else 'multi_turn'}",
            [Message(role="system", content=role_system_prompt(role)), *history],
            {
                "kinds": list(kinds),
                "rejections": [k == "out_of_knowledge" for k in kinds],
                "evidence": [evidence(role, kind) for kind in kinds],
            },
            self.provenance(model, usage, 1),
        )
        return JobOutcome([sample], usage)
