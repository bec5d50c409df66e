"""`rolemill hub list|show|diff|verify` and `verify_folder`, on a real local git-LFS hub."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from rolemill.cli import app
from rolemill.tasks.publish.changelog import write_id_lists
from rolemill.tasks.publish.dataset_tree import (
    data_file_path,
    file_sha256,
    read_manifest,
    write_manifest,
)
from rolemill.tasks.publish.git_lfs_hub import GitLfsHub
from rolemill.tasks.publish.hub import HubError, check_new_version
from rolemill.tasks.publish.verify import ManifestMismatch, verify_folder
from rolemill.tasks.publish.versioning import Version
from tests.tasks.publish import git, make_tree, sample_table
from tests.tasks.publish.test_git_lfs_hub import git_config  # noqa: F401 (autouse fixture)

# v0.1.0: chat rows 0-4, lore 0-2; v0.2.0: chat rows 0-7 (+3), lore 1-2 (-1).
VERSIONS = {
    "v0.1.0": {"chat": range(5), "lore": range(3)},
    "v0.2.0": {"chat": range(8), "lore": range(1, 3)},
}


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bare hub holding the two VERSIONS, each with its id lists."""
    monkeypatch.setenv("ROLEMILL_DATA_DIR", str(tmp_path / "data"))
    bare = tmp_path / "demo.git"
    publisher = GitLfsHub(bare, tmp_path / "work")
    for tag, configs in VERSIONS.items():
        tables = {config: sample_table(config, rows) for config, rows in configs.items()}
        tree = make_tree(tmp_path / tag, tables)
        write_id_lists(tree, tables)
        publisher.publish(tree, Version.parse(tag), f"demo {tag}")
    return bare


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.output


def clone(bare: Path, tag: str, dest: Path) -> Path:
    git("clone", "--quiet", "--branch", tag, bare, dest)
    return dest


def test_show_prints_the_latest_version_or_the_one_asked_for(hub: Path) -> None:
    code, out = run("hub", "show", hub)
    assert code == 0, out
    assert "version   v0.2.0  20" in out
    assert "dataset   demo" in out
    lines = out.splitlines()
    assert any(line.split()[:4] == ["chat", "8", "(train", "8)"] for line in lines)
    assert any(line.split()[:4] == ["lore", "2", "(train", "2)"] for line in lines)
    chat_file = next(line for line in lines if data_file_path("chat") in line)
    assert chat_file.split()[-2:] == ["8", "rows"] and "KiB" in chat_file
    assert out.rstrip().endswith("# Demo")  # the card's first line after its YAML

    code, out = run("hub", "show", f"git+file://{hub}", "0.1.0")
    assert code == 0, out
    assert "version   v0.1.0" in out
    assert any(line.split()[:2] == ["chat", "5"] for line in out.splitlines())


def test_show_verify_downloads_and_checks_every_file(hub: Path) -> None:
    code, out = run("hub", "show", hub, "v0.1.0", "--verify")
    assert code == 0, out
    assert out.rstrip().endswith("verified  2 files match manifest.json")


def test_diff_counts_rows_added_and_removed_by_id(hub: Path) -> None:
    code, out = run("hub", "diff", hub, "v0.1.0", "v0.2.0")
    assert code == 0, out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert rows == {"chat": ["5", "8", "+3", "-0"], "lore": ["3", "2", "+0", "-1"]}


def test_unknown_versions_and_targets_fail_with_one_clear_line(hub: Path, tmp_path: Path) -> None:
    code, out = run("hub", "show", hub, "v9.9.9")
    assert code == 1
    assert "no version v9.9.9 (published: v0.1.0, v0.2.0)" in out
    code, out = run("hub", "diff", hub, "v0.1.0", "latest")
    assert code == 1 and "not a dataset version: 'latest'" in out
    code, out = run("hub", "show", "hf://models/org/demo")
    assert code == 1 and "is not a Hugging Face dataset" in out
    code, out = run("hub", "show", tmp_path / "empty.git")
    assert code == 1 and "no versions published at" in out
    code, out = run("hub", "list", f"git+file://{hub}")
    assert code == 0 and out.splitlines()[1].startswith("v0.2.0")


def test_verify_names_a_corrupted_parquet_file_in_a_clone(hub: Path, tmp_path: Path) -> None:
    folder = clone(hub, "v0.2.0", tmp_path / "clone")
    code, out = run("hub", "verify", folder)
    assert code == 0, out
    assert "demo v0.2.0, 2 files match" in out

    damaged = folder / data_file_path("lore")
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    code, out = run("hub", "verify", folder)
    assert code == 1
    assert f"{damaged} does not match its sha256 in manifest.json" in out.replace("\n", "")


def test_verify_checks_row_counts_and_spots_lfs_pointers(hub: Path, tmp_path: Path) -> None:
    folder = clone(hub, "v0.2.0", tmp_path / "clone")
    chat = folder / data_file_path("chat")
    # A valid Parquet file with other rows, and a manifest that agrees on its sha256.
    pq.write_table(pq.read_table(chat).slice(0, 3), chat)
    manifest_path = folder / "manifest.json"
    manifest = read_manifest(folder)
    manifest.configs["chat"].files[0].sha256 = file_sha256(chat)
    write_manifest(folder, manifest)
    with pytest.raises(ManifestMismatch, match=rf"{chat} holds 3 rows but manifest.json says 8"):
        verify_folder(folder)

    pointers = tmp_path / "pointers"
    with pytest.MonkeyPatch.context() as patch:  # a clone made without git-lfs's smudge
        patch.setenv("GIT_LFS_SKIP_SMUDGE", "1")
        clone(hub, "v0.1.0", pointers)
    with pytest.raises(ManifestMismatch, match=r"is a git-LFS pointer.*git lfs pull"):
        verify_folder(pointers)
    manifest_path.unlink()
    with pytest.raises(ManifestMismatch, match=r"has no manifest\.json"):
        verify_folder(folder)


def test_a_version_that_exists_or_is_not_above_the_latest_is_refused() -> None:
    published = [Version(0, 1, 0), Version(0, 2, 0)]
    with pytest.raises(HubError, match=r"v0\.2\.0 already exists.*latest: v0\.2\.0.*v0\.3\.0"):
        check_new_version(Version(0, 2, 0), published, "demo.git")
    with pytest.raises(HubError, match=r"v0\.1\.5 is older than the latest .*\(v0\.2\.0\)"):
        check_new_version(Version(0, 1, 5), published, "demo.git")
    check_new_version(Version(1, 0, 0), published, "demo.git")
