"""RoleMRC reading comprehension on the scripted server: outcome shares, structural checks
per sample (refusals, answers, priority, multi-turn order, narration, nested requirements),
repairs and filtering, and the rolemrc_sft / rolemrc_test / preference views."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pydantic import ValidationError

from rolemill.schemas.dataset_configs import DATASET_CONFIGS, gate_expectations
from rolemill.schemas.llm import LLMConfig, RetryPolicy
from rolemill.schemas.profile import CharacterProfile
from rolemill.schemas.quality import DedupConfig
from rolemill.schemas.recipe import ReadingComprehensionConfig, Recipe
from rolemill.schemas.sample import Sample
from rolemill.schemas.seeds import CharacterSeed, Passage, SeedSet, SourceText
from rolemill.tasks.dedup import deduplicate_per_role
from rolemill.tasks.generators.base import JobOutcome, Role
from rolemill.tasks.generators.reading_comprehension.generator import (
    ReadingComprehensionGenerator,
    made_up_answer,
)
from rolemill.tasks.generators.reading_comprehension.plan import (
    ROLEMRC_TASKS,
    VARIANT,
    VARIANTS,
    MrcJob,
    dealt_narration,
    dealt_variants,
    plan_jobs,
)
from rolemill.tasks.generators.reading_comprehension.relevance import (
    related_passages,
    weight_sum,
)
from rolemill.tasks.generators.reading_comprehension.replies import (
    NarratedReply,
    SpokenReply,
    compose,
    contains,
    follow,
    leaks,
)
from rolemill.tasks.llm import LLMGateway, StructuredResult, Usage
from rolemill.tasks.parquet import to_plain_arrow
from rolemill.tasks.validation import run_gate
from rolemill.tasks.views import preference_view, rolemrc_sft_view, rolemrc_test_view
from rolemill.testing.scripted_server import ScriptedLLMServer

PASSAGES = [
    Passage.model_validate(json.loads(line))
    for line in (Path(__file__).parents[3] / "data/seeds/passages.jsonl").read_text().splitlines()
    if line.strip()
]
SHARES = {"answer": 0.5, "refusal": 0.3, "attempt": 0.2}
SETTINGS = ReadingComprehensionConfig(
    enabled=True,
    samples_per_role=100,
    answer_share=SHARES["answer"],
    refusal_share=SHARES["refusal"],
    attempt_share=SHARES["attempt"],
    narration_share=0.5,
    nested_share=0.4,
    priority_share=0.2,
    flip_share=0.3,
)
SINGLE_ACTION = re.compile(r"(?<!\*)\*(?!\*)")


def role(role_id: str, name: str, knows: list[str], background: str, language: str = "en") -> Role:
    return Role(
        CharacterSeed(
            id=role_id,
            name=name,
            language=language,  # type: ignore[arg-type]
            work="A Test Book",
            source=SourceText(
                description=f"{name}, a character made for tests.",
                scene=f'{name}: "Hello there, and welcome."',
            ),
        ),
        CharacterProfile(
            description=f"{name}, a character of a test book.",
            personality="Curious.",
            background=background,
            speaking_style="Plain.",
            catchphrases=["Mark my words!"],
            knows=knows,
            does_not_know=["smartphones"],
            example_lines=["Hello there."],
        ),
    )


ROLES = [
    role("sailor", "The Sailor", ["tides and the moon", "lighthouses", "coral reefs"], "A life at sea."),
    role("baker", "The Baker", ["sourdough bread", "maple syrup", "tea"], "A village bakery."),
    role("keeper", "The Beekeeper", ["honeybees", "compost", "butterflies"], "A country garden."),
    role("scholar", "The Scholar", ["printing presses", "paper", "pencils"], "An old library."),
    role("poet", "林黛玉", ["二十四节气", "造纸术"], "生于姑苏，住在大观园。", language="zh"),
]  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[MrcJob, JobOutcome]]]:
    """500 planned samples (5 roles x 100) run once on the scripted server."""
    cache = tmp_path_factory.mktemp("mrc-cache")
    with pytest.MonkeyPatch.context() as patch, ScriptedLLMServer() as server:
        patch.setenv("OPENAI_API_KEY", "sk-scripted-test-key-0001")
        config = LLMConfig(
            provider="openai",
            model="scripted-model",
            base_url=server.base_url,
            cache_dir=cache,
            timeout_s=5.0,
            retry=RetryPolicy(max_attempts=4, base_delay_s=0.05, max_delay_s=0.5),
        )

        async def run() -> list[tuple[MrcJob, JobOutcome]]:
            async with LLMGateway(config) as gateway:
                generator = ReadingComprehensionGenerator(gateway, SETTINGS, SEEDS)
                jobs = [(r, job) for r in ROLES for job in generator.jobs(r)]
                outcomes = await asyncio.gather(*(generator.run(r, job) for r, job in jobs))
            return [(job, outcome) for (_, job), outcome in zip(jobs, outcomes, strict=True)]

        yield asyncio.run(run())


SEEDS = SeedSet(characters=[r.character for r in ROLES], passages=PASSAGES)


def samples(built: list[tuple[MrcJob, JobOutcome]]) -> list[tuple[MrcJob, Sample]]:
    return [(job, sample) for job, outcome in built for sample in outcome.samples]


def test_settings_are_checked_with_clear_messages() -> None:
    with pytest.raises(ValidationError, match="must sum to 1"):
        ReadingComprehensionConfig(answer_share=0.5, refusal_share=0.5, attempt_share=0.5)
    with pytest.raises(ValidationError, match="priority_share \\+ flip_share"):
        ReadingComprehensionConfig(priority_share=0.7, flip_share=0.5)
    recipe = {"name": "t", "seeds": {"characters": ["a.yaml"]}, "generators": {"mrc": {}}}
    recipe["generators"]["mrc"]["enabled"] = True
    with pytest.raises(ValidationError, match=r"seeds\.passages is not set"):
        Recipe.model_validate(recipe)


@pytest.mark.parametrize("shares", [(0.5, 0.3, 0.2), (0.34, 0.33, 0.33), (1.0, 0.0, 0.0)])
def test_outcomes_and_variants_are_dealt_in_exact_quotas(shares: tuple[float, ...]) -> None:
    settings = SETTINGS.model_copy(
        update=dict(zip(("answer_share", "refusal_share", "attempt_share"), shares, strict=True))
    )
    variants = dealt_variants("sailor", settings)
    outcomes = Counter(v.outcome for v in variants)
    for outcome, share in zip(("answer", "refusal", "attempt"), shares, strict=True):
        assert abs(outcomes[outcome] - 100 * share) < 1
    names = Counter((v.outcome, v.name) for v in variants)
    nested = names["answer", "special_content"] + names["answer", "special_format"]
    # within one sample of their shares (rounding that differs by role, see below)
    assert abs(nested - outcomes["answer"] * 0.4) < 1
    assert abs(names["refusal", "priority"] - outcomes["refusal"] * 0.2) < 1
    assert abs(names["attempt", "second_answer"] - outcomes["attempt"] * 0.3) < 1
    assert sum(dealt_narration("sailor", settings)) == 50
    assert dealt_variants("sailor", settings) == variants  # stable


@pytest.mark.parametrize("per_role", [2, 4])
def test_small_per_role_counts_still_match_the_shares_over_many_roles(per_role: int) -> None:
    """With few samples per role the rounding differs by role, so no variant vanishes."""
    settings = ReadingComprehensionConfig(enabled=True, samples_per_role=per_role)
    role_ids = [f"persona-{number:04d}" for number in range(1000)]
    variants = [v for role_id in role_ids for v in dealt_variants(role_id, settings)]
    total = len(variants)
    outcomes = Counter(v.outcome for v in variants)
    shares = {"answer": 0.4, "refusal": 0.4, "attempt": 0.2}
    for outcome, share in shares.items():
        assert abs(outcomes[outcome] / total - share) <= 0.05, (outcome, outcomes)
    s = settings
    within = {
        ("answer", "plain"): 1 - s.nested_share,
        ("answer", "special_content"): s.nested_share / 2,
        ("answer", "special_format"): s.nested_share / 2,
        ("refusal", "priority"): s.priority_share,
        ("refusal", "second_refusal"): s.flip_share,
        ("refusal", "plain"): (1 - s.priority_share - s.flip_share) / 2,
        ("refusal", "unrelated"): (1 - s.priority_share - s.flip_share) / 2,
        ("attempt", "plain"): 1 - s.flip_share,
        ("attempt", "second_answer"): s.flip_share,
    }
    names = Counter((v.outcome, v.name) for v in variants)
    assert set(names) == {(v.outcome, v.name) for v in VARIANTS}  # every variant present
    for key, share in within.items():
        assert abs(names[key] / total - shares[key[0]] * share) <= 0.05, (key, names)
    narrated = sum(sum(dealt_narration(role_id, settings)) for role_id in role_ids)
    assert abs(narrated / total - s.narration_share) <= 0.05
    assert all(len(dealt_variants(r, settings)) == per_role for r in role_ids[:50])


def test_relevance_ranks_passages_of_the_roles_world_and_language() -> None:
    sailor, baker, poet = ROLES[0], ROLES[1], ROLES[4]
    related, unrelated = related_passages(sailor, PASSAGES)
    titles = {p.title for p in related}
    assert {
        "Why the Tides Rise and Fall",
        "Coral Reefs",
        "Lighthouses and the Fresnel Lens",
    } <= titles
    assert {p.language for p in related + unrelated} == {"en"}
    assert len(related) == len(unrelated) == 13
    assert "Sourdough Bread" in {p.title for p in related_passages(baker, PASSAGES)[0]}
    zh_related, zh_unrelated = related_passages(poet, PASSAGES)
    assert {p.language for p in zh_related + zh_unrelated} == {"zh"}
    assert "二十四节气" in {p.title for p in zh_related}


def test_relevance_weighs_a_personas_abilities_like_what_it_knows() -> None:
    plain = role("keeper", "The Keeper", ["sourdough bread"], "A quiet town.")
    abilities = ["reading the tides and the moon", "keeping lighthouses", "diving coral reefs"]
    persona = Role(plain.character, plain.profile.model_copy(update={"abilities": abilities}))
    best = {p.title for p in related_passages(persona, PASSAGES)[0][:4]}
    assert {
        "Why the Tides Rise and Fall",
        "Coral Reefs",
        "Lighthouses and the Fresnel Lens",
    } <= best


def test_relevance_scores_do_not_depend_on_the_order_of_terms() -> None:
    weights = {f"term{n}": math.log(1 + 26 / n) * (2 if n % 3 else 1) for n in range(1, 12)}
    forward = list(weights)
    backward = forward[::-1]
    # a plain float sum differs with the order (so a set's hash order could flip a tie)
    assert sum(weights[t] for t in forward) != sum(weights[t] for t in backward)
    assert weight_sum(forward, weights.__getitem__) == weight_sum(backward, weights.__getitem__)


def test_jobs_pick_passages_that_fit_their_variant() -> None:
    for r in ROLES:
        related = {p.id for p in related_passages(r, PASSAGES)[0]}
        for job in plan_jobs(r, SETTINGS, PASSAGES):
            assert isinstance(job, MrcJob)
            assert (job.passage.id in related) == job.variant.relevant
            assert (job.question.answer is not None) == job.variant.answerable


def test_a_variant_no_passage_fits_is_reported_not_guessed() -> None:
    answerable_only = [
        p.model_copy(update={"questions": [q for q in p.questions if q.answer]}) for p in PASSAGES
    ]
    generator = ReadingComprehensionGenerator(None, SETTINGS, SEEDS)  # type: ignore[arg-type]
    jobs = plan_jobs(ROLES[0], SETTINGS, answerable_only)
    missing = [job for job in jobs if isinstance(job, str)]
    assert missing and all("answer null" in job for job in missing)
    outcome = asyncio.run(generator.run(ROLES[0], missing[0]))
    assert outcome.samples == [] and "mrc/refusal" in outcome.errors[0]


def test_a_seed_answer_must_be_a_span_of_its_passage() -> None:
    row = json.loads(PASSAGES[0].model_dump_json())
    row["questions"][0]["answer"] = "Cumberland"
    with pytest.raises(ValidationError, match=r"questions\[0\]\.answer 'Cumberland' is not a span"):
        Passage.model_validate(row)


def test_outcome_shares_match_the_recipe_over_500_samples(built: Any) -> None:
    made = samples(built)
    assert sum(o.filtered for _, o in built) + len(made) == 500
    assert all(not o.errors for _, o in built)
    assert len(made) >= 490
    counts = Counter(sample.fields["outcome"] for _, sample in made)
    for outcome, share in SHARES.items():
        assert abs(counts[outcome] / len(made) - share) <= 0.05, (outcome, counts)


def test_refusals_carry_no_answer_span_and_answers_carry_the_reference(built: Any) -> None:
    for job, sample in samples(built):
        span = job.question.answer
        replies = [m.content for m in sample.messages if m.role == "assistant"]
        assert len(replies) == len(sample.fields["turn_outcomes"])
        assert sample.fields["answer_span"] == span
        for reply, outcome in zip(replies, sample.fields["turn_outcomes"], strict=True):
            if outcome == "refusal":
                assert span is None or not contains(reply, span), sample.task
                # with no answer in the passage, no made-up one (what `preference` rejects)
                assert span is not None or not contains(reply, made_up_answer(job)), sample.task
            else:
                assert span is not None and contains(reply, span), sample.task


def test_priority_samples_follow_the_system_instruction(built: Any) -> None:
    priority = [(j, s) for j, s in samples(built) if s.fields["variant"] == "priority"]
    assert len(priority) >= 10
    for job, sample in priority:
        system, reply = sample.messages[0].content, sample.messages[-1].content
        rule = sample.fields["requirement"]
        assert rule.startswith("You must") and rule in system
        # the rule is the system prompt's second sentence, where RoleMRC's judge reads it
        assert system.split(". ")[1] + "." == rule
        assert job.question.answer and not contains(reply, job.question.answer)
        assert sample.fields["rolemrc_task"].endswith("-refused")
        assert sample.fields["relevant"] and sample.fields["outcome"] == "refusal"


def test_multi_turn_flips_have_their_turns_in_the_labelled_order(built: Any) -> None:
    expected = {
        "second_refusal": (["refusal", "refusal"], "-2ndrefused", "role_related_mrc_refused"),
        "second_answer": (["refusal", "attempt"], "-2ndanswer", "role_unrelated_mrc_refused"),
    }
    seen = Counter()
    for job, sample in samples(built):
        variant = sample.fields["variant"]
        if variant not in expected:
            assert len(sample.messages) == 3
            continue
        seen[variant] += 1
        turns, suffix, prefix = expected[variant]
        assert [m.role for m in sample.messages] == [
            "system", "user", "assistant", "user", "assistant"
        ]  # fmt: skip
        assert sample.fields["turn_outcomes"] == turns
        label = sample.fields["rolemrc_task"]
        assert label.startswith(prefix) and label.endswith(suffix)
        first, last = sample.messages[2].content, sample.messages[4].content
        if variant == "second_answer":
            assert not contains(first, job.question.answer) and contains(last, job.question.answer)
        assert job.question.question in sample.messages[3].content  # the user insists
    assert seen["second_refusal"] > 0 and seen["second_answer"] > 0


def test_narration_and_nested_requirements_show_in_the_reply(built: Any) -> None:
    for job, sample in samples(built):
        reply = sample.messages[-1].content
        narrated = sample.fields["narration"]
        assert sample.fields["rolemrc_task"] in ROLEMRC_TASKS
        assert ("_with_narration" in sample.fields["rolemrc_task"]) == narrated
        if narrated:
            assert re.match(r"^\*[^*]+\* \S", reply), reply
        else:
            assert not SINGLE_ACTION.search(reply), reply
        if sample.fields["variant"] in ("special_content", "special_format"):
            requirement = sample.fields["requirement"]
            assert requirement and requirement in sample.messages[0].content
            key = next(k for k in KEYS if KEYS[k] in requirement)
            _, repaired = follow(
                key,
                reply,
                span=job.question.answer or "",
                name=sample.role_name,
                catchphrase="Mark my words!",
                title=job.passage.title,
                language=sample.language,
            )
            assert not repaired, (key, reply)


KEYS = {
    "bold_fact": "in bold",
    "capitals": "capital letters",
    "sign_off": "end every reply",
    "catchphrase": "your phrase",
    "title": "name the passage",
}


class StubGateway:
    """Answers every structured request with the given speech (no server)."""

    def __init__(self, speech: str):
        self.speech = speech
        self.config = LLMConfig(provider="openai", model="stub")
        self.model = "stub"
        self.calls = 0

    async def structured(self, messages: Any, output: Any, **_: Any) -> StructuredResult:
        self.calls += 1
        value: Any = (
            NarratedReply(narration="nods", speech=self.speech)
            if output is NarratedReply
            else SpokenReply(speech=self.speech)
        )
        return StructuredResult(value, Usage(requests=1), "stub")


def run_with(
    speech: Callable[[MrcJob], str], outcome: str, variant: str
) -> tuple[JobOutcome, StubGateway]:
    generator = ReadingComprehensionGenerator(None, SETTINGS, SEEDS)  # type: ignore[arg-type]
    job = next(
        j
        for j in generator.jobs(ROLES[0])
        if isinstance(j, MrcJob) and (j.variant.outcome, j.variant.name) == (outcome, variant)
    )
    generator.gateway = gateway = StubGateway(speech(job))  # type: ignore[assignment]
    return asyncio.run(generator.run(ROLES[0], job)), gateway


def test_an_answer_missing_the_span_is_repaired_and_a_leaking_refusal_is_dropped() -> None:
    answered, _ = run_with(lambda job: "I cannot recall *sighs* at all.", "answer", "plain")
    sample = answered.samples[0]
    assert sample.fields["repaired"]
    assert contains(sample.messages[-1].content, sample.fields["answer_span"])
    assert "*sighs*" not in sample.messages[-1].content
    # a refusal that gives the answer away on both attempts is dropped and counted
    refused, gateway = run_with(lambda job: f"No. {job.question.answer}", "refusal", "unrelated")
    assert refused.samples == [] and refused.filtered == 1 and gateway.calls == 2
    kept, _ = run_with(lambda job: "That passage is beyond me, friend.", "refusal", "priority")
    assert kept.samples and not kept.samples[0].fields["repaired"]


def test_a_refusal_of_an_unanswerable_question_offers_no_made_up_answer() -> None:
    """What the `preference` pair rejects (another span of the passage) never is the chosen."""
    offered, gateway = run_with(lambda job: f"Perhaps {made_up_answer(job)}?", "refusal", "plain")
    assert offered.samples == [] and offered.filtered == 1 and gateway.calls == 2
    declined, _ = run_with(lambda job: "The page does not say, friend.", "refusal", "plain")
    (sample,) = declined.samples
    assert sample.fields["answer_span"] is None
    assert sample.messages[-1].content == "The page does not say, friend."


def test_a_refusal_that_gives_the_span_away_in_other_words_leaks() -> None:
    span = "the gravitational pull of the moon"
    question = "What causes the tides?"
    assert leaks("Ah, the moon's gravitational pull, I cannot say.", span, question)
    assert leaks("It was 1969, I believe.", "July 20, 1969", "When did they land?")
    assert leaks("答案与月球引力有关。", "月球的引力", "潮汐是怎么形成的？")
    assert not leaks("I cannot say what moves the tides, friend.", span, question)
    assert not leaks("The moon? I know nothing of it.", span, question)  # one word of three
    assert not leaks("恕我不知潮汐之事。", "月球的引力", "潮汐是怎么形成的？")
    assert not leaks("I cannot tell what happened in 1969.", "Apollo 11", "What flew in 1969?")
    # in the generator: a refusal that reorders the span's words is asked again, then dropped
    refused, gateway = run_with(
        lambda job: "No. " + " ".join(reversed((job.question.answer or "").split())),
        "refusal",
        "unrelated",
    )
    assert refused.samples == [] and refused.filtered == 1 and gateway.calls == 2


def test_bold_from_the_model_is_kept_and_not_counted_as_a_repair() -> None:
    assert compose(SpokenReply(speech="It is **the moon** *smiles* that pulls.")) == (
        "It is **the moon** that pulls."
    )
    generator = ReadingComprehensionGenerator(None, SETTINGS, SEEDS)  # type: ignore[arg-type]
    job = next(
        j
        for j in generator.jobs(ROLES[0])
        if isinstance(j, MrcJob)
        and j.variant.name == "special_format"
        and generator._requirement(ROLES[0], j)[0] == "bold_fact"
    )
    speech = f"Aye, it is **{job.question.answer}**, as any sailor knows."
    generator.gateway = StubGateway(speech)  # type: ignore[assignment]
    outcome = asyncio.run(generator.run(ROLES[0], job))
    reply = outcome.samples[0].messages[-1].content
    assert f"**{job.question.answer}**" in reply and reply.count("**") == 2
    assert not outcome.samples[0].fields["repaired"]


def test_a_made_up_zh_answer_is_the_first_sentence_only() -> None:
    text = "二十四节气是古人根据太阳运行制定的历法。它指导农事，" + "流传至今" * 40 + "。"
    passage = Passage(
        id="zh-null",
        language="zh",
        title="节气",
        text=text,
        questions=[{"question": "谁发明了节气？", "answer": None}],
    )
    job = MrcJob(0, VARIANT["refusal", "plain"], False, passage, passage.questions[0])
    generator = ReadingComprehensionGenerator(None, SETTINGS, SEEDS)  # type: ignore[arg-type]
    rejected = generator._rejected(ROLES[4], job, "恕我不知。")
    assert "二十四节气是古人根据太阳运行制定的历法" in rejected
    assert "它指导农事" not in rejected and len(rejected) < 60
    long_en = passage.model_copy(
        update={"language": "en", "text": "The tide " + "rises and falls " * 20 + "twice a day."}
    )
    job = MrcJob(0, VARIANT["refusal", "plain"], False, long_en, passage.questions[0])
    assert len(generator._rejected(ROLES[0], job, "No.")) < 140


def test_views_have_rolemrc_fields_and_fit_their_schemas(built: Any) -> None:
    made = [sample.model_dump() for _, sample in samples(built)]
    frame = pl.DataFrame(made)
    by_id = {row["id"]: row for row in made}
    for name, view in (
        ("rolemrc_sft", rolemrc_sft_view),
        ("rolemrc_test", rolemrc_test_view),
        ("preference", preference_view),
    ):
        rows = view(frame)
        table = to_plain_arrow(rows, DATASET_CONFIGS[name].arrow_schema)
        assert table.num_rows == len(made)
        assert set(rows["task"]) <= set(ROLEMRC_TASKS)
        assert set(rows["id"]) == set(by_id)
    sft = rolemrc_sft_view(frame).row(0, named=True)
    assert [t["role"] for t in sft["conversations"]][:3] == ["System", "User", "Assistant"]
    for row in rolemrc_test_view(frame).iter_rows(named=True):
        sample = by_id[row["id"]]
        assert row["question"][0]["role"] == "System" and row["question"][-1]["role"] == "User"
        assert row["reference"] == sample["messages"][-1]["content"]
        assert row["task"] == sample["fields"]["rolemrc_task"]
    for row in preference_view(frame).iter_rows(named=True):
        sample, span = by_id[row["id"]], by_id[row["id"]]["fields"]["answer_span"]
        assert row["prompt"][0]["role"] == "System" and row["prompt"][-1]["role"] == "User"
        assert row["chosen"] == sample["messages"][-1]["content"] != row["rejected"]
        if sample["fields"]["outcome"] == "refusal" and span:
            assert contains(row["rejected"], span)  # the wrong outcome gives the answer away
        if sample["fields"]["outcome"] != "refusal":
            assert not contains(row["rejected"], span)
        if sample["fields"]["narration"]:
            assert row["rejected"].startswith("*")


def test_built_samples_and_their_views_pass_the_validation_gate(built: Any, tmp_path: Path) -> None:
    """The gate holds real rows: types, labels, reply lengths and the recipe's outcome
    shares (checked from 200 rows on by default) all pass on the 500 built samples."""
    made = pl.DataFrame([sample.model_dump() for _, sample in samples(built)])
    typed = pl.from_arrow(to_plain_arrow(made, DATASET_CONFIGS["mrc"].arrow_schema))
    assert isinstance(typed, pl.DataFrame)
    frame = deduplicate_per_role(typed, DedupConfig()).kept  # as the flow does before the gate
    assert frame.height >= 450
    recipe = Recipe.model_validate(
        {
            "name": "mrc-gate",
            "seeds": {"characters": ["x.yaml"], "passages": "p.jsonl"},
            "generators": {"mrc": SETTINGS.model_dump()},
        }
    )
    tables = {
        "mrc": frame,
        "rolemrc_sft": rolemrc_sft_view(frame),
        "rolemrc_test": rolemrc_test_view(frame),
        "preference": preference_view(frame),
    }
    suites = {name: (t, gate_expectations(name, recipe, t.height)) for name, t in tables.items()}
    assert set(suites["mrc"][1].means) == {"answer_share", "refusal_share", "attempt_share"}

    report = run_gate(suites, tmp_path / "data_docs")

    assert report.success, report.failure_lines()
    assert report.data_docs is not None and report.data_docs.is_file()
