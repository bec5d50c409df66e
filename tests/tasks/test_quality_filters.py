"""Quality filters: each drop reason on realistic English and Chinese samples, clean
samples of every config kept, the first-reason order, counts, examples and the knobs."""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from pydantic import ValidationError

from rolemill.schemas.dataset_configs import DATASET_CONFIGS
from rolemill.schemas.filters import DROP_REASONS, QualityFilterConfig
from rolemill.schemas.sample import Provenance, Sample
from rolemill.tasks.quality_filters import apply_filters, checks_for

HOLMES = ("sherlock-holmes", "Sherlock Holmes", "en")
WUKONG = ("sun-wukong", "孙悟空", "zh")
RESEARCHER = ("persona-000007", "Mara Lindqvist", "en")
SYSTEM = {
    HOLMES: "You are Sherlock Holmes from The Adventures of Sherlock Holmes. A consulting "
    "detective in London.",
    WUKONG: "你是《西游记》中的孙悟空。花果山的石猴，齐天大圣。",
    RESEARCHER: "You are Mara Lindqvist. An AI researcher who trains large language models "
    "at a university lab.",
}
HOLMES_ANSWER = (
    "You see, but you do not observe. The mud on your boots is of a reddish tint found only "
    "near Wigmore Street, Watson."
)
WUKONG_ANSWER = "俺老孙当年大闹天宫，十万天兵天将也奈何不了我！"
MRC_FIELDS = {
    "passage_id": "p1",
    "question": "What raises the tides?",
    "relevant": True,
    "answerable": True,
    "outcome": "answer",
    "variant": "plain",
    "turn_outcomes": ["answer"],
    "narration": False,
    "requirement": "",
    "answer_span": "the pull of the moon",
    "rolemrc_task": "role_related_mrc_answer_no_narration",
    "repaired": False,
    "rejected": "I cannot help you with that.",
}
ZH_MRC_FIELDS = MRC_FIELDS | {"question": "潮汐是怎么形成的？", "answer_span": "月球的引力"}


def sample(
    config: str,
    role: tuple[str, str, str],
    user: str | list[str],
    reply: str | list[str],
    fields: dict[str, Any] | None = None,
    *,
    messages: list[dict[str, str]] | None = None,
) -> Sample:
    """A sample as the generators make it: system prompt, then user / assistant turns."""
    role_id, name, language = role
    if messages is None:
        users = [user] if isinstance(user, str) else user
        replies = [reply] if isinstance(reply, str) else reply
        messages = [{"role": "system", "content": SYSTEM[role]}]
        for question, answer in zip(users, replies, strict=True):
            messages += [
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ]
    default_fields = {
        "context_instruct": {"segment": "description", "confidence": 8},
        "style_transfer": {"instruction_id": "i1"},
        "self_alignment": {"kinds": ["own_world"], "rejections": [False], "evidence": [""]},
        "mrc": MRC_FIELDS,
    }[config]
    return Sample.build(
        config=config,
        task=f"{config}/test",
        role_id=role_id,
        role_name=name,
        language=language,
        messages=messages,
        fields=fields if fields is not None else default_fields,
        provenance=Provenance(model="m", provider="openai", prompt_hash="h"),
    )


def frame(samples: list[Sample]) -> pl.DataFrame:
    """Samples as the flow reads them back from shard Parquet (the config's Arrow schema)."""
    config = samples[0].config
    schema = DATASET_CONFIGS[config].arrow_schema
    table = pa.Table.from_pylist([s.model_dump() for s in samples], schema=schema)
    return pl.from_arrow(table)  # type: ignore[return-value]


def reasons(samples: list[Sample], settings: QualityFilterConfig | None = None) -> list[str]:
    """The reason each sample is dropped for ('' when kept), in input order."""
    outcome = apply_filters(samples[0].config, frame(samples), settings or QualityFilterConfig())
    kept = set(outcome.kept["id"])
    by_id = {e["id"]: reason for reason, shown in outcome.examples.items() for e in shown}
    return ["" if s.id in kept else by_id.get(s.id, "?") for s in samples]


