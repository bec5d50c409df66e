"""Train/test splits: no role or instruction on both sides, in every config and view,
stable when roles are added, and written as files `datasets` loads as two splits."""

from __future__ import annotations

from pathlib import Path

import datasets
import polars as pl
import pyarrow as pa
import pytest
import yaml

from rolemill.schemas.recipe import SplitsConfig
from rolemill.schemas.sample import Provenance, Sample
from rolemill.tasks.publish.dataset_tree import write_dataset_tree
from rolemill.tasks.publish.splits import held_out_ids, unit_in_test, unit_key
from rolemill.tasks.publish.versioning import content_hash
from rolemill.tasks.views import VIEWS
from tests.tasks.publish import sample_table

PROVENANCE = Provenance(model="m", provider="openai", prompt_hash="p")
QUESTIONS = [f"What do you think of topic {i}?" for i in range(12)]
CANONICAL = ("context_instruct", "style_transfer", "self_alignment", "mrc")


def sample(config: str, role: int, question: str, fields: dict) -> dict:
    messages = [
        {"role": "system", "content": f"You are Role {role}."},
        {"role": "user", "content": question},
        {"role": "assistant", "content": f"Role {role} on {question}"},
    ]
    return Sample.build(
        config=config,
        task=config,
        role_id=f"role-{role}",
        role_name=f"Role {role}",
        language="en",
        messages=messages,
        fields=fields,
        provenance=PROVENANCE,
    ).model_dump()


def build_frames(roles: range) -> dict[str, pl.DataFrame]:
    """Every canonical config, profiles and the views, for `roles`; each role asks
    questions of a shared pool (so instructions recur across roles), with a different
    case and punctuation in `self_alignment` (the key is normalised)."""
    rows: dict[str, list[dict]] = {config: [] for config in CANONICAL}
    for role in roles:
        for i in range(3):
            question = QUESTIONS[(role + i) % len(QUESTIONS)]
            rows["context_instruct"].append(
                sample("context_instruct", role, question, {"segment": "scene", "confidence": 9})
            )
            rows["style_transfer"].append(
                sample("style_transfer", role, question, {"instruction_id": f"q{i}"})
            )
            shouted = question.upper().replace("?", "!!")
            rows["self_alignment"].append(
                sample(
                    "self_alignment",
                    role,
                    shouted,
                    {"kinds": ["general"], "rejections": [False], "evidence": [""]},
                )
            )
            mrc = {
                "passage_id": f"passage-{i}",
                "question": question,
                "rolemrc_task": "answer",
                "rejected": "no",
            }
            rows["mrc"].append(sample("mrc", role, question, mrc))
    frames = {config: pl.DataFrame(config_rows) for config, config_rows in rows.items()}
    frames["profiles"] = pl.DataFrame(
        {"id": [f"profile-{r}" for r in roles], "role_id": [f"role-{r}" for r in roles]}
    )
    for view in VIEWS:
        built = view.build(frames)
        if built is not None:
            frames[view.name] = built
    return frames


def units(frames: dict[str, pl.DataFrame], by: str) -> dict[str, str]:
    """Each canonical row id -> its unit key, found independently of the view code."""
    keys: dict[str, str] = {}
    for config in CANONICAL:
        frame = frames[config].with_columns(unit_key(config, by).alias("key"))  # type: ignore[arg-type]
        keys |= dict(zip(frame["id"], frame["key"], strict=True))
    return keys


