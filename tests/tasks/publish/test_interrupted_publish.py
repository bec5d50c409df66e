"""A publish killed part way through its push leaves the hub's versions as they were, and
running it again completes. Real git, git-lfs and process kills; no mocks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

from rolemill.tasks.publish.git_lfs_hub import GitLfsHub
from rolemill.tasks.publish.verify import verify_folder
from rolemill.tasks.publish.versioning import Version
from tests.tasks.publish import git, make_tree, sample_table
from tests.tasks.publish.test_git_lfs_hub import git_config  # noqa: F401 (autouse fixture)

ROOT = Path(__file__).resolve().parents[3]
PUBLISH = """
import sys
from pathlib import Path
from rolemill.tasks.publish.git_lfs_hub import GitLfsHub
from rolemill.tasks.publish.versioning import Version
remote, workdir, tree, version = sys.argv[1:]
GitLfsHub(Path(remote), Path(workdir)).publish(Path(tree), Version.parse(version), version)
"""


def lfs_objects(bare: Path) -> set[str]:
    return {p.name for p in (bare / "lfs" / "objects").rglob("*") if p.is_file()}


def stall_in_pre_receive(bare: Path, marker: Path, bin_dir: Path) -> None:
    """The remote takes the pushed objects, then stalls before moving any ref."""
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nsleep 120\n")
    hook.chmod(0o755)


def stall_in_lfs_upload(bare: Path, marker: Path, bin_dir: Path) -> None:
    """The push stalls in its pre-push hook once git-lfs has uploaded the Parquet, before
    git sends any object: a `git-lfs` on PATH runs the real upload, then waits."""
    real = shutil.which("git-lfs")
    assert real is not None
    bin_dir.mkdir()
    wrapper = bin_dir / "git-lfs"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "pre-push" ]; then\n'
        f"  '{real}' \"$@\" || exit $?\n"
        f"  touch '{marker}'\n"
        "  sleep 120\n"
        "fi\n"
        f"exec '{real}' \"$@\"\n"
    )
    wrapper.chmod(0o755)


@pytest.mark.parametrize("stall", [stall_in_pre_receive, stall_in_lfs_upload])
def test_a_publish_killed_mid_push_leaves_the_hub_whole_and_a_rerun_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stall: object
) -> None:
    bare = tmp_path / "demo.git"
    work = tmp_path / "work"
    hub = GitLfsHub(bare, work)
    first = make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(4))})
    hub.publish(first, Version(0, 1, 0), "v0.1.0")
    refs_before = git("for-each-ref", cwd=bare)
    objects_before = lfs_objects(bare)
    second = make_tree(
        tmp_path / "t2",
        {"chat": sample_table("chat", range(9)), "lore": sample_table("lore", range(3))},
    )

    marker = tmp_path / "stalled"
    bin_dir = tmp_path / "bin"
    stall(bare, marker, bin_dir)  # type: ignore[operator]
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    publisher = subprocess.Popen(
        [sys.executable, "-c", PUBLISH, str(bare), str(work), str(second), "0.2.0"],
        cwd=ROOT,
        env=env,
        start_new_session=True,  # its own process group: git, git-lfs and the hook
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert publisher.poll() is None, publisher.communicate()
        assert time.monotonic() < deadline, "the push never reached the stall"
        time.sleep(0.05)
    os.killpg(publisher.pid, signal.SIGKILL)
    publisher.communicate()
    assert publisher.returncode == -signal.SIGKILL

    # Killed mid-push: its scratch clone is left behind, the new version's Parquet was
    # uploaded (in part or whole) to LFS storage, yet no ref moved.
    assert list(work.glob("publish-v0.2.0-*/repo/.git"))
    assert lfs_objects(bare) > objects_before
    assert git("for-each-ref", cwd=bare) == refs_before
    assert hub.versions() == [Version(0, 1, 0)]

    # The previous version is whole: a clone at its tag verifies and loads.
    old = tmp_path / "clone-v0.1.0"
    git("clone", "--quiet", "--branch", "v0.1.0", bare, old)
    assert verify_folder(old).rows() == {"chat": 4}
    assert datasets.load_dataset(str(old), "chat", split="train").num_rows == 4

    # The network is back: the same publish again completes and cleans the stale scratch.
    (bare / "hooks" / "pre-receive").unlink(missing_ok=True)
    shutil.rmtree(bin_dir, ignore_errors=True)
    published = hub.publish(second, Version(0, 2, 0), "v0.2.0")
    assert published.tag == "v0.2.0"
    assert hub.versions() == [Version(0, 1, 0), Version(0, 2, 0)]
    assert list(work.glob("publish-*")) == []
    new = tmp_path / "clone-v0.2.0"
    git("clone", "--quiet", "--branch", "v0.2.0", bare, new)
    assert verify_folder(new).rows() == {"chat": 9, "lore": 3}


def test_a_tag_cache_left_locked_by_a_killed_read_is_rebuilt(tmp_path: Path) -> None:
    bare = tmp_path / "demo.git"
    hub = GitLfsHub(bare, tmp_path / "work")
    hub.publish(
        make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(2))}),
        Version(0, 1, 0),
        "v0.1.0",
    )
    assert hub.manifest("v0.1.0").rows() == {"chat": 2}
    (cache,) = (tmp_path / "work" / "tag-cache").iterdir()
    hub.publish(
        make_tree(tmp_path / "t2", {"chat": sample_table("chat", range(3))}),
        Version(0, 2, 0),
        "v0.2.0",
    )
    (cache / "refs" / "tags" / "v0.2.0.lock").write_text("")  # as a killed fetch leaves it
    assert [info.rows for info in hub.list_versions()] == [{"chat": 2}, {"chat": 3}]
