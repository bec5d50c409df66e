import random

import polars as pl
import pytest

from rolemill.schemas.quality import DedupConfig
from rolemill.schemas.sample import Provenance, Sample
from rolemill.tasks.dedup import dedup_text, deduplicate, shingles

QUESTION = "Mr. Holmes, how did you know that I had come from Afghanistan?"
ANSWER = (
    "The train of reasoning ran so swiftly through my mind that I arrived at the conclusion "
    "without being conscious of intermediate steps. Here is a gentleman of a medical type, but "
    "with the air of a military man. He has just come from the tropics, for his face is dark, "
    "and that is not the natural tint of his skin, for his wrists are fair."
)
# The same answer with two words changed: a paraphrase-level near-duplicate.
ANSWER_REWORDED = ANSWER.replace("swiftly", "quickly").replace("dark", "tanned")
OTHER_ANSWER = (
    "I play the violin when a problem refuses to yield. The music clears the mind, and "
    "Watson, who bears it with admirable patience, says that the neighbours do not complain "
    "as long as I stop before midnight and play something by Mendelssohn at the end."
)
ZH_QUESTION = "师父，我们什么时候才能到达西天取得真经？"
ZH_ANSWER = (
    "悟空，取经之路漫长而艰险，九九八十一难缺一不可，这是佛祖早已定下的考验。"
    "你我师徒四人从长安出发，一路上翻过高山，渡过大河，遇过无数妖魔鬼怪，"
    "可哪一次不是靠着同心协力才化险为夷？为师知道你性子急，总想一个筋斗云翻到灵山，"
    "可真经须得一步一步走去求来，心诚则灵。只要我们不畏艰难，不贪富贵，不忘初心，"
    "终有一日能见到佛祖，取回真经，普度众生。"
)
# One word changed and the punctuation varied. Each changed Chinese character touches
# `shingle_size` shingles, so Chinese edits cost more similarity than English ones.
ZH_ANSWER_REWORDED = ZH_ANSWER.replace("漫长", "遥远").replace("，", "、").replace("？", "！")
ZH_OTHER_ANSWER = (
    "八戒，你又偷懒了。化斋本是你的差事，如今天色已晚，山中多有虎狼，"
    "快去前面村庄讨些素斋回来，莫要再贪睡误事，否则悟空回来又要笑你。"
)


def _sample(
    question: str,
    answer: str,
    *,
    role: str = "sherlock-holmes",
    language: str = "en",
    system: str | None = None,
    task: str = "context_instruct/qa",
) -> Sample:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return Sample.build(
        config="context_instruct",
        task=task,
        role_id=role,
        role_name=role.replace("-", " ").title(),
        language=language,
        messages=messages,
        provenance=Provenance(model="m", provider="local", prompt_hash="abc"),
    )


def _frame(samples: list[Sample]) -> pl.DataFrame:
    return pl.DataFrame([s.model_dump(exclude={"fields"}) for s in samples])


def test_dedup_text_takes_user_turns_and_final_answer_normalised() -> None:
    messages = [
        {"role": "system", "content": "You are Sherlock Holmes."},
        {"role": "user", "content": "Who  ARE you?"},
        {"role": "assistant", "content": "A consulting detective."},
        {"role": "user", "content": "Ｗhere do you live…"},
        {"role": "assistant", "content": "At 221B, Baker Street!"},
    ]
    assert dedup_text(messages) == "who are you where do you live at 221b baker street"
    assert dedup_text([{"role": "user", "content": "你好，世界！"}]) == "你好世界"
    assert dedup_text([{"role": "system", "content": "only a system turn"}]) == ""


def test_shingles_are_character_ngrams() -> None:
    assert sorted(shingles("abcab", 3)) == [b"abc", b"bca", b"cab"]
    assert shingles("ab", 5) == [b"ab"]


def test_exact_duplicates_differing_in_case_punctuation_whitespace_are_removed() -> None:
    original = _sample(QUESTION, ANSWER)
    shouting = _sample(QUESTION.upper(), ANSWER.upper(), task="context_instruct/shouted")
    spaced = _sample(
        QUESTION.replace(" ", "   ").replace(",", ""),
        ANSWER.replace(".", "!") + "  ",
        task="context_instruct/spaced",
    )
    # A different system prompt does not make a different sample.
    prompted = _sample(QUESTION, ANSWER, system="Stay in character.")
    distinct = _sample(QUESTION, OTHER_ANSWER)
    samples = [original, shouting, spaced, prompted, distinct]
    assert len({s.id for s in samples}) == 5

    outcome = deduplicate(_frame(samples), DedupConfig(near=False))

    assert outcome.exact_dropped == 3
    assert outcome.near_dropped == 0
    dupes = sorted(s.id for s in samples[:4])
    assert outcome.clusters == [dupes]
    assert sorted(outcome.kept["id"]) == sorted([dupes[0], distinct.id])