def sides(frame: pl.DataFrame, held: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
    test = frame["id"].is_in(held.implode())
    return frame.filter(~test), frame.filter(test)


@pytest.mark.parametrize("by", ["role", "instruction"])
def test_no_unit_is_on_both_sides_of_any_config_or_view(by: str) -> None:
    frames = build_frames(range(40))
    settings = SplitsConfig(test_share=0.3, by=by)  # type: ignore[arg-type]
    held = held_out_ids(frames, settings)
    keys = units(frames, by)
    for config, frame in frames.items():
        train, test = sides(frame, held[config])
        if config == "profiles" and by == "instruction":
            assert test.is_empty()  # profiles describe every role: all in train
            continue
        assert train.height and test.height, config  # both sides hold rows
        if config == "profiles":
            train_units, test_units = set(train["role_id"]), set(test["role_id"])
        else:
            train_units = {keys[i] for i in train["id"]}
            test_units = {keys[i] for i in test["id"]}
        assert not train_units & test_units, config
    # The views' own columns tell the same: no role (or question) on both sides.
    column = {"role": "role", "instruction": "question"}[by]
    train, test = sides(frames["rolebench"], held["rolebench"])
    assert not set(train[column]) & set(test[column])
    if by == "role":
        test_roles = {
            config: set(sides(frames[config], held[config])[1]["role_id"])
            for config in (*CANONICAL, "profiles")
        }
        assert (
            len({frozenset(roles) for roles in test_roles.values()}) == 1
        )  # same roles everywhere
        train, test = sides(frames["ditto"], held["ditto"])
        assert not set(train["label"]) & set(test["label"])


@pytest.mark.parametrize("by", ["role", "instruction"])
def test_adding_roles_moves_no_row_between_splits(by: str) -> None:
    settings = SplitsConfig(test_share=0.3, by=by)  # type: ignore[arg-type]
    before = held_out_ids(build_frames(range(20)), settings)
    grown = build_frames(range(35))
    after = held_out_ids(grown, settings)
    old = build_frames(range(20))
    for config, frame in old.items():
        old_ids = frame["id"]
        kept_in_test = after[config].filter(after[config].is_in(old_ids.implode()))
        assert sorted(kept_in_test) == sorted(before[config]), config


def test_share_is_the_held_out_fraction_of_units_and_zero_holds_none() -> None:
    settings = SplitsConfig(test_share=0.2)
    held = [unit_in_test(f"role-{i}", settings) for i in range(2000)]
    assert 0.17 < sum(held) / len(held) < 0.23
    salted = SplitsConfig(test_share=0.2, salt="another")
    assert held != [unit_in_test(f"role-{i}", salted) for i in range(2000)]
    frames = build_frames(range(10))
    assert all(ids.is_empty() for ids in held_out_ids(frames, SplitsConfig()).values())


def test_instruction_split_names_a_config_it_cannot_key() -> None:
    frames = {"chat": pl.DataFrame({"id": ["a"], "role_id": ["r"]})}
    with pytest.raises(ValueError, match="config 'chat' has no instruction key"):
        held_out_ids(frames, SplitsConfig(test_share=0.5, by="instruction"))


def test_tree_has_both_splits_loaded_with_the_manifest_rows(tmp_path: Path) -> None:
    tables = {"chat": sample_table("chat", range(30)), "lore": sample_table("lore", range(4))}
    frames = {name: pl.from_arrow(table) for name, table in tables.items()}
    held = {
        name: ids.to_arrow()
        for name, ids in held_out_ids(frames, SplitsConfig(test_share=0.5)).items()  # type: ignore[arg-type]
    }
    held["lore"] = tables["lore"].column("id").combine_chunks()  # every lore row held out
    tree = tmp_path / "tree"
    manifest = write_dataset_tree(tree, "demo", tables, card_body="", license="mit", held_out=held)

    chat = manifest.configs["chat"]
    assert chat.splits["train"] + chat.splits["test"] == chat.rows == 30
    assert 0 < chat.splits["test"] < 30
    assert [file.path for file in chat.files] == [
        "data/chat/train-00000-of-00001.parquet",
        "data/chat/test-00000-of-00001.parquet",
    ]
    assert manifest.configs["lore"].splits == {"test": 4}  # no empty train file
    loaded = datasets.load_dataset(str(tree), "chat", cache_dir=str(tmp_path / "hf-cache"))
    assert {split: rows.num_rows for split, rows in loaded.items()} == chat.splits
    assert not set(loaded["train"]["role_id"]) & set(loaded["test"]["role_id"])

    front_matter = yaml.safe_load((tree / "README.md").read_text().split("---\n")[1])
    assert front_matter["configs"][0]["data_files"] == [
        {"split": "train", "path": "data/chat/train-*.parquet"},
        {"split": "test", "path": "data/chat/test-*.parquet"},
    ]
    # Moving rows to test is a new content; holding out nothing hashes as before splits.
    assert manifest.content_hash != content_hash(tables)
    empty = {name: pa.array([], pa.string()) for name in tables}
    assert content_hash(tables, empty) == content_hash(tables)
