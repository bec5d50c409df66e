"""A build with `publish.splits` against the scripted LLM server: every config and view of
the published version loads as train and test with the manifest's rows, no role (or
instruction) is on both sides, and changing the split rule publishes a new version
without a single LLM request."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import polars as pl

from rolemill.schemas.recipe import SplitsConfig
from rolemill.tasks.dedup import normalised_text
from rolemill.tasks.publish.splits import unit_in_test
from rolemill.testing.scripted_server import ScriptedLLMServer
from tests.flows.conftest import SEED_CHARACTERS, clone_version, make_project

SOURCES = {"rolebench": ("context_instruct", "style_transfer"), "ditto": ("self_alignment",)}
CHATS = ("context_instruct", "style_transfer", "self_alignment")


def load_splits(checkout: Path, config: str) -> dict[str, pl.DataFrame]:
    loaded = datasets.load_dataset(str(checkout), config, cache_dir=str(checkout / ".hf-cache"))
    return {split: rows.to_polars() for split, rows in loaded.items()}


def first_questions(frame: pl.DataFrame) -> set[str]:
    role, content = pl.element().struct.field("role"), pl.element().struct.field("content")
    first = pl.col("messages").list.eval(content.filter(role == "user")).list.first()
    return set(frame.select(normalised_text(first))[:, 0])


def test_split_by_role_then_by_instruction(
    tmp_path: Path, scripted: ScriptedLLMServer, prefect_api: str
) -> None:
    half = SplitsConfig(test_share=0.5)
    roles = sorted(path.stem for path in SEED_CHARACTERS.glob("*.yaml"))
    held = next(role for role in roles if unit_in_test(role, half))
    kept = next(role for role in roles if not unit_in_test(role, half))
    project = make_project(tmp_path, scripted, prefect_api, [held, kept])
    by_role = project.build("--set", "publish.splits.test_share=0.5")
    assert by_role.returncode == 0, by_role.stderr
    assert "published v0.1.0" in by_role.stdout

    checkout = clone_version(project.hub, "v0.1.0", tmp_path / "v0.1.0")
    manifest = json.loads((checkout / "manifest.json").read_text())
    loaded = {config: load_splits(checkout, config) for config in manifest["configs"]}
    for config, splits in loaded.items():
        counts = {split: frame.height for split, frame in splits.items()}
        assert counts == manifest["configs"][config]["splits"], config
        assert sum(counts.values()) == manifest["configs"][config]["rows"]
    for config in ("profiles", *CHATS):
        assert set(loaded[config]["test"]["role_id"]) == {held}, config
        assert set(loaded[config]["train"]["role_id"]) == {kept}, config
    card = (checkout / "README.md").read_text()
    assert "## Splits" in card and "`test` holds 50% of roles" in card
    profiles = manifest["configs"]["profiles"]["splits"]
    assert f"| profiles | {profiles['train']} | {profiles['test']} |" in card
    held_name = loaded["profiles"]["test"]["role_name"][0]
    assert set(loaded["rolebench"]["test"]["role"]) == {held_name}
    assert held_name not in set(loaded["rolebench"]["train"]["role"])
    assert set(loaded["ditto"]["test"]["label"]) == {held_name}
    for view, sources in SOURCES.items():  # a view row sits on its source row's side
        for split in ("train", "test"):
            source_ids = {i for s in sources for i in loaded[s][split]["id"]}
            assert set(loaded[view][split]["id"]) <= source_ids, (view, split)

    by_instruction = project.build(
        "--set", "publish.splits.test_share=0.5", "--set", "publish.splits.by=instruction"
    )
    assert by_instruction.returncode == 0, by_instruction.stderr
    assert "LLM: 0 requests sent" in by_instruction.stdout
    assert "published v0.2.0" in by_instruction.stdout  # rows moved between splits
    checkout = clone_version(project.hub, "v0.2.0", tmp_path / "v0.2.0")
    manifest = json.loads((checkout / "manifest.json").read_text())
    assert manifest["configs"]["profiles"]["splits"] == {"train": 2}
    held_out = 0
    for config in (*CHATS, "rolebench"):
        splits = load_splits(checkout, config)
        assert {s: f.height for s, f in splits.items()} == manifest["configs"][config]["splits"]
        if "test" not in splits:
            continue
        held_out += splits["test"].height
        if config == "rolebench":
            train, test = (set(map(str.lower, splits[s]["question"])) for s in ("train", "test"))
        else:
            train, test = (first_questions(splits[s]) for s in ("train", "test"))
        assert not train & test, config
    assert held_out  # some question was held out
