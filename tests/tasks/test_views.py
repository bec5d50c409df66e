"""Seed-compatible views over canonical samples: RoleBench and Ditto fields."""

from __future__ import annotations

import polars as pl

from rolemill.schemas.dataset_configs import DATASET_CONFIGS
from rolemill.schemas.sample import Provenance, Sample
from rolemill.tasks.parquet import to_plain_arrow
from rolemill.tasks.views import ditto_view, rolebench_view

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
