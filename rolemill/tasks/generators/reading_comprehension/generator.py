"""Reading comprehension with roles, RoleMRC-style.

A passage sits in the role's system prompt and the user asks a question about it. By the
sample's planned variant (`plan.py`) the role answers (a passage of its world, the answer
in it), refuses (no answer in the passage, a passage outside its world, or a system rule
that forbids it) or attempts (an outside passage, but the user insists); some samples
carry a nested system requirement (format or content), some have two turns where the
user insists after a refusal. The reference answer is the seed's span, never the
model's: every assistant turn is one structured request for the in-character wording,
then checked. An answer that misses the span gets it added by a fixed line (`repaired`);
a refusal that gives the span away (verbatim, by a number, or by most of its words) is
asked for once more, then dropped (`filtered`).
"""

from __future__ import annotations

import re

import pyarrow as pa

from rolemill.schemas.recipe import ReadingComprehensionConfig
from rolemill.schemas.sample import Message
from rolemill.tasks.generators.base import JobOutcome, Role, SampleGenerator
from rolemill.tasks.generators.prompt_template import PromptTemplate, stable_seed
from rolemill.tasks.generators.reading_comprehension.plan import (
    ACT_OUTCOME,
    CONFIG,
    TASKS,
    Act,
    MrcJob,
    plan_jobs,
)
from rolemill.tasks.generators.reading_comprehension.replies import (
    NarratedReply,
    SpokenReply,
    compose,
    contains,
    follow,
    join,
    leaks,
    narration_of,
    requirement_options,
)
from rolemill.tasks.generators.role_system import role_system_prompt
from rolemill.tasks.llm import Usage

ATTEMPTS = 2  # requests per refusal turn before a sample that keeps leaking is dropped
# Chinese marks end a sentence anywhere; . ! ? only before a space or the end (not 3.5)
SENTENCE_END = re.compile(r"[。！？]|[.!?](?!\S)")
GUESS_CHARS = 80  # longest made-up answer taken from a passage's first sentence


def first_sentence(text: str, limit: int = GUESS_CHARS) -> str:
    """The first sentence of `text` (English or Chinese punctuation), at most `limit`
    characters (cut at a space when there is one)."""
    sentence = SENTENCE_END.split(text, maxsplit=1)[0].strip()
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).strip()


def made_up_answer(job: MrcJob) -> str:
    """What a wrong reply to an unanswerable question offers: another question's answer
    span of the same passage, else the passage's first sentence."""
    other = [q.answer for q in job.passage.questions if q.answer]
    return other[0] if other else first_sentence(job.passage.text)


class _Leaked(Exception):
    """Every attempt at a refusal gave the answer span away."""


