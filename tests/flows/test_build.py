"""`rolemill build` end to end against the scripted LLM server and a real Prefect server:
publishing, rebuilds that pay only for what changed, resuming after SIGKILL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard

from rolemill.testing.scripted_server import ScriptedLLMServer
from tests.flows.conftest import REQUESTS_PER_ROLE, Project, clone_version, make_project

CONFIG_FIELDS = {
    "profiles": {"role_id", "role_name", "description", "catchphrases", "example_lines"},
    "context_instruct": {"id", "config", "task", "role_id", "language", "messages", "fields"},
    "style_transfer": {"id", "config", "task", "role_id", "language", "messages", "fields"},
    "self_alignment": {"id", "config", "task", "role_id", "language", "messages", "fields"},
    "rolebench": {"role", "question", "generated"},
    "ditto": {
        "system",
        "prompts",
        "messages",
        "rejection_labels",
        "evidence",
        "role_consist_cands",
    },
}


def clone(project: Project, tag: str, dest: Path) -> Path:
    return clone_version(project.hub, tag, dest)


def tags(project: Project) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(project.hub), "tag", "--list"], capture_output=True, text=True
    )
    return out.stdout.split()


def ids(checkout: Path, config: str) -> set[str]:
    return set(pq.read_table(checkout / "data" / config).column("id").to_pylist())


def test_build_publishes_a_loadable_version_and_a_rebuild_sends_nothing(
    tmp_path: Path, scripted: ScriptedLLMServer, prefect_api: str
) -> None:
    project = make_project(tmp_path, scripted, prefect_api, ["sherlock-holmes", "sun-wukong"])
    first = project.build()
    assert first.returncode == 0, first.stderr
    assert "published v0.1.0" in first.stdout
    sent = len(scripted.completed)
    assert sent == 2 * REQUESTS_PER_ROLE
    assert f"LLM: {sent} requests sent, 0 cache hits" in first.stdout

    checkout = clone(project, "v0.1.0", tmp_path / "v0.1.0")
    manifest = json.loads((checkout / "manifest.json").read_text())
    for config, fields in CONFIG_FIELDS.items():
        rows = datasets.load_dataset(str(checkout), config, split="train")
        assert rows.num_rows == manifest["configs"][config]["rows"] > 0
        assert fields <= set(rows.column_names)
    assert manifest["configs"]["profiles"]["rows"] == 2
    languages = set(datasets.load_dataset(str(checkout), "context_instruct")["train"]["language"])
    assert languages == {"en", "zh"}

    again = project.build()
    assert again.returncode == 0, again.stderr
    assert len(scripted.completed) == sent  # nothing new reached the server
    assert "LLM: 0 requests sent" in again.stdout
    assert "no new version: the content equals v0.1.0" in again.stdout
    assert tags(project) == ["v0.1.0"]

    for taken in ("0.1.0", "v0.0.9"):  # versions are immutable: refused before any request
        refused = project.build("--version", taken)
        assert refused.returncode == 1
        assert "latest" in refused.stderr and "v0.1.0" in refused.stderr, refused.stderr
    assert len(scripted.completed) == sent and tags(project) == ["v0.1.0"]

    listing = subprocess.run(
        [*project.command()[:3], "hub", "list", str(project.hub)],
        env=project.env(),
        capture_output=True,
        text=True,
    )
    assert listing.returncode == 0 and listing.stdout.startswith("v0.1.0")
    assert f"profiles {manifest['configs']['profiles']['rows']}" in listing.stdout


def test_adding_a_character_requests_only_it_and_publishes_a_minor_version(
    tmp_path: Path, scripted: ScriptedLLMServer, prefect_api: str
) -> None:
    project = make_project(tmp_path, scripted, prefect_api, ["sherlock-holmes", "jane-eyre"])
    assert project.build().returncode == 0
    before = len(scripted.requests)

    project.add_character("captain-ahab")
    result = project.build()
    assert result.returncode == 0, result.stderr
    new = scripted.requests[before:]
    assert len(new) == REQUESTS_PER_ROLE  # its own requests, nothing else
    assert all("Captain Ahab" in request.prompt for request in new)
    assert len({request.messages_hash for request in new}) == len(new)
    assert "published v0.2.0" in result.stdout  # the next minor version
    assert tags(project) == ["v0.1.0", "v0.2.0"]

    old = clone(project, "v0.1.0", tmp_path / "old")
    current = clone(project, "v0.2.0", tmp_path / "new")
    for config in CONFIG_FIELDS:
        assert ids(old, config) < ids(current, config)  # old rows kept, new rows added
    roles = set(pq.read_table(current / "data" / "profiles").column("role_id").to_pylist())
    assert roles == {"sherlock-holmes", "jane-eyre", "captain-ahab"}

    card = DatasetCard.load(current / "README.md")
    assert card.data.annotations_creators == ["machine-generated"]
    assert "v0.2.0 against v0.1.0" in card.text
    for config in CONFIG_FIELDS:  # the changelog counts what the two clones hold
        added = len(ids(current, config) - ids(old, config))
        assert (
            f"| {config} | {len(ids(old, config))} | {len(ids(current, config))} | +{added} | -0 |"
            in card.text
        )
    plots = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card.text)
    assert len(plots) == 3
    for plot in plots:
        assert (current / plot).read_bytes().startswith(b"\x89PNG")  # LFS checked out

    project.add_character("alice")  # --version: published as asked, above the latest
    asked = project.build("--version", "1.0.0")
    assert asked.returncode == 0, asked.stderr
    assert "published v1.0.0" in asked.stdout
    assert tags(project) == ["v0.1.0", "v0.2.0", "v1.0.0"]


def test_a_build_killed_mid_generation_resumes_without_repeating_requests(
    tmp_path: Path, prefect_api: str
) -> None:
    roles = ["alice", "captain-nemo", "count-dracula", "don-quixote", "ebenezer-scrooge"]
    with ScriptedLLMServer(latency_s=0.4) as server:
        project = make_project(tmp_path, server, prefect_api, roles, concurrency=2)
        process = project.popen()
        deadline = time.monotonic() + 120
        while len(server.completed) < 6:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the build never got going"
            time.sleep(0.05)
        time.sleep(0.3)  # the six are surely received by the client before the kill
        killed_at = time.time()
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        # Replies the client surely received (answered well before the kill) must never be
        # asked for again; the one in flight at the kill may be.
        done = {r.messages_hash for r in server.completed if r.finished < killed_at - 0.2}
        first_run = len(server.requests)
        assert len(done) >= 5 and first_run < 5 * REQUESTS_PER_ROLE

        result = project.build()
        assert result.returncode == 0, result.stderr
        resent = [r for r in server.requests[first_run:] if r.messages_hash in done]
        assert resent == []
        assert len({r.messages_hash for r in server.completed}) == 5 * REQUESTS_PER_ROLE
        assert "published v0.1.0" in result.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_build_stops_promptly_and_publishes_nothing(
    tmp_path: Path, prefect_api: str, signum: int
) -> None:
    with ScriptedLLMServer(latency_s=1.0) as server:
        project = make_project(tmp_path, server, prefect_api, ["alice", "jane-eyre"], 1)
        process = project.popen()
        deadline = time.monotonic() + 120
        while not server.completed:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signum)
        started = time.monotonic()
        _, stderr = process.communicate(timeout=60)
        assert time.monotonic() - started < 20  # not held by shard threads still waiting
        assert process.returncode == 130
        assert "interrupted" in stderr and "run the same command again" in stderr
        assert not project.hub.exists()
        assert not list((tmp_path / "data").glob("runs/*/*/dataset"))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown recipe key", r"recipe\.yaml:{line}: field 'llm\.limts': unknown key"),
        ("wrong type", r"recipe\.yaml:{line}: field 'shard_size': Input should be a valid integer"),
        (
            "missing seed file",
            r"recipe\.yaml:{line}: field 'seeds\.characters\.0': no seed file matches 'charcters",
        ),
        ("malformed YAML", r"recipe\.yaml:\d+: malformed YAML"),
        ("malformed JSONL line", r"instructions\.jsonl:2: malformed JSON"),
        ("invalid character card", r"bad-card\.json: field 'data\.name': invalid character card"),
    ],
)
def test_bad_input_fails_with_one_clear_line_and_publishes_nothing(
    tmp_path: Path, scripted: ScriptedLLMServer, prefect_api: str, case: str, expected: str
) -> None:
    project = make_project(tmp_path, scripted, prefect_api, ["sherlock-holmes"])
    recipe = project.recipe.read_text()
    if case == "unknown recipe key":
        recipe = recipe.replace("  timeout_s: 5", "  limts: {}")
    elif case == "wrong type":
        recipe = recipe.replace("shard_size: 2", "shard_size: two")
    elif case == "missing seed file":
        recipe = recipe.replace("characters/*.yaml", "charcters/*.yaml")
    elif case == "malformed YAML":
        recipe = recipe.replace("  context_instruct:", "  context_instruct: [")
    elif case == "malformed JSONL line":
        (tmp_path / "instructions.jsonl").write_text(
            '{"id": "a", "instruction": "Say hello."}\n{"id": "b", "instruction": "Oops\n'
        )
    elif case == "invalid character card":
        recipe = recipe.replace("[characters/*.yaml]", "[characters/*.yaml, bad-card.json]")
        card = {"spec": "chara_card_v2", "data": {"description": "A card without a name."}}
        (tmp_path / "bad-card.json").write_text(json.dumps(card))
    project.recipe.write_text(recipe)
    marker = {"unknown recipe key": "limts", "wrong type": "two", "missing seed file": "charcters"}
    if case in marker:
        line = next(n for n, text in enumerate(recipe.split("\n"), 1) if marker[case] in text)
        expected = expected.format(line=line)

    result = project.build()
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and re.search(expected, lines[0]), lines[0]
    assert not project.hub.exists()
    assert not list((tmp_path / "data").glob("runs/*/*/dataset"))  # nothing even staged
    assert scripted.requests == []


def test_a_role_whose_profile_never_parses_is_reported_and_left_out(
    tmp_path: Path, scripted: ScriptedLLMServer, prefect_api: str
) -> None:
    project = make_project(tmp_path, scripted, prefect_api, ["alice", "jane-eyre"])
    broken = project.root / "characters" / "alice.yaml"
    broken.write_text(
        broken.read_text().replace(
            "description: |\n", "description: |\n    [[faults: malformed,malformed,malformed]]\n", 1
        )
    )
    result = project.build(
        "--set", "llm.retry.max_parse_attempts=3",
        "--set", "generators.context_instruct.enabled=false",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "failed items (left out of the dataset):" in result.stdout
    assert "profile of alice: reply 3/3 unusable" in result.stdout
    manifest = json.loads(
        subprocess.run(
            ["git", "-C", str(project.hub), "show", "v0.1.0:manifest.json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    rows = {name: config["rows"] for name, config in manifest["configs"].items()}
    assert rows == {
        "profiles": 1, "style_transfer": 1, "self_alignment": 1, "rolebench": 1, "ditto": 1
    }  # fmt: skip


def test_quality_filters_drop_before_dedup_and_the_summary_counts_them(
    tmp_path: Path, scripted: ScriptedLLMServer, prefect_api: str
) -> None:
    project = make_project(tmp_path, scripted, prefect_api, ["sherlock-holmes", "sun-wukong"])
    # Scripted English replies are 8 to 14 words: at most 5 drops every English reply.
    result = project.build("--set", "filters.max_words_en=5")
    assert result.returncode == 0, result.stderr
    (summary_path,) = (tmp_path / "data").glob("runs/tiny/*/summary.json")
    summary = json.loads(summary_path.read_text())
    drops = summary["drops"]
    assert {c for c, reasons in drops.items() if "too_long" in reasons} == {
        "context_instruct", "style_transfer", "self_alignment"
    }  # fmt: skip
    assert drops["style_transfer"]["too_long"] == drops["self_alignment"]["too_long"] == 1
    assert drops["context_instruct"]["too_long"] >= 1
    total = sum(config["too_long"] for config in drops.values())
    assert f"quality filters dropped: {total} too_long" in result.stdout
    report = json.loads(Path(summary["drop_report"]).read_text())
    assert report["counts"] == drops
    assert f"dropped per config (examples in {summary['drop_report']})" in result.stdout
    example = report["examples"]["style_transfer"]["too_long"][0]
    assert example["role_name"] == "Sherlock Holmes" and example["excerpt"]
    assert summary["drop_examples"]["style_transfer"]["too_long"].startswith('Sherlock Holmes: "')
    assert "      e.g. too_long: Sherlock Holmes: " in result.stdout  # one per config and reason
    checkout = clone(project, "v0.1.0", tmp_path / "v0.1.0")
    for config in ("context_instruct", "style_transfer", "self_alignment"):
        languages = pq.read_table(checkout / "data" / config).column("language").to_pylist()
        assert set(languages) == {"zh"}  # the Chinese role's replies are within bounds
