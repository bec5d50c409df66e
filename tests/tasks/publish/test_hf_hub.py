"""HfHub against a local HTTP server emulating the Hub (tests/tasks/publish/fake_hf_hub.py):
real huggingface_hub requests, no network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from huggingface_hub import constants

from rolemill.tasks.publish.dataset_tree import data_file_path, read_manifest, write_dataset_tree
from rolemill.tasks.publish.hf_hub import HfHub
from rolemill.tasks.publish.hub import HubError
from rolemill.tasks.publish.versioning import Version, next_version
from tests.tasks.publish import sample_table
from tests.tasks.publish.fake_hf_hub import Call, FakeHfHub, FakeRepo

TOKEN = "hf_test_secret_token_0123456789"
REPO = "org/demo"
CONFLICT = (
    r"someone else published to hf://datasets/org/demo since this build read it .*"
    r"rebuild to publish on top of it; nothing was tagged"
)


@pytest.fixture(autouse=True)
def hub_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token in HF_TOKEN, no saved login, no Xet (the fake speaks LFS)."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.delenv("ROLEMILL_HF_TOKEN_SECRET", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-saved-token"))
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)


@pytest.fixture
def fake() -> Iterator[FakeHfHub]:
    with FakeHfHub.running(TOKEN) as server:
        yield server


def make_hub(fake: FakeHfHub, tmp_path: Path, **options: object) -> HfHub:
    return HfHub(REPO, tmp_path / "work", endpoint=fake.url, **options)  # type: ignore[arg-type]


def make_tree(folder: Path, tables: dict[str, pa.Table]) -> Path:
    write_dataset_tree(folder, "demo", tables, card_body="# Demo", license="cc-by-4.0")
    return folder


def release(hub: HfHub, tree: Path) -> tuple[Version, str]:
    """What release.py does: read the latest version, decide the next, publish."""
    version = next_version(hub.latest_manifest(), read_manifest(tree))
    assert version is not None
    return version, hub.publish(tree, version, f"demo {version.tag}").commit


def commit_operations(call: Call) -> dict[str, str]:
    """Path -> operation key ('file', 'lfsFile', 'deletedFile') of one commit request."""
    return {item["value"]["path"]: item["key"] for item in call.body[1:]}


def test_publish_two_versions_one_guarded_commit_and_a_tag_each(
    fake: FakeHfHub, tmp_path: Path
) -> None:
    hub = make_hub(fake, tmp_path, private=True)
    assert hub.versions() == []
    assert hub.latest_manifest() is None

    first = make_tree(
        tmp_path / "t1",
        {"chat": sample_table("chat", range(5)), "lore": sample_table("lore", range(3))},
    )
    version, commit = release(hub, first)
    assert version == Version(0, 1, 0)

    (create,) = fake.calls_to("create-repo")
    assert create.body["type"] == "dataset"
    assert create.body["visibility"] == "private"
    assert fake.repos[REPO].private
    initial = next(iter(fake.repos[REPO].commits))  # the Hub's .gitattributes commit

    (commit_call,) = fake.calls_to("commit")
    assert commit_call.body[0]["value"]["parentCommit"] == initial
    assert commit_operations(commit_call) == {
        "README.md": "file",
        "manifest.json": "file",
        data_file_path("chat"): "lfsFile",
        data_file_path("lore"): "lfsFile",
    }
    # The Parquet went up before the commit, through the LFS batch API.
    kinds = [fake.calls.index(c) for c in fake.calls_to("lfs-upload")]
    assert len(kinds) == 2 and max(kinds) < fake.calls.index(commit_call)
    (tag_call,) = fake.calls_to("tag")
    assert tag_call.body["tag"] == "v0.1.0"
    assert tag_call.path.endswith(f"/tag/{commit}")
    assert fake.repos[REPO].tags == {"v0.1.0": commit}

    published = fake.repos[REPO].files("v0.1.0")
    for path in ("README.md", data_file_path("chat"), data_file_path("lore")):
        assert published[path] == (first / path).read_bytes()
    assert hub.manifest("v0.1.0").version == "0.1.0"

    # A config dropped: a major version, and its Parquet is deleted in the same commit.
    second = make_tree(tmp_path / "t2", {"chat": sample_table("chat", range(8))})
    version, commit = release(hub, second)
    assert version == Version(1, 0, 0)
    last = fake.calls_to("commit")[-1]
    assert last.body[0]["value"]["parentCommit"] == fake.repos[REPO].tags["v0.1.0"]
    assert commit_operations(last) == {
        "README.md": "file",
        "manifest.json": "file",
        data_file_path("chat"): "lfsFile",
        data_file_path("lore"): "deletedFile",
    }
    assert set(fake.repos[REPO].files("v1.0.0")) == {
        ".gitattributes", "README.md", "manifest.json", data_file_path("chat"),
    }  # fmt: skip
    assert len(fake.calls_to("commit")) == len(fake.calls_to("tag")) == 2

    assert hub.versions() == [Version(0, 1, 0), Version(1, 0, 0)]
    listed = hub.list_versions()
    assert [(info.tag, info.rows) for info in listed] == [
        ("v0.1.0", {"chat": 5, "lore": 3}),
        ("v1.0.0", {"chat": 8}),
    ]
    assert next_version(hub.latest_manifest(), read_manifest(second)) is None
    with pytest.raises(HubError, match=r"v1\.0\.0 already exists.*immutable"):
        hub.publish(second, Version(1, 0, 0), "again")


def test_read_file_and_read_texts_fetch_files_of_a_version(fake: FakeHfHub, tmp_path: Path) -> None:
    hub = make_hub(fake, tmp_path)
    tree = make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(3))})
    release(hub, tree)
    dest = tmp_path / "out" / "chat.parquet"
    assert hub.read_file("v0.1.0", data_file_path("chat"), dest) == dest
    assert dest.read_bytes() == (tree / data_file_path("chat")).read_bytes()
    assert hub.read_file("v0.1.0", "dedup/index.parquet", tmp_path / "none") is None
    texts = hub.read_texts("v0.1.0", ["manifest.json", "ids/none.txt"])
    assert list(texts) == ["manifest.json"] and '"chat"' in texts["manifest.json"]
    with pytest.raises(HubError, match=r"v0\.2\.0"):
        hub.read_file("v0.2.0", data_file_path("chat"), dest)


def test_a_public_repo_is_not_made_private(fake: FakeHfHub, tmp_path: Path) -> None:
    hub = make_hub(fake, tmp_path)
    release(hub, make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(2))}))
    (create,) = fake.calls_to("create-repo")
    assert create.body["type"] == "dataset"
    assert create.body.get("visibility") != "private"
    assert not fake.repos[REPO].private


def concurrent_commit(repo: FakeRepo) -> None:
    """Someone else's commit lands on main just before ours."""
    repo.commit({**repo.files("main"), "README.md": b"edited elsewhere\n"})


