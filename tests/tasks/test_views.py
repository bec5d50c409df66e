"""Seed-compatible views over canonical samples: RoleBench and Ditto fields."""

from __future__ import annotations

import polars as pl

from rolemill.schemas.dataset_configs import DATASET_CONFIGS
from rolemill.schemas.sample import Provenance, Sample
from rolemill.tasks.parquet import to_plain_arrow
from rolemill.tasks.views import (
    _last_reply_view,
    ditto_view,
    preference_view,
    rolebench_view,
    rolemrc_test_view,
)

PROVENANCE = Provenance(model="m", provider="openai", prompt_hash="p")


def dialogue(role: str, questions: list[str], rejections: list[bool]) -> dict:
    messages = [{"role": "system", "content": f"You are {role}."}]
    for question in questions:
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": f"{role} answers {question}"},
        ]
    return Sample.build(
        config="self_alignment",
        task="self_alignment/multi_turn",
        role_id=role.lower(),
        role_name=role,
        language="en",
        messages=messages,
        fields={
            "kinds": ["out_of_knowledge" if r else "own_world" for r in rejections],
            "rejections": rejections,
            "evidence": [f"evidence {i}" for i in range(len(questions))],
        },
        provenance=PROVENANCE,
    ).model_dump()


def test_ditto_view_has_wikiroleeval_fields_and_fits_its_schema() -> None:
    roles = ["Ahab", "Alice", "Holmes", "Nemo", "Scrooge"]
    frame = pl.DataFrame(
        [dialogue(role, ["Who are you?", "What is a laptop?"], [False, True]) for role in roles]
    )
    view = ditto_view(frame)
    table = to_plain_arrow(view, DATASET_CONFIGS["ditto"].arrow_schema)
    assert table.num_rows == 5
    for row in view.iter_rows(named=True):
        assert row["prompts"] == ["Who are you?", "What is a laptop?"]
        assert row["rejection_labels"] == [0, 1]
        assert row["evidence"] == ["evidence 0", "evidence 1"]
        assert row["system"] == f"You are {row['label']}."
        assert row["label"] in row["role_consist_cands"]
        assert len(row["role_consist_cands"]) == 4 == len(set(row["role_consist_cands"]))
        assert set(row["role_consist_cands"]) <= set(roles)
    assert ditto_view(frame).equals(view)  # stable


def test_rolebench_view_keeps_role_question_and_answers() -> None:
    frame = pl.DataFrame([dialogue("Holmes", ["Who are you?"], [False])])
    row = rolebench_view(frame).row(0, named=True)
    assert (row["role"], row["question"], row["generated"]) == (
        "Holmes",
        "Who are you?",
        ["Holmes answers Who are you?"],
    )


def mrc_sample(sample_id: str) -> dict:
    messages = [
        {"role": "system", "content": "You are Ahab. Passage: whales."},
        {"role": "user", "content": "What is the passage about?"},
        {"role": "assistant", "content": "*scowls* Whales, and I will not speak of it."},
        {"role": "user", "content": "Please, tell me."},
        {"role": "assistant", "content": f"*glares* Whales, {sample_id}."},
    ]
    return Sample.build(
        config="mrc",
        task="mrc/attempt/second_answer",
        role_id="ahab",
        role_name="Ahab",
        language="en",
        messages=messages,
        fields={
            "rolemrc_task": "role_unrelated_mrc_refused_with_narration-2ndanswer",
            "rejected": "*glares* I cannot help you.",
        },
        provenance=PROVENANCE,
    ).model_dump()


def test_rolemrc_test_and_preference_views_share_prompt_and_final_reply() -> None:
    frame = pl.DataFrame([mrc_sample("one"), mrc_sample("two")])
    test, preference = rolemrc_test_view(frame), preference_view(frame)
    shared = _last_reply_view(frame, "prompt", "reply")
    assert (
        test["question"].to_list() == preference["prompt"].to_list() == shared["prompt"].to_list()
    )
    assert (
        test["reference"].to_list() == preference["chosen"].to_list() == shared["reply"].to_list()
    )
    first = preference.row(0, named=True)
    assert [t["role"] for t in first["prompt"]] == ["System", "User", "Assistant", "User"]
    assert first["chosen"] == "*glares* Whales, one." and first["rejected"].endswith("help you.")
    assert test.columns == ["id", "task", "question", "reference"]
    assert preference.columns == ["id", "task", "prompt", "chosen", "rejected"]
    for name, view in (("rolemrc_test", test), ("preference", preference)):
        assert to_plain_arrow(view, DATASET_CONFIGS[name].arrow_schema).num_rows == 2