class ReadingComprehensionGenerator(SampleGenerator):
    config = CONFIG
    fields_type = pa.struct(
        [
            pa.field("passage_id", pa.string()),
            pa.field("question", pa.string()),
            pa.field("relevant", pa.bool_()),
            pa.field("answerable", pa.bool_()),
            pa.field("outcome", pa.string()),
            pa.field("variant", pa.string()),
            pa.field("turn_outcomes", pa.list_(pa.string())),
            pa.field("narration", pa.bool_()),
            pa.field("requirement", pa.string()),
            pa.field("answer_span", pa.string()),
            pa.field("rolemrc_task", pa.string()),
            pa.field("repaired", pa.bool_()),
            pa.field("rejected", pa.string()),
        ]
    )
    tasks = TASKS
    prompt = PromptTemplate.beside(__file__)
    settings: ReadingComprehensionConfig

    def jobs(self, role: Role) -> list[MrcJob | str]:
        return plan_jobs(role, self.settings, self.seeds.passages)

    def _requirement(self, role: Role, job: MrcJob) -> tuple[str, str]:
        """(key, text) of the sample's nested requirement or priority rule, or ('', '')."""
        options = requirement_options(job.variant.name, role.character.language, job.passage.title)
        if not options:
            return "", ""
        key = options[stable_seed(CONFIG, role.character.id, job.index, "rule") % len(options)]
        text = self.prompt.render(
            "requirement.j2",
            key=key,
            name=role.character.name,
            catchphrase=role.profile.catchphrases[0],
            title=job.passage.title,
        )
        return key, text

    def _user_turn(self, role: Role, job: MrcJob, turn: int) -> str:
        question = job.question.question.strip()
        if turn == 0 and job.variant.acts[0] != "attempt":
            return question
        return self.prompt.render(
            "user.j2",
            kind="insist_first" if turn == 0 else "insist_again",
            question=question,
            language=role.character.language,
            pick=stable_seed(CONFIG, role.character.id, job.index, turn, "user"),
        )

    def _line(self, role: Role, kind: str, span: str = "") -> str:
        return self.prompt.render(
            "lines.j2", kind=kind, span=span, language=role.character.language
        )

    async def _reply(
        self,
        role: Role,
        job: MrcJob,
        turn: int,
        act: Act,
        requirement: str,
        history: list[Message],
        usage: Usage,
    ) -> tuple[str, bool, str]:
        """(reply, repaired, model) for one assistant turn; raises _Leaked or RuntimeError."""
        character, span = role.character, job.question.answer or ""
        directive = self.prompt.render(
            "directive.j2",
            act=act,
            name=character.name,
            language=character.language,
            title=job.passage.title,
            passage=job.passage.text,
            requirement=requirement,
            span=span,
            narration=job.narration,
        )
        system = role_system_prompt(role, few_shot=True) + "\n\n" + directive
        messages = [{"role": "system", "content": system}, *(m.model_dump() for m in history)]
        params = self.gateway.config.params.model_copy(
            update={"max_tokens": self.settings.max_tokens}
        )
        schema = NarratedReply if job.narration else SpokenReply
        for attempt in range(ATTEMPTS):
            seed = stable_seed(CONFIG, character.id, job.index, turn, attempt)
            result = await self.gateway.structured(messages, schema, seed=seed, params=params)
            usage.add(result.usage)
            if result.value is None:
                raise RuntimeError(result.error or "no reply")
            text = compose(result.value)
            if not text:
                raise RuntimeError("empty reply")
            if ACT_OUTCOME[act] != "refusal":
                if contains(text, span):
                    return text, False, result.model
                text = join(text, self._line(role, "repair", span), character.language)
                return text, True, result.model
            if span and not leaks(text, span, job.question.question):
                return text, False, result.model
            if not span and not contains(text, made_up_answer(job)):
                # nothing to give away, but the refusal must not offer the made-up answer
                # its preference pair rejects
                return text, False, result.model
        raise _Leaked

    def _rejected(self, role: Role, job: MrcJob, final: str) -> str:
        """A wrong final reply for preference pairs: the other outcome, same narration."""
        span = job.question.answer
        if ACT_OUTCOME[job.variant.acts[-1]] != "refusal":
            line = self._line(role, "refusal")
        elif span:
            line = self._line(role, "leak", span)
        else:
            line = self._line(role, "made_up", made_up_answer(job))
        action = narration_of(final)
        return f"{action} {line}" if action else line

    async def run(self, role: Role, job: MrcJob | str) -> JobOutcome:
        if isinstance(job, str):
            return JobOutcome([], Usage(), errors=[f"{role.character.id}: {job}"])
        character, variant = role.character, job.variant
        key, requirement = self._requirement(role, job)
        history: list[Message] = []
        usage, model, repaired = Usage(), self.gateway.model, False
        for turn, act in enumerate(variant.acts):
            history.append(Message(role="user", content=self._user_turn(role, job, turn)))
            try:
                text, fixed, model = await self._reply(
                    role, job, turn, act, requirement, history, usage
                )
            except _Leaked:
                return JobOutcome([], usage, filtered=1)
            except RuntimeError as exc:
                where = f"{character.id}/mrc-{job.index}/turn-{turn}"
                return JobOutcome([], usage, errors=[f"{where}: {exc}"])
            if key and variant.name != "priority":
                text, followed_late = follow(
                    key,
                    text,
                    span=job.question.answer or "",
                    name=character.name,
                    catchphrase=role.profile.catchphrases[0],
                    title=job.passage.title,
                    language=character.language,
                )
                fixed = fixed or followed_late
            repaired = repaired or fixed
            history.append(Message(role="assistant", content=text))
        system = self.prompt.render(
            "system.j2",
            name=character.name,
            work=character.work,
            language=character.language,
            description=role.profile.description,
            requirement=requirement,
            title=job.passage.title,
            passage=job.passage.text,
        )
        fields = {
            "passage_id": job.passage.id,
            "question": job.question.question,
            "relevant": variant.relevant,
            "answerable": variant.answerable,
            "outcome": variant.outcome,
            "variant": variant.name,
            "turn_outcomes": [ACT_OUTCOME[act] for act in variant.acts],
            "narration": job.narration,
            "requirement": requirement,
            "answer_span": job.question.answer,
            "rolemrc_task": job.rolemrc_task,
            "repaired": repaired,
            "rejected": self._rejected(role, job, history[-1].content),
        }
        sample = self.sample(
            role,
            variant.task,
            [Message(role="system", content=system), *history],
            fields,
            self.provenance(model, usage, 1),
        )
        return JobOutcome([sample], usage)