CLEAN = [
    sample(
        "context_instruct", HOLMES, "How did you know I had been in Afghanistan?", HOLMES_ANSWER
    ),
    sample(
        "context_instruct",
        WUKONG,
        "你的金箍棒是从哪里得来的？",
        "那是俺老孙从东海龙宫借来的如意金箍棒！",
    ),
    # an AI researcher persona talks about language models in character
    sample(
        "context_instruct",
        RESEARCHER,
        "What keeps you at the lab so late?",
        "Our language model keeps failing the reasoning benchmark, and as an AI researcher "
        "I cannot let it go.",
    ),
    # a direct address by the full name is not the name asked back
    sample(
        "self_alignment",
        HOLMES,
        "Sherlock Holmes, what do you make of this letter?",
        "The paper is Bohemian, the writer a German who is uncommonly rich.",
    ),
    sample(
        "self_alignment",
        WUKONG,
        "孙悟空，你为什么叫唐僧师父？",
        "他救俺老孙出了五行山，这份恩情俺记着呢。",
    ),
    # out-of-knowledge refusals in character, echoing what the user named
    sample(
        "self_alignment",
        HOLMES,
        "What do you think of ChatGPT?",
        "ChatGPT? The word means nothing to me, and I never theorise without data.",
        {"kinds": ["out_of_knowledge"], "rejections": [True], "evidence": [""]},
    ),
    sample(
        "self_alignment",
        WUKONG,
        ["你用过智能手机吗？", "那你知道互联网吗？"],
        ["什么智能手机？俺老孙没听说过这等宝贝。", "互联网？莫不是天庭的新法宝？俺老孙不知道。"],
        {
            "kinds": ["out_of_knowledge", "out_of_knowledge"],
            "rejections": [True, True],
            "evidence": ["", ""],
        },
    ),
    sample("style_transfer", HOLMES, "Give me advice on staying focused.", HOLMES_ANSWER),
    sample(
        "style_transfer",
        WUKONG,
        "给我一些学习的建议。",
        "学本事莫怕苦，俺老孙拜师学艺时也是日日勤修！",
    ),
    sample(
        "mrc",
        HOLMES,
        "What raises the tides?",
        "*taps the page* The passage says it plainly: the pull of the moon, Watson.",
    ),
    sample(
        "mrc",
        WUKONG,
        "潮汐是怎么形成的？",
        "*挠挠头* 书上说了，是月球的引力把海水拉起来的。",
        ZH_MRC_FIELDS,
    ),
    sample(
        "mrc",
        HOLMES,
        "What raises the tides?",
        "Tides are no concern of a detective; ask an astronomer, not me.",
        MRC_FIELDS | {"outcome": "refusal", "variant": "unrelated", "turn_outcomes": ["refusal"]},
    ),
    sample(
        "mrc",
        HOLMES,
        ["What raises the tides?", "Please, Mr. Holmes, just try: what raises the tides?"],
        ["That lies outside my line of work.", "If you insist: the pull of the moon, I gather."],
        MRC_FIELDS
        | {
            "outcome": "attempt",
            "variant": "second_answer",
            "turn_outcomes": ["refusal", "attempt"],
        },
    ),
]


@pytest.mark.parametrize("config", ["context_instruct", "self_alignment", "style_transfer", "mrc"])
def test_clean_samples_of_every_config_are_kept(config: str) -> None:
    samples = [s for s in CLEAN if s.config == config]
    outcome = apply_filters(config, frame(samples), QualityFilterConfig())
    assert outcome.kept["id"].to_list() == [s.id for s in samples]
    assert outcome.total_dropped == 0 and outcome.examples == {}
    assert list(outcome.dropped) == list(checks_for(config, QualityFilterConfig()))


