"""A persona pool end to end (scripted LLM, real Prefect server): synthetic roles reach the
profiles, the `personas` config and every generator; raising the count pays only for the
new roles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import datasets
import pyarrow.parquet as pq

from rolemill.schemas.recipe import load_recipe
from rolemill.tasks.persona_pool import load_persona_pool
from rolemill.testing.scripted_server import ScriptedLLMServer
from tests.flows.conftest import REQUESTS_PER_ROLE, Project, clone_version, make_project

PERSONAS = "  personas:\n    count: {count}\n    languages: {{en: 2, zh: 1}}\n"


def ask_for_personas(project: Project, count: int) -> None:
    """Put a `seeds.personas` section with `count` roles in the project's recipe."""
    text = re.sub(r"  personas:\n(    .*\n)*", "", project.recipe.read_text())
    head, tail = text.split("generators:", 1)
    project.recipe.write_text(head + PERSONAS.format(count=count) + "generators:" + tail)


def role_ids(checkout: Path, config: str) -> set[str]:
    return set(pq.read_table(checkout / "data" / config).column("role_id").to_pylist())


def test_a_persona_pool_builds_through_every_stage_and_grows_by_paying_for_new_roles(
    tmp_path: Path, scripted: ScriptedLLMServer, prefect_api: str
) -> None:
    project = make_project(tmp_path, scripted, prefect_api, ["sherlock-holmes"])
    ask_for_personas(project, 3)
    first = project.build()
    assert first.returncode == 0, first.stderr
    assert "1 characters + 3 synthetic personas" in first.stderr
    assert len(scripted.completed) == 4 * REQUESTS_PER_ROLE
    assert "published v0.1.0" in first.stdout

    checkout = clone_version(project.hub, "v0.1.0", tmp_path / "v1")
    personas = {f"persona-{i:06d}" for i in range(3)}
    assert role_ids(checkout, "profiles") == personas | {"sherlock-holmes"}
    for config in ("context_instruct", "style_transfer", "self_alignment"):
        assert personas < role_ids(checkout, config)
    drawn = datasets.load_dataset(str(checkout), "personas", split="train")
    assert sorted(drawn["role_id"]) == sorted(personas)
    assert {"career", "aspiration", "traits", "skill", "mbti", "big_five"} <= set(
        drawn.column_names
    )
    profiles = datasets.load_dataset(str(checkout), "profiles", split="train").to_list()
    assert all(bool(row["abilities"]) == row["role_id"].startswith("persona-") for row in profiles)
    assert "zh" in {row["language"] for row in profiles if row["role_id"] in personas}

    before = len(scripted.requests)
    ask_for_personas(project, 5)
    second = project.build()
    assert second.returncode == 0, second.stderr
    new = scripted.requests[before:]
    assert len(new) == 2 * REQUESTS_PER_ROLE  # only the two new roles' requests
    pool = load_persona_pool(load_recipe(project.recipe))
    assert pool is not None
    names = [pool.draw(i).name for i in (3, 4)]
    assert all(any(name in request.prompt for name in names) for request in new)
    assert "published v0.2.0" in second.stdout
    grown = clone_version(project.hub, "v0.2.0", tmp_path / "v2")
    assert role_ids(grown, "personas") == {f"persona-{i:06d}" for i in range(5)}
    manifest = json.loads((grown / "manifest.json").read_text())
    assert manifest["configs"]["personas"]["rows"] == 5
    old_ids = set(pq.read_table(checkout / "data" / "context_instruct").column("id").to_pylist())
    assert old_ids < set(
        pq.read_table(grown / "data" / "context_instruct").column("id").to_pylist()
    )