@pytest.mark.parametrize("status", [409, 412])
def test_a_conflicting_commit_is_a_clear_error_and_no_tag(
    fake: FakeHfHub, tmp_path: Path, status: int
) -> None:
    hub = make_hub(fake, tmp_path)
    release(hub, make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(2))}))
    tags_before = dict(fake.repos[REPO].tags)
    if status == 412:  # the real guard: main moved, parent_commit is stale
        fake.before_commit = concurrent_commit
    else:
        fake.fail["commit"] = 409

    tree = make_tree(tmp_path / "t2", {"chat": sample_table("chat", range(4))})
    with pytest.raises(HubError, match=CONFLICT) as caught:
        release(hub, tree)
    assert TOKEN not in str(caught.value)
    assert len(fake.calls_to("tag")) == 1  # v0.1.0's only
    assert fake.repos[REPO].tags == tags_before
    assert len(fake.calls_to("commit")) == 2
    assert fake.calls_to("commit")[-1].body[0]["value"]["parentCommit"] == tags_before["v0.1.0"]


def test_a_card_the_hub_rejects_is_a_clear_error_and_no_commit(
    fake: FakeHfHub, tmp_path: Path
) -> None:
    fake.fail["validate-yaml"] = 400
    tree = make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(2))})
    with pytest.raises(HubError, match=r"refused to commit v0\.1\.0: Invalid metadata in README"):
        release(make_hub(fake, tmp_path), tree)
    assert fake.calls_to("commit") == fake.calls_to("tag") == []