DIRTY: list[tuple[str, Sample]] = [
    ("empty", sample("context_instruct", HOLMES, "Who are you?", "...")),
    ("empty", sample("style_transfer", WUKONG, "讲个故事。", "……！")),
    (
        "malformed_turns",
        sample(
            "self_alignment",
            HOLMES,
            "",
            "",
            messages=[
                {"role": "system", "content": SYSTEM[HOLMES]},
                {"role": "user", "content": "Where do you live?"},
                {"role": "user", "content": "Answer me!"},
                {"role": "assistant", "content": HOLMES_ANSWER},
            ],
        ),
    ),
    (
        "malformed_turns",
        sample(
            "context_instruct",
            WUKONG,
            "",
            "",
            messages=[
                {"role": "user", "content": "你住在哪里？"},
                {"role": "system", "content": SYSTEM[WUKONG]},
                {"role": "assistant", "content": WUKONG_ANSWER},
            ],
        ),
    ),
    (
        "malformed_turns",
        sample(
            "self_alignment",
            HOLMES,
            "",
            "",
            messages=[
                {"role": "system", "content": SYSTEM[HOLMES]},
                {"role": "user", "content": "Where do you live?"},
                {"role": "assistant", "content": "  "},
                {"role": "user", "content": "Hello?"},
                {"role": "assistant", "content": HOLMES_ANSWER},
            ],
        ),
    ),
    (
        "malformed_turns",
        sample(
            "context_instruct",
            HOLMES,
            "",
            "",
            messages=[
                {"role": "system", "content": SYSTEM[HOLMES]},
                {"role": "user", "content": "Where do you live?"},
            ],
        ),
    ),
    (
        "breaking_character",
        sample(
            "context_instruct",
            HOLMES,
            "What do you think of Moriarty?",
            "As an AI language model, I do not have personal opinions about Moriarty.",
        ),
    ),
    (
        "breaking_character",
        sample(
            "self_alignment",
            HOLMES,
            "What happened in the news today?",
            "I'm sorry, but I cannot browse the internet. My training data ends in 2021.",
        ),
    ),
    (
        "breaking_character",
        sample(
            "style_transfer",
            HOLMES,
            "Write a haiku about rain.",
            "I'm an AI, so here is a haiku: rain taps the window, London sleeps in grey.",
        ),
    ),
    (
        "breaking_character",
        sample(
            "context_instruct",
            HOLMES,
            "How do you solve cases?",
            "This answer was produced by a large language model trained by OpenAI.",
        ),
    ),
    (
        "breaking_character",
        sample(
            "context_instruct", WUKONG, "你怕不怕妖怪？", "作为一个人工智能，我没有害怕的情绪。"
        ),
    ),
    (
        "breaking_character",
        sample(
            "style_transfer",
            WUKONG,
            "今天天气怎么样？",
            "抱歉，我是一个AI语言模型，无法获取实时信息。",
        ),
    ),
    (
        "wrong_language",
        sample(
            "context_instruct",
            WUKONG,
            "你的师父是谁？",
            "My master is the monk Tang Sanzang, and I guard him on the road to the West.",
        ),
    ),
    (
        "wrong_language",
        sample(
            "context_instruct",
            HOLMES,
            "Where do you live?",
            "我住在伦敦贝克街221B号，和华生医生一起。",
        ),
    ),
    ("too_short", sample("context_instruct", HOLMES, "Are you a detective?", "Yes, indeed.")),
    ("too_short", sample("style_transfer", WUKONG, "你好吗？", "好的。")),
    ("too_long", sample("style_transfer", HOLMES, "Tell me a story.", "And then " * 250)),
    ("too_long", sample("style_transfer", WUKONG, "讲个故事。", "俺老孙一个筋斗云" * 120)),
    (
        "refusal_quotes_answer",
        sample(
            "mrc",
            HOLMES,
            "What raises the tides?",
            "I shall not say that it is the pull of the moon; that is not my business.",
            MRC_FIELDS
            | {"outcome": "refusal", "variant": "unrelated", "turn_outcomes": ["refusal"]},
        ),
    ),
    (
        "refusal_quotes_answer",
        sample(
            "mrc",
            WUKONG,
            ["潮汐是怎么形成的？", "你就试试吧，潮汐是怎么形成的？"],
            ["俺老孙只知道月亮引力大得很，别的不说。", "非要俺说？是月球的引力。"],
            ZH_MRC_FIELDS
            | {
                "outcome": "attempt",
                "variant": "second_answer",
                "turn_outcomes": ["refusal", "attempt"],
            },
        ),
    ),
    (
        "answer_misses_reference",
        sample(
            "mrc",
            HOLMES,
            "What raises the tides?",
            "The sea rises and falls, as the passage tells us, twice each day.",
        ),
    ),
    (
        "answer_misses_reference",
        sample(
            "mrc",
            WUKONG,
            "潮汐是怎么形成的？",
            "书上说潮水一天涨落两次，俺老孙记得清楚。",
            ZH_MRC_FIELDS,
        ),
    ),
    (
        "role_name_asked_back",
        sample(
            "context_instruct",
            HOLMES,
            "What does Sherlock Holmes think of Professor Moriarty?",
            "He is the Napoleon of crime, and I have spent years on his trail.",
        ),
    ),
    (
        "role_name_asked_back",
        sample(
            "self_alignment",
            WUKONG,
            "孙悟空的金箍棒有多重？",
            "一万三千五百斤，俺老孙耍起来轻巧得很！",
        ),
    ),
]


