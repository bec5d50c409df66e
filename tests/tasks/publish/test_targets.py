"""Which hub a `publish.target` names, and GitLfsHub reached through a `git+file://` URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from rolemill.paths import local_hub_remote
from rolemill.tasks.publish.dataset_tree import read_manifest
from rolemill.tasks.publish.git_lfs_hub import LFS_POINTER_PREFIX, GitLfsHub
from rolemill.tasks.publish.hf_hub import HfHub
from rolemill.tasks.publish.hub import HubError
from rolemill.tasks.publish.targets import hub_for
from rolemill.tasks.publish.versioning import Version, next_version
from tests.tasks.publish import sample_table
from tests.tasks.publish.test_git_lfs_hub import git, git_config, make_tree

__all__ = ["git_config"]  # the autouse fixture: a private git config with git-lfs


def test_hf_dataset_target(tmp_path: Path) -> None:
    hub = hub_for("hf://datasets/my-org/role-play", tmp_path, private=True, token_secret="hf-tok")
    assert isinstance(hub, HfHub)
    assert (hub.repo_id, hub.remote) == ("my-org/role-play", "hf://datasets/my-org/role-play")
    assert hub.private and hub.token_secret == "hf-tok"


@pytest.mark.parametrize(
    ("target", "remote"),
    [
        ("git+file:///srv/hub/demo.git", "file:///srv/hub/demo.git"),
        ("git+https://git.example.org/team/demo.git", "https://git.example.org/team/demo.git"),
        ("git+ssh://git@example.org/team/demo.git", "ssh://git@example.org/team/demo.git"),
        ("https://git.example.org/team/demo.git", "https://git.example.org/team/demo.git"),
        ("git@example.org:team/demo.git", "git@example.org:team/demo.git"),
        ("/srv/hub/demo.git", "/srv/hub/demo.git"),
    ],
)
def test_git_targets(tmp_path: Path, target: str, remote: str) -> None:
    hub = hub_for(target, tmp_path)
    assert isinstance(hub, GitLfsHub)
    assert hub.remote == remote


def test_a_dataset_name_is_the_local_hub(tmp_path: Path) -> None:
    hub = hub_for("demo", tmp_path)
    assert isinstance(hub, GitLfsHub)
    assert hub.local_path == local_hub_remote("demo").resolve()


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("hf://models/my-org/role-play", "is not a Hugging Face dataset"),
        ("hf://datasets/role-play", "is not a Hugging Face dataset"),
        ("hf://datasets/my-org/role-play/extra", "is not a Hugging Face dataset"),
        ("s3://bucket/demo", "cannot publish to a s3:// address"),
        ("git+ftp://example.org/demo.git", "cannot publish to a git\\+ftp:// address"),
        ("git+file://", "names no repository"),
        ("git+file://hub/demo.git", "takes an absolute path"),
        ("  ", "is empty"),
    ],
)
def test_bad_targets_name_the_field_and_the_accepted_forms(
    tmp_path: Path, target: str, problem: str
) -> None:
    with pytest.raises(HubError, match=rf"publish\.target .*{problem}") as caught:
        hub_for(target, tmp_path)
    if "Hugging Face" not in problem:
        assert "hf://datasets/<org>/<name>, git+file:///" in str(caught.value)


def test_git_file_target_publishes_as_a_path_does(tmp_path: Path) -> None:
    bare = tmp_path / "hub" / "demo.git"
    hub = hub_for(f"git+file://{bare}", tmp_path / "work")
    hub.ensure_remote()
    assert (bare / "HEAD").is_file()

    tree = make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(3))})
    version = next_version(hub.latest_manifest(), read_manifest(tree))
    assert version == Version(0, 1, 0)
    published = hub.publish(tree, version, "demo 0.1.0")
    assert published.remote == f"file://{bare}"
    assert published.tag == "v0.1.0"
    assert git("rev-parse", "v0.1.0^{commit}", cwd=bare).strip() == published.commit
    stored = git("cat-file", "-p", "v0.1.0:data/chat/train-00000-of-00001.parquet", cwd=bare)
    assert stored.startswith(LFS_POINTER_PREFIX)
    assert list((bare / "lfs" / "objects").rglob("*"))

    # The same hub read through its plain path sees the same version.
    assert GitLfsHub(bare, tmp_path / "work2").manifest("v0.1.0").rows() == {"chat": 3}