def test_main_moved_since_the_latest_version_was_read(fake: FakeHfHub, tmp_path: Path) -> None:
    ours = make_hub(fake, tmp_path)
    theirs = HfHub(REPO, tmp_path / "theirs", endpoint=fake.url)
    tree = make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(2))})
    assert ours.latest_manifest() is None  # our build starts from an empty hub...
    release(theirs, tree)  # ...someone else publishes meanwhile

    with pytest.raises(HubError, match=CONFLICT):
        ours.publish(tree, Version(0, 1, 0), "ours")
    assert len(fake.calls_to("commit")) == len(fake.calls_to("tag")) == 1


def test_a_refused_token_says_what_to_set_and_is_never_shown(
    fake: FakeHfHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "hf_wrong_token_abcdefghijkl"
    monkeypatch.setenv("HF_TOKEN", wrong)
    hub = make_hub(fake, tmp_path)
    tree = make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(2))})
    with pytest.raises(
        HubError, match=r"refused to create the dataset repository \(HTTP 401\): set HF_TOKEN"
    ) as caught:
        hub.publish(tree, Version(0, 1, 0), "one")
    assert "publish.token_secret" in str(caught.value)
    assert wrong not in str(caught.value)
    assert fake.calls_to("create-repo")
    assert REPO not in fake.repos


def test_no_token_fails_before_any_request(
    fake: FakeHfHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_TOKEN")
    hub = make_hub(fake, tmp_path)
    tree = make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(2))})
    with pytest.raises(
        HubError, match=r"no token to publish to hf://datasets/org/demo: set HF_TOKEN"
    ):
        hub.publish(tree, Version(0, 1, 0), "one")
    assert fake.calls == []


def test_an_unreachable_hub_is_a_clear_error(tmp_path: Path) -> None:
    hub = HfHub(REPO, tmp_path / "work", endpoint="http://127.0.0.1:9")
    with pytest.raises(
        HubError, match=r"cannot reach the Hugging Face Hub at http://127\.0\.0\.1:9"
    ):
        hub.versions()


def test_a_tag_without_a_manifest_is_not_ours(fake: FakeHfHub, tmp_path: Path) -> None:
    hub = make_hub(fake, tmp_path)
    hub.ensure_remote()
    repo = fake.repos[REPO]
    repo.tags["v0.1.0"] = repo.branches["main"]
    with pytest.raises(HubError, match=r"v0\.1\.0 on hub hf://datasets/org/demo has no manifest"):
        hub.latest_manifest()


def test_hub_list_reads_an_hf_target(
    fake: FakeHfHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from rolemill.cli import app

    release(
        make_hub(fake, tmp_path),
        make_tree(tmp_path / "t1", {"chat": sample_table("chat", range(4))}),
    )
    # What HF_ENDPOINT sets when huggingface_hub is imported.
    monkeypatch.setattr(constants, "ENDPOINT", fake.url)
    template = f"{fake.url}/{{repo_id}}/resolve/{{revision}}/{{filename}}"
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    monkeypatch.setenv("ROLEMILL_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["hub", "list", "hf://datasets/org/demo"])
    assert result.exit_code == 0, result.output
    assert result.output.split()[0] == "v0.1.0" and "chat 4" in result.output
    result = CliRunner().invoke(app, ["hub", "show", "hf://datasets/org/demo", "--verify"])
    assert result.exit_code == 0, result.output
    assert "version   v0.1.0" in result.output and "# Demo" in result.output
    assert result.output.rstrip().endswith("verified  1 files match manifest.json")
    result = CliRunner().invoke(app, ["hub", "list", "hf://models/org/demo"])
    assert result.exit_code != 0 and "publish.target" in result.output