@pytest.mark.parametrize(
    ("reason", "dirty"), DIRTY, ids=[f"{r}-{s.language}-{i}" for i, (r, s) in enumerate(DIRTY)]
)
def test_each_reason_is_caught_and_clean_rows_beside_it_stay(reason: str, dirty: Sample) -> None:
    clean = [s for s in CLEAN if s.config == dirty.config]
    assert reasons([clean[0], dirty, *clean[1:]]) == ["", reason] + [""] * (len(clean) - 1)


def test_the_checks_that_apply_to_each_config() -> None:
    settings = QualityFilterConfig()
    common = [r for r in DROP_REASONS if r not in MRC_ONLY and r != "role_name_asked_back"]
    assert list(checks_for("style_transfer", settings)) == common
    assert list(checks_for("context_instruct", settings)) == [*common, "role_name_asked_back"]
    assert list(checks_for("self_alignment", settings)) == [*common, "role_name_asked_back"]
    assert list(checks_for("mrc", settings)) == [*common, *MRC_ONLY]
    assert checks_for("mrc", QualityFilterConfig(enabled=False)) == ()


MRC_ONLY = ("refusal_quotes_answer", "answer_misses_reference")


def test_a_row_counts_under_its_first_failing_reason() -> None:
    # breaking character and too long: counted as breaking character (tried first)
    long_break = "As an AI language model, I must say " + "that it depends " * 200
    # empty final reply and a trailing structure fault (two users): counted as empty
    empty_and_malformed = [
        {"role": "system", "content": SYSTEM[HOLMES]},
        {"role": "user", "content": "Hello?"},
        {"role": "user", "content": "Anyone?"},
        {"role": "assistant", "content": "…"},
    ]
    # wrong language and too short: wrong language
    short_chinese = "是的。"
    # too short and the name asked back: too short
    asked_short = ("What would Sherlock Holmes say?", "Elementary.")
    samples = [
        sample("context_instruct", HOLMES, "Any thoughts?", long_break),
        sample("context_instruct", HOLMES, "", "", messages=empty_and_malformed),
        sample("context_instruct", HOLMES, "Do you agree?", short_chinese),
        sample("context_instruct", HOLMES, *asked_short),
    ]
    assert reasons(samples) == ["breaking_character", "empty", "wrong_language", "too_short"]


def test_counts_follow_the_fixed_order_and_examples_are_capped_and_readable() -> None:
    dirty = [
        sample("context_instruct", HOLMES, f"Question {i}?", f"Yes, {i}.") for i in range(5)
    ] + [
        sample(
            "context_instruct",
            HOLMES,
            "Tell me about your cases.",
            "Well, my dear fellow, there have been so many of them over the years that I hardly "
            "know where to begin. But as an AI, I cannot really remember any of them.",
        )
    ]
    samples = [CLEAN[0], *dirty, CLEAN[2]]
    settings = QualityFilterConfig(examples_per_reason=2)
    outcome = apply_filters("context_instruct", frame(samples), settings)
    assert outcome.kept["id"].to_list() == [CLEAN[0].id, CLEAN[2].id]
    assert outcome.dropped == {
        "empty": 0,
        "malformed_turns": 0,
        "breaking_character": 1,
        "wrong_language": 0,
        "too_short": 5,
        "too_long": 0,
        "role_name_asked_back": 0,
    }
    assert list(outcome.dropped) == list(checks_for("context_instruct", settings))
    assert outcome.total_dropped == 6
    assert list(outcome.examples) == ["breaking_character", "too_short"]
    shown = outcome.examples["too_short"]
    assert [e["id"] for e in shown] == [dirty[0].id, dirty[1].id]  # first in input order
    assert shown[0] == {"id": dirty[0].id, "role_name": "Sherlock Holmes", "excerpt": "Yes, 0."}
    # a breaking-character excerpt starts a little before the offending phrase
    (breaking,) = outcome.examples["breaking_character"]
    assert "as an AI, I cannot" in breaking["excerpt"]
    assert not breaking["excerpt"].startswith("Well, my dear fellow")


