from __future__ import annotations

from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml

from rolemill.tasks.publish.dataset_tree import read_manifest, write_dataset_tree
from rolemill.tasks.publish.versioning import content_hash
from tests.tasks.publish import sample_table


def test_tree_is_read_by_datasets_per_config(tmp_path: Path) -> None:
    tables = {"chat": sample_table("chat", range(7)), "refusal": sample_table("refusal", range(3))}
    tree = tmp_path / "tree"
    manifest = write_dataset_tree(
        tree, "demo", tables, card_body="# Demo\n\nRole-play chats.", license="cc-by-4.0"
    )

    assert read_manifest(tree) == manifest
    assert manifest.version == ""
    assert manifest.content_hash == content_hash(tables)
    assert manifest.rows() == {"chat": 7, "refusal": 3}
    assert manifest.configs["chat"].columns == tables["chat"].column_names
    for name, config in manifest.configs.items():
        (file,) = config.files
        assert file.path == f"data/{name}/train-00000-of-00001.parquet"
        assert file.bytes == (tree / file.path).stat().st_size
        ids = pq.read_table(tree / file.path).column("id").to_pylist()
        assert ids == sorted(ids)

        loaded = datasets.load_dataset(
            str(tree), name, split="train", cache_dir=str(tmp_path / "hf-cache")
        )
        assert loaded.num_rows == config.rows

    card = (tree / "README.md").read_text()
    front_matter = yaml.safe_load(card.split("---\n")[1])
    assert front_matter["license"] == "cc-by-4.0"
    assert front_matter["tags"] == ["role-playing", "synthetic"]
    assert front_matter["annotations_creators"] == ["machine-generated"]
    assert front_matter["configs"][0] == {
        "config_name": "chat",
        "data_files": [{"split": "train", "path": "data/chat/train-*.parquet"}],
    }
    assert card.rstrip().endswith("Role-play chats.")


def test_same_rows_in_any_order_write_the_same_bytes(tmp_path: Path) -> None:
    table = sample_table("chat", range(5))
    first = write_dataset_tree(tmp_path / "1", "demo", {"chat": table}, card_body="", license="mit")
    shuffled = table.take([4, 2, 0, 3, 1])
    second = write_dataset_tree(
        tmp_path / "2", "demo", {"chat": shuffled}, card_body="", license="mit"
    )
    assert first.configs == second.configs
    assert first.content_hash == second.content_hash


def test_refuses_a_non_empty_folder_and_bad_config_names(tmp_path: Path) -> None:
    (tmp_path / "stale.txt").write_text("old")
    table = sample_table("chat", range(1))
    with pytest.raises(ValueError, match="not empty"):
        write_dataset_tree(tmp_path, "demo", {"chat": table}, card_body="", license="mit")
    with pytest.raises(ValueError, match="cannot be a folder name"):
        write_dataset_tree(tmp_path / "t", "demo", {"../x": table}, card_body="", license="mit")