def test_near_duplicates_are_removed_and_distinct_answers_survive() -> None:
    base = _sample(QUESTION, ANSWER)
    reworded = _sample(QUESTION, ANSWER_REWORDED)
    reworded_question = _sample(QUESTION.replace("how did you know", "how could you tell"), ANSWER)
    distinct = _sample(QUESTION, OTHER_ANSWER)
    other_question = _sample("Why do you play the violin so late at night?", OTHER_ANSWER)
    frame = _frame([base, reworded, reworded_question, distinct, other_question])

    outcome = deduplicate(frame, DedupConfig())

    cluster_ids = {base.id, reworded.id, reworded_question.id}
    assert outcome.exact_dropped == 0
    assert outcome.near_dropped == 2
    assert outcome.clusters == [sorted(cluster_ids)]
    kept = set(outcome.kept["id"])
    assert min(cluster_ids) in kept
    assert {distinct.id, other_question.id} <= kept
    assert outcome.kept.height == 3


def test_kept_row_is_smallest_id_whatever_the_input_order() -> None:
    variants = [
        ANSWER,
        ANSWER_REWORDED,
        ANSWER.replace("medical", "doctorly"),
        ANSWER.replace("gentleman", "fellow"),
        ANSWER.upper(),
    ]
    samples = [_sample(QUESTION, v) for v in variants] + [
        _sample(QUESTION, OTHER_ANSWER),
        _sample("你是谁？", ZH_ANSWER, language="zh"),
    ]
    smallest = min(s.id for s in samples[:5])
    results = []
    for seed in range(6):
        shuffled = samples[:]
        random.Random(seed).shuffle(shuffled)
        frame = _frame(shuffled)
        outcome = deduplicate(frame, DedupConfig())
        kept = outcome.kept["id"].to_list()
        # Input order is preserved among the kept rows.
        assert kept == [i for i in frame["id"].to_list() if i in set(kept)]
        results.append((sorted(kept), outcome.clusters, outcome.exact_dropped))

    assert all(result == results[0] for result in results)
    kept, clusters, exact = results[0]
    assert smallest in kept
    assert len(kept) == 3
    assert exact == 1
    assert clusters == [[smallest, *sorted(s.id for s in samples[:5] if s.id != smallest)]]


def test_chinese_near_duplicates_are_caught() -> None:
    base = _sample(ZH_QUESTION, ZH_ANSWER, role="tang-sanzang", language="zh")
    reworded = _sample(ZH_QUESTION, ZH_ANSWER_REWORDED, role="tang-sanzang", language="zh")
    distinct = _sample("八戒去哪儿了？", ZH_OTHER_ANSWER, role="tang-sanzang", language="zh")

    outcome = deduplicate(_frame([base, reworded, distinct]), DedupConfig())

    assert outcome.near_dropped == 1
    assert outcome.clusters == [sorted([base.id, reworded.id])]
    assert set(outcome.kept["id"]) == {min(base.id, reworded.id), distinct.id}


def test_disabled_stages_and_empty_text_rows_are_kept() -> None:
    base = _sample(QUESTION, ANSWER)
    reworded = _sample(QUESTION, ANSWER_REWORDED)
    empty_a = _sample("...", "!!!")
    empty_b = _sample("?", "…", task="context_instruct/other")
    frame = _frame([base, reworded, empty_a, empty_b])

    outcome = deduplicate(frame, DedupConfig(exact=True, near=False))
    assert outcome.kept.height == 4
    assert outcome.clusters == []

    outcome = deduplicate(frame, DedupConfig())
    assert outcome.near_dropped == 1
    assert {empty_a.id, empty_b.id} <= set(outcome.kept["id"])


def test_identical_texts_are_caught_by_near_stage_alone() -> None:
    samples = [_sample(QUESTION, ANSWER), _sample(QUESTION.lower(), ANSWER.lower(), task="t2")]
    for threshold in (0.8, 1.0):
        config = DedupConfig(exact=False, threshold=threshold, num_perm=16)
        outcome = deduplicate(_frame(samples), config)
        assert (outcome.exact_dropped, outcome.near_dropped) == (0, 1)


def test_empty_frame_and_missing_columns() -> None:
    empty = _frame([_sample(QUESTION, ANSWER)]).clear()
    outcome = deduplicate(empty, DedupConfig())
    assert outcome.kept.height == 0
    assert outcome.kept.schema == empty.schema
    assert (outcome.exact_dropped, outcome.near_dropped, outcome.clusters) == (0, 0, [])

    with pytest.raises(ValueError, match=r"lacks columns \['messages'\]"):
        deduplicate(pl.DataFrame({"id": ["a"]}), DedupConfig())


def test_config_bounds() -> None:
    with pytest.raises(ValueError, match="threshold"):
        DedupConfig(threshold=0)
    with pytest.raises(ValueError, match="num_perm"):
        DedupConfig(num_perm=8)
    with pytest.raises(ValueError, match="extra"):
        DedupConfig.model_validate({"treshold": 0.9})
