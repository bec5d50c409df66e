"""What each RoleMRC sample of a role will be, decided before any request is sent.

Outcomes (answer / refusal / attempt), their variants, narration and the passage and
question of every sample are dealt from per-role quotas with stable rankings: each count
is within one sample of its share of a role's samples (exact where the share is a whole
number of samples), the rounding differs between roles so small per-role counts still
match the shares over the dataset, and a rerun plans the same jobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rolemill.schemas.recipe import ReadingComprehensionConfig
from rolemill.schemas.seeds import Passage, PassageQuestion
from rolemill.tasks.generators.base import Role
from rolemill.tasks.generators.prompt_template import stable_seed
from rolemill.tasks.generators.quotas import deal
from rolemill.tasks.generators.reading_comprehension.relevance import related_passages

CONFIG = "mrc"
Outcome = Literal["answer", "refusal", "attempt"]
# What the role does in one assistant turn; the directive template has one branch per act.
Act = Literal[
    "answer", "attempt", "refuse_unanswerable", "refuse_again", "refuse_unrelated", "refuse_rule"
]
ACT_OUTCOME: dict[str, Outcome] = {
    "answer": "answer",
    "attempt": "attempt",
    "refuse_unanswerable": "refusal",
    "refuse_again": "refusal",
    "refuse_unrelated": "refusal",
    "refuse_rule": "refusal",
}


@dataclass(frozen=True)
class Variant:
    """One kind of sample: its passage kind, its assistant turns and its RoleMRC label."""

    outcome: Outcome
    name: str
    relevant: bool  # the passage fits the role's world (RoleMRC's role_related)
    answerable: bool  # the question's answer is a span of the passage
    acts: tuple[Act, ...]
    rolemrc: str  # RoleMRC task label, `{narration}` filled with with/no

    @property
    def task(self) -> str:
        return f"{CONFIG}/{self.outcome}" + ("" if self.name == "plain" else f"/{self.name}")


VARIANTS: tuple[Variant, ...] = (
    Variant("answer", "plain", True, True, ("answer",), "role_related_mrc_answer_{narration}"),
    Variant(
        "answer",
        "special_content",
        True,
        True,
        ("answer",),
        "role_related_mrc_answer_{narration}-special-content",
    ),
    Variant(
        "answer",
        "special_format",
        True,
        True,
        ("answer",),
        "role_related_mrc_answer_{narration}-special-format",
    ),
    Variant(
        "refusal",
        "plain",
        True,
        False,
        ("refuse_unanswerable",),
        "role_related_mrc_refused_{narration}",
    ),
    Variant(
        "refusal",
        "unrelated",
        False,
        True,
        ("refuse_unrelated",),
        "role_unrelated_mrc_refused_{narration}",
    ),
    Variant(
        "refusal",
        "priority",
        True,
        True,
        ("refuse_rule",),
        "role_related_mrc_answer_{narration}-refused",
    ),
    Variant(
        "refusal",
        "second_refusal",
        True,
        False,
        ("refuse_unanswerable", "refuse_again"),
        "role_related_mrc_refused_{narration}-2ndrefused",
    ),
    Variant("attempt", "plain", False, True, ("attempt",), "role_unrelated_mrc_answer_{narration}"),
    Variant(
        "attempt",
        "second_answer",
        False,
        True,
        ("refuse_unrelated", "attempt"),
        "role_unrelated_mrc_refused_{narration}-2ndanswer",
    ),
)
VARIANT: dict[tuple[str, str], Variant] = {(v.outcome, v.name): v for v in VARIANTS}
TASKS = tuple(dict.fromkeys(v.task for v in VARIANTS))
ROLEMRC_TASKS = tuple(
    v.rolemrc.format(narration=n) for v in VARIANTS for n in ("with_narration", "no_narration")
)


@dataclass(frozen=True)
class MrcJob:
    index: int
    variant: Variant
    narration: bool
    passage: Passage
    question: PassageQuestion

    @property
    def rolemrc_task(self) -> str:
        narration = "with_narration" if self.narration else "no_narration"
        return self.variant.rolemrc.format(narration=narration)


def dealt_variants(role_id: str, settings: ReadingComprehensionConfig) -> list[Variant]:
    """The variant of each of a role's samples, in order."""
    s = settings
    slots = range(s.samples_per_role)
    outcome = deal(
        slots,
        {"answer": s.answer_share, "refusal": s.refusal_share, "attempt": s.attempt_share},
        CONFIG,
        role_id,
        "outcome",
    )
    plain_refusal = max(0.0, 1 - s.priority_share - s.flip_share) / 2
    within: dict[str, dict[str, float]] = {
        "answer": {
            "special_content": s.nested_share / 2,
            "special_format": s.nested_share / 2,
            "plain": 1 - s.nested_share,
        },
        "refusal": {
            "priority": s.priority_share,
            "second_refusal": s.flip_share,
            "plain": plain_refusal,
            "unrelated": plain_refusal,
        },
        "attempt": {"second_answer": s.flip_share, "plain": 1 - s.flip_share},
    }
    name: dict[int, str] = {}
    for kind, shares in within.items():
        name |= deal(
            [i for i in slots if outcome[i] == kind], shares, CONFIG, role_id, "variant", kind
        )
    return [VARIANT[(outcome[i], name[i])] for i in slots]


def dealt_narration(role_id: str, settings: ReadingComprehensionConfig) -> list[bool]:
    share = settings.narration_share
    labels = deal(
        range(settings.samples_per_role),
        {"yes": share, "no": 1 - share},
        CONFIG,
        role_id,
        "narration",
    )
    return [labels[i] == "yes" for i in range(settings.samples_per_role)]


def _first(item: tuple[int, Passage, PassageQuestion]) -> tuple[int, str]:
    return item[0], item[1].id


def plan_jobs(
    role: Role, settings: ReadingComprehensionConfig, passages: Sequence[Passage]
) -> list[MrcJob | str]:
    """A role's jobs in order; a job that no seed passage fits is a message saying why."""
    if not passages:
        raise ValueError(
            "generators.mrc: seeds.passages holds no passage; add passages (JSONL) to it"
        )
    related, unrelated = related_passages(role, passages)
    pools: dict[tuple[bool, bool], list[tuple[Passage, PassageQuestion]]] = {}
    for relevant, group in ((True, related), (False, unrelated)):
        for answerable in (True, False):
            pairs = [
                (stable_seed(CONFIG, role.character.id, p.id, number), p, q)
                for p in group
                for number, q in enumerate(p.questions)
                if (q.answer is not None) == answerable
            ]
            pools[(relevant, answerable)] = [(p, q) for _, p, q in sorted(pairs, key=_first)]
    used: dict[tuple[bool, bool], int] = {}
    narrations = dealt_narration(role.character.id, settings)
    jobs: list[MrcJob | str] = []
    for index, variant in enumerate(dealt_variants(role.character.id, settings)):
        kind = (variant.relevant, variant.answerable)
        pool = pools[kind]
        if not pool:
            which = "related" if variant.relevant else "unrelated"
            needed = (
                "an answerable question" if variant.answerable else "a question with answer null"
            )
            jobs.append(
                f"{variant.task}: no {which} passage has {needed}; add such passages to "
                "seeds.passages or set the share of this outcome or variant to 0"
            )
            continue
        passage, question = pool[used.get(kind, 0) % len(pool)]
        used[kind] = used.get(kind, 0) + 1
        jobs.append(MrcJob(index, variant, narrations[index], passage, question))
    return jobs
