"""Real git and git-lfs against local bare repositories; no user git config is read."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from rolemill.tasks.publish.dataset_tree import data_file_path, read_manifest
from rolemill.tasks.publish.git_lfs_hub import LFS_POINTER_PREFIX, GitLfsHub, HubError
from rolemill.tasks.publish.verify import verify_folder
from rolemill.tasks.publish.versioning import Version, next_version
from tests.tasks.publish import git, make_tree, sample_table


@pytest.fixture(autouse=True)
def git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private global git config holding only the git-lfs filter; no system config."""
    config = tmp_path / "gitconfig"
    config.touch()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    git("lfs", "install", "--skip-repo")
    assert "filter.lfs.process" in git("config", "--global", "--list")
    return config


def hub_state(bare: Path) -> tuple[str, list[str]]:
    """Every ref and every LFS object of a bare repository."""
    objects = sorted(str(p.relative_to(bare)) for p in (bare / "lfs").rglob("*") if p.is_file())
    return git("for-each-ref", cwd=bare), objects


def test_publish_two_versions_then_clone_and_load_each(tmp_path: Path) -> None:
    bare = tmp_path / "hub" / "demo.git"
    hub = GitLfsHub(bare, tmp_path / "work")
    hub.ensure_remote()
    assert hub.versions() == []

    first = make_tree(
        tmp_path / "t1",
        {"chat": sample_table("chat", range(5)), "lore": sample_table("lore", range(3))},
    )
    version = next_version(hub.latest_manifest(), read_manifest(first))
    assert version == Version(0, 1, 0)
    published = hub.publish(first, version, "demo 0.1.0")
    assert published.tag == "v0.1.0"
    assert published.remote == str(bare)

    # Rows added to one config, the other unchanged: a minor version.
    second = make_tree(
        tmp_path / "t2",
        {"chat": sample_table("chat", range(8)), "lore": sample_table("lore", range(3))},
    )
    version = next_version(hub.latest_manifest(), read_manifest(second))
    assert version == Version(0, 2, 0)
    hub.publish(second, version, "demo 0.2.0")
    assert next_version(hub.latest_manifest(), read_manifest(second)) is None

    assert hub.versions() == [Version(0, 1, 0), Version(0, 2, 0)]
    assert git("rev-parse", "main", cwd=bare) == git("rev-parse", "v0.2.0^{commit}", cwd=bare)
    expected = {"v0.1.0": {"chat": 5, "lore": 3}, "v0.2.0": {"chat": 8, "lore": 3}}
    listed = hub.list_versions()
    assert [(info.tag, info.rows) for info in listed] == list(expected.items())
    assert all(info.date.startswith("20") for info in listed)

    for tag, rows in expected.items():
        manifest = hub.manifest(tag)
        assert manifest.version == tag.removeprefix("v")
        assert manifest.rows() == rows
        clone = tmp_path / f"clone-{tag}"
        git("clone", "--quiet", "--branch", tag, bare, clone)
        assert verify_folder(clone).rows() == rows  # every file's sha256 and rows
        for file in manifest.files():  # whatever splits the tree has
            stored = git("cat-file", "-p", f"{tag}:{file.path}", cwd=bare)
            assert stored.startswith(LFS_POINTER_PREFIX)
            assert f"oid sha256:{file.sha256}" in stored
            digest = file.sha256
            assert (bare / "lfs" / "objects" / digest[:2] / digest[2:4] / digest).is_file()
            assert (clone / file.path).read_bytes()[:4] == b"PAR1"
        for config, count in rows.items():
            loaded = datasets.load_dataset(str(clone), config, cache_dir=str(tmp_path / "hf-cache"))
            assert sum(split.num_rows for split in loaded.values()) == count
            assert count == manifest.configs[config].rows


def test_publishing_an_existing_tag_raises_and_changes_nothing(tmp_path: Path) -> None:
    bare = tmp_path / "demo.git"
    hub = GitLfsHub(str(bare), tmp_path / "work")
    hub.publish(
        make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(2))}),
        Version(0, 1, 0),
        "one",
    )
    before = hub_state(bare)

    other = make_tree(tmp_path / "t2", {"chat": sample_table("chat", range(4))})
    with pytest.raises(HubError, match=r"v0\.1\.0 already exists.*immutable.*v0\.2\.0"):
        hub.publish(other, Version(0, 1, 0), "again")
    with pytest.raises(HubError, match="older than the latest"):
        hub.publish(other, Version(0, 0, 9), "older")
    assert hub_state(bare) == before
    assert hub.manifest("v0.1.0").rows() == {"chat": 2}


def test_a_failed_lfs_upload_moves_no_ref(tmp_path: Path) -> None:
    bare = tmp_path / "demo.git"
    hub = GitLfsHub(bare, tmp_path / "work")
    hub.ensure_remote()
    (bare / "lfs").write_text("not a folder: LFS objects cannot be stored")

    tree = make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(2))})
    with pytest.raises(
        HubError,
        match=r"`git push --quiet --atomic origin .*` failed for hub .*demo\.git.*not a directory.*Nothing was published",
    ):
        hub.publish(tree, Version(0, 1, 0), "one")
    assert git("for-each-ref", cwd=bare) == ""
    assert hub.versions() == []


def test_a_tampered_tree_is_refused_before_any_git_work(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(2))})
    (tree / data_file_path("chat")).write_bytes(b"PAR1 truncated")
    hub = GitLfsHub(tmp_path / "demo.git", tmp_path / "work")
    with pytest.raises(HubError, match="does not match its sha256"):
        hub.publish(tree, Version(0, 1, 0), "one")
    assert not (tmp_path / "demo.git").exists()


def test_missing_remote_has_no_versions_and_is_not_created(tmp_path: Path) -> None:
    hub = GitLfsHub(tmp_path / "nowhere" / "demo.git", tmp_path / "work")
    assert hub.versions() == []
    assert hub.list_versions() == []
    assert hub.latest_manifest() is None
    with pytest.raises(HubError, match=r"no version v0\.1\.0 \(published: none yet\)"):
        hub.manifest("v0.1.0")
    assert not (tmp_path / "nowhere").exists()


def test_non_semver_tags_are_ignored(tmp_path: Path) -> None:
    bare = tmp_path / "demo.git"
    hub = GitLfsHub(bare, tmp_path / "work")
    hub.publish(
        make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(1))}),
        Version(0, 1, 0),
        "one",
    )
    git("tag", "nightly", "main", cwd=bare)
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "tag",
        "-a",
        "release-2",
        "-m",
        "x",
        "main",
        cwd=bare,
    )
    assert hub.versions() == [Version(0, 1, 0)]


def test_publish_ignores_the_users_hooks_path_and_missing_lfs_filter(
    tmp_path: Path, git_config: Path
) -> None:
    """A user git config without the LFS filter and with core.hooksPath set elsewhere."""
    user_hooks = tmp_path / "user-hooks"
    git_config.write_text(f"[core]\n\thooksPath = {user_hooks}\n")
    bare = tmp_path / "demo.git"
    hub = GitLfsHub(bare, tmp_path / "work")
    hub.publish(
        make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(3))}),
        Version(0, 1, 0),
        "one",
    )

    stored = git("cat-file", "-p", f"v0.1.0:{data_file_path('chat')}", cwd=bare)
    assert stored.startswith(LFS_POINTER_PREFIX)
    oid = stored.split("oid sha256:")[1].split()[0]
    assert (bare / "lfs" / "objects" / oid[:2] / oid[2:4] / oid).is_file()
    assert not user_hooks.exists()
    assert "user.name" not in git_config.read_text()
