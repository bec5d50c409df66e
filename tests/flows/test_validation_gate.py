"""The acceptance test of the validation gate: a build whose data breaks an expectation
publishes nothing, and says which config, which expectation and where the Data Docs are."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from rolemill.testing.scripted_server import ScriptedLLMServer
from tests.flows.conftest import Project, make_project


def hub_state(project: Project) -> tuple[str, str]:
    """Every ref of the hub with its commit, and the files at the latest tag."""
    refs = subprocess.run(
        ["git", "-C", str(project.hub), "show-ref"], capture_output=True, text=True, check=True
    ).stdout
    files = subprocess.run(
        ["git", "-C", str(project.hub), "ls-tree", "-r", "v0.1.0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return refs, files


def test_a_build_breaking_an_expectation_fails_and_leaves_the_hub_as_it_was(
    tmp_path: Path, scripted: ScriptedLLMServer, prefect_api: str
) -> None:
    project = make_project(tmp_path, scripted, prefect_api, ["sherlock-holmes"])
    first = project.build()
    assert first.returncode == 0, first.stderr
    assert "published v0.1.0" in first.stdout
    assert re.search(r"validation: passed; Data Docs \S+/data_docs/index\.html", first.stdout)
    before = hub_state(project)
    assert "refs/tags/v0.1.0" in before[0] and "manifest.json" in before[1]

    # Replies of at most 5 characters: every generated config breaks it.
    second = project.build("--set", "validation.max_reply_chars=5")

    assert second.returncode == 1, second.stdout
    message = second.stderr
    assert "validation gate failed" in message
    assert "config `context_instruct`" in message
    assert re.search(
        r"expect_column_values_to_be_between on column `longest_reply_chars`: \d+ of \d+ "
        r"values are outside \[-inf, 5\]",
        message,
    )
    found = re.search(r"Data Docs \(.*\): (\S+index\.html)", message)
    assert found, message
    index = Path(found.group(1))
    assert index.is_file()
    assert "rolemill-context_instruct" in index.read_text()
    assert hub_state(project) == before  # same refs, same files at v0.1.0: nothing published

    workspace = index.parent.parent
    summary = json.loads((workspace / "summary.json").read_text())
    assert summary["data_docs"] == str(index)
    assert any(
        line.startswith("context_instruct: expect_column_values_to_be_between")
        for line in summary["validation_failures"]
    )
    assert not (workspace / "dataset").exists()  # not even staged
