"""The dataset card: metadata the Hub and `datasets` read, statistics, plots, changelog."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import datasets
import pyarrow as pa
from huggingface_hub import DatasetCard

from rolemill.schemas.dataset_configs import DATASET_CONFIGS
from rolemill.schemas.manifest import Manifest
from rolemill.schemas.sample import Sample, sample_arrow_schema
from rolemill.tasks.publish.card import CardSource, write_card
from rolemill.tasks.publish.changelog import changelog_against, write_id_lists
from rolemill.tasks.publish.dataset_tree import read_manifest, write_dataset_tree
from rolemill.tasks.publish.git_lfs_hub import LFS_POINTER_PREFIX, GitLfsHub
from rolemill.tasks.publish.versioning import next_version
from tests.tasks.publish import sample_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SOURCE = CardSource(
    name="demo",
    description="Role-play chats for tests.",
    license="cc-by-4.0",
    recipe_file="recipe.yaml",
    recipe_hash="r" * 16,
    provider="openai",
    model="scripted-mini",
    target="hf://datasets/acme/demo",
)


def chinese_chats(rows: range) -> pa.Table:
    """`chat` rows in Chinese whose last assistant turn has 4 CJK characters + 1 word."""
    samples = []
    for i in rows:
        sample = Sample.build(
            config="chat",
            task="chat/refusal" if i % 4 == 0 else "chat/answer",
            role_id="sun-wukong",
            role_name="孙悟空",
            language="zh",
            messages=[
                {"role": "assistant", "content": "早"},
                {"role": "user", "content": f"问题 {i}"},
                {"role": "assistant", "content": f"俺老孙来 {i}"},
            ],
            provenance={
                "model": "scripted",
                "provider": "openai",
                "prompt_hash": "p1",
                "prompt_tokens": 100,
                "completion_tokens": 10 + i,
            },
        )
        row = sample.model_dump()
        row.pop("fields")
        samples.append(row)
    return pa.Table.from_pylist(samples, schema=sample_arrow_schema())


def views() -> dict[str, pa.Table]:
    rolebench = pa.Table.from_pylist(
        [
            {"id": f"rb{i}", "role": "Sherlock", "question": "Who?", "generated": ["I am he"]}
            for i in range(3)
        ],
        schema=DATASET_CONFIGS["rolebench"].arrow_schema,
    )
    preference = pa.Table.from_pylist(
        [
            {
                "id": f"pf{i}",
                "task": "refusal",
                "prompt": [{"role": "user", "content": "Tell me."}],
                "chosen": "No, my friend, that I cannot say.",
                "rejected": "Sure.",
            }
            for i in range(2)
        ],
        schema=DATASET_CONFIGS["preference"].arrow_schema,
    )
    ditto = pa.Table.from_pylist(
        [
            {
                "id": "dt0",
                "system": "You are Sherlock.",
                "prompts": ["Who are you?"],
                "messages": [
                    {"role": "user", "content": "Who are you?"},
                    {"role": "assistant", "content": "A consulting detective."},
                ],
                "rejection_labels": [0],
                "evidence": [],
                "role_consist_cands": [],
                "label": "Sherlock Holmes",  # the role, not a task label
                "lang": "en",
            }
        ],
        schema=DATASET_CONFIGS["ditto"].arrow_schema,
    )
    return {"rolebench": rolebench, "preference": preference, "ditto": ditto}


def build_tree(
    folder: Path, tables: dict[str, pa.Table], version: str, hub: GitLfsHub | None = None
) -> Manifest:
    """The release steps: tree, version, id lists, changelog against the hub, card."""
    manifest = write_dataset_tree(folder, "demo", tables, card_body="", license="cc-by-4.0")
    previous = hub.latest_manifest() if hub else None
    manifest.version = version
    write_id_lists(folder, tables)
    changelog = changelog_against(hub, previous, tables) if hub else None
    write_card(folder, manifest, tables, SOURCE, changelog)
    return manifest


def test_card_metadata_configs_tables_and_plots(tmp_path: Path) -> None:
    english = sample_table("chat", range(5))
    tables = {"chat": pa.concat_tables([english, chinese_chats(range(8))]), **views()}
    tree = tmp_path / "tree"
    manifest = build_tree(tree, tables, "0.1.0")

    card = DatasetCard.load(tree / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "cc-by-4.0"
    assert data["language"] == ["en", "zh"]
    assert data["annotations_creators"] == ["machine-generated"]
    assert {"role-playing", "synthetic"} <= set(data["tags"])
    assert data["task_categories"] == ["text-generation", "question-answering"]
    assert data["size_categories"] == ["n<1K"]
    assert [c["config_name"] for c in data["configs"]] == sorted(tables)
    for config in data["configs"]:
        name = config["config_name"]
        assert config["data_files"] == [{"split": "train", "path": f"data/{name}/train-*.parquet"}]
        rows = datasets.load_dataset(
            str(tree), name, split="train", cache_dir=str(tmp_path / "hf-cache")
        )
        assert rows.num_rows == manifest.configs[name].rows == tables[name].num_rows

    text = card.text
    assert "version **v0.1.0**" in text
    assert 'load_dataset("acme/demo", "chat", revision="v0.1.0")' in text
    assert "| chat | 13 | 6 | zh 62%, en 38% |" in text  # 5 English roles + sun-wukong
    assert "| rolebench | 3 | 1 | – |" in text  # a view: rows, its role column, no language
    # Reply lengths: English "Greetings, traveller N." = 3 words; Chinese "俺老孙来 N" = 4 + 1.
    assert "| chat | last assistant turn of `messages` | 4.2 | 5 | 5 |" in text
    assert "| preference | `chosen` | 7.0 | 7 | 7 |" in text
    assert "| rolebench | first item of `generated` | 3.0 | 3 | 3 |" in text
    # the model's own token counts, from provenance (the 8 Chinese rows recorded theirs)
    assert "| chat | 61.5 | 8.3 | 16 |" in text
    assert "| rolebench | 0.0" not in text  # a view has no provenance: no token row
    assert "| ditto | 1 | – | en 100% |" in text and "### ditto" not in text
    assert "| chat/answer | 46.2% |" in text  # 6 of the 13 chat rows
    assert "| chat | chat/refusal | `p1` | 2 |" in text  # prompt hashes by task

    plots = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert plots == ["assets/rows_per_role.png", "assets/label_shares.png", "assets/lengths.png"]
    for plot in plots:
        png = (tree / plot).read_bytes()
        assert png.startswith(PNG_SIGNATURE)
        assert b"Software" not in png and len(png) < 100_000  # small enough to review


def test_changelog_counts_rows_added_and_removed_by_id(tmp_path: Path) -> None:
    hub = GitLfsHub(tmp_path / "hub.git", tmp_path / "scratch")
    first = {"chat": sample_table("chat", range(10)), "refusal": sample_table("refusal", range(4))}
    build_tree(tmp_path / "v1", first, "0.1.0")
    hub.publish(tmp_path / "v1", next_version(None, read_manifest(tmp_path / "v1")), "v0.1.0")

    # chat: rows 0-1 dropped, 10-12 added; refusal unchanged; rolebench new.
    second = {
        "chat": sample_table("chat", range(2, 13)),
        "refusal": sample_table("refusal", range(4)),
        "rolebench": views()["rolebench"],
    }
    manifest = build_tree(tmp_path / "v2", second, "0.2.0", hub)
    text = (tmp_path / "v2" / "README.md").read_text()
    assert "v0.2.0 against v0.1.0 (rows compared by id)" in text
    assert "| chat | 10 | 11 | +3 | -2 |" in text
    assert "| refusal | 4 | 4 | +0 | -0 |" in text
    assert "| rolebench | 0 | 3 | +3 | -0 |" in text
    published = hub.publish(tmp_path / "v2", next_version(hub.latest_manifest(), manifest), "v2")
    assert published.tag == "v0.2.0"

    # Plots go through LFS: the published blob is a pointer, not the PNG.
    bare = str(tmp_path / "hub.git")
    pointer = subprocess.run(
        ["git", "-C", bare, "cat-file", "blob", "v0.2.0:assets/lengths.png"],
        capture_output=True,
        check=True,
    ).stdout
    assert pointer.startswith(LFS_POINTER_PREFIX.encode())

    # A config dropped in v0.3.0 shows every row removed.
    third = {"chat": sample_table("chat", range(2, 13))}
    changelog = changelog_against(hub, hub.latest_manifest(), third)
    assert changelog is not None and changelog.previous_version == "0.2.0"
    removed = {c.config: (c.rows_now, c.added, c.removed) for c in changelog.changes}
    assert removed == {"chat": (11, 0, 0), "refusal": (0, 0, 4), "rolebench": (0, 0, 3)}


def test_a_previous_version_without_id_lists_gives_row_counts_only(tmp_path: Path) -> None:
    hub = GitLfsHub(tmp_path / "hub.git", tmp_path / "scratch")
    old = tmp_path / "old"  # as published before id lists existed: no ids/ folder
    write_dataset_tree(old, "demo", {"chat": sample_table("chat", range(3))}, card_body="", license="mit")  # fmt: skip
    hub.publish(old, next_version(None, read_manifest(old)), "v0.1.0")

    build_tree(tmp_path / "new", {"chat": sample_table("chat", range(5))}, "0.2.0", hub)
    text = (tmp_path / "new" / "README.md").read_text()
    assert "| chat | 3 | 5 | ? | ? |" in text
    assert "v0.1.0 has no id list" in text


def test_an_unchanged_rebuild_makes_an_identical_tree_and_no_new_version(tmp_path: Path) -> None:
    hub = GitLfsHub(tmp_path / "hub.git", tmp_path / "scratch")
    tables = {"chat": pa.concat_tables([sample_table("chat", range(6)), chinese_chats(range(4))])}
    first = build_tree(tmp_path / "a", tables, "0.1.0")
    hub.publish(tmp_path / "a", next_version(None, first), "v0.1.0")

    shuffled = {"chat": tables["chat"].take([9, 3, 0, 7, 1, 8, 2, 6, 5, 4])}
    again = write_dataset_tree(tmp_path / "b", "demo", shuffled, card_body="", license="cc-by-4.0")
    assert next_version(hub.latest_manifest(), again) is None  # nothing to publish

    # Rendered as the same version, every file but the manifest (its time) is identical.
    again.version = "0.1.0"
    write_id_lists(tmp_path / "b", shuffled)
    write_card(tmp_path / "b", again, shuffled, SOURCE, None)
    files_a = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    assert files_a == files_b
    assert Path("assets/lengths.png") in files_a and Path("ids/chat.txt") in files_a
    for relative in files_a:
        if relative.name != "manifest.json":
            a, b = (
                (tmp_path / "a" / relative).read_bytes(),
                (tmp_path / "b" / relative).read_bytes(),
            )
            assert a == b, relative
