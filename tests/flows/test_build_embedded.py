"""A real build on the embedded model (llama-server + SmolLM2): the demo recipe with one
shipped character and one synthetic persona, every config published."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from tests.flows.conftest import clone_version

ROOT = Path(__file__).parents[2]
EVERY_CONFIG = {
    "profiles", "personas", "context_instruct", "style_transfer", "self_alignment", "ditto",
    "mrc", "rolemrc_sft", "rolemrc_test", "preference", "rolebench",
}  # fmt: skip


@pytest.mark.llm_server
def test_demo_recipe_builds_and_publishes_on_the_embedded_model(
    tmp_path: Path, prefect_api: str
) -> None:
    """The build starts its own llama-server, with the demo recipe's slots and context."""
    env = os.environ | {"ROLEMILL_DATA_DIR": str(tmp_path / "data"), "PREFECT_API_URL": prefect_api}
    env.pop("ROLEMILL_LOCAL_BASE_URL", None)
    command = [sys.executable, "-m", "rolemill.cli", "build", str(ROOT / "recipes" / "demo.yaml")]
    command += ["--set", "seeds.only_roles=[sherlock-holmes]"]
    command += ["--set", "generators.context_instruct.segments=[scene]"]
    command += ["--set", "generators.context_instruct.min_confidence=0"]
    command += ["--set", "seeds.personas.count=1"]
    command += ["--set", "generators.mrc.samples_per_role=3"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "published v0.1.0" in result.stdout

    hub = tmp_path / "data" / "hub" / "demo.git"
    checkout = clone_version(hub, "v0.1.0", tmp_path / "clone")
    manifest = json.loads((checkout / "manifest.json").read_text())
    profiles = datasets.load_dataset(str(checkout), "profiles", split="train")
    names = {row["role_id"]: row["role_name"] for row in profiles}
    assert profiles.num_rows == 2 and names["sherlock-holmes"] == "Sherlock Holmes"
    assert {row["provenance"]["model"] for row in profiles} == {"SmolLM2-135M-Instruct"}
    assert set(manifest["configs"]) == EVERY_CONFIG
    for config in sorted(EVERY_CONFIG - {"profiles"}):
        rows = datasets.load_dataset(str(checkout), config, split="train")
        assert rows.num_rows == manifest["configs"][config]["rows"] > 0, config