def test_long_excerpts_are_cut() -> None:
    outcome = apply_filters(
        "style_transfer",
        frame([sample("style_transfer", HOLMES, "Tell me a story.", "And then " * 250)]),
        QualityFilterConfig(),
    )
    (shown,) = outcome.examples["too_long"]
    assert len(shown["excerpt"]) == 160 and shown["excerpt"].endswith("…")


def test_knobs_turn_checks_off_and_move_the_bounds() -> None:
    chinese_reply = sample(
        "context_instruct", HOLMES, "Where do you live?", "我住在伦敦贝克街221B号。"
    )
    brief = sample("context_instruct", HOLMES, "Are you a detective?", "Yes, indeed.")
    catchphrase = sample(
        "context_instruct", HOLMES, "Anything else?", "Beep boop, I am a computer program, sir."
    )
    samples = [chinese_reply, brief, catchphrase]
    assert reasons(samples) == ["wrong_language", "too_short", ""]

    checks = [r for r in DROP_REASONS if r != "wrong_language"]
    loose = QualityFilterConfig(
        checks=checks, min_words_en=2, extra_breaking_phrases=["I AM A COMPUTER PROGRAM"]
    )
    assert reasons(samples, loose) == ["too_short", "", "breaking_character"]
    # share 0 lets any script through; the Chinese reply is one English "word" long
    any_script = QualityFilterConfig(min_script_share=0.0)
    assert reasons(samples, any_script) == ["too_short", "too_short", ""]

    off = apply_filters("context_instruct", frame(samples), QualityFilterConfig(enabled=False))
    assert off.kept.height == 3 and off.dropped == {} and off.examples == {}
    quiet = apply_filters(
        "context_instruct", frame(samples), QualityFilterConfig(examples_per_reason=0)
    )
    assert quiet.total_dropped == 2 and quiet.examples == {}


def test_chinese_lengths_count_characters_not_punctuation() -> None:
    five = sample("context_instruct", WUKONG, "你是谁？", "俺……是……老孙！！")  # 4 characters
    settings = QualityFilterConfig(min_chars_zh=4, max_chars_zh=10)
    long = sample("context_instruct", WUKONG, "你是谁？", "俺老孙乃齐天大圣孙悟空也")  # 12
    assert reasons([five, long], settings) == ["", "too_long"]
    assert reasons([five], QualityFilterConfig(min_chars_zh=5)) == ["too_short"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"checks": ["too_short", "too_short"]}, "each check at most once"),
        ({"checks": ["rude"]}, "Input should be"),
        ({"min_words_en": 50, "max_words_en": 10}, "min_words_en is above max_words_en"),
        ({"extra_breaking_phrases": ["  "]}, "blank phrase"),
        ({"min_script_share": 1.5}, "less than or equal to 1"),
        ({"min_length": 3}, "Extra inputs are not permitted"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        QualityFilterConfig.model_validate(settings)


def test_frames_that_are_not_canonical_samples_are_refused() -> None:
    profiles = pl.DataFrame({"id": ["a"], "role_id": ["alice"], "description": ["A girl."]})
    with pytest.raises(ValueError, match="canonical sample configs only"):
        apply_filters("profiles", profiles, QualityFilterConfig())


def test_an_empty_frame_passes_through() -> None:
    empty = frame([CLEAN[0]]).clear()
    outcome = apply_filters("context_instruct", empty, QualityFilterConfig())
    assert outcome.kept.height == 0 and outcome.total_dropped == 0
