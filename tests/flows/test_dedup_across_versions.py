"""A rebuild that regenerates near-copies of published rows drops them and says how many:
through the index the latest version carries, and through a shared index.

The rebuilds switch to another model (`llm.model`, so no cached reply is reused) whose
free-text replies end with one more word (the scripted server's `reply_suffix`): its
structured replies (profiles, questions) are the same, so those rows keep their ids, and
every answer written as free text is a near-copy of a published one under a new id.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import datasets
import polars as pl
import pyarrow.parquet as pq

from rolemill.schemas.quality import DedupConfig
from rolemill.tasks.dedup_index import INDEX_PATH, build_index, drop_published_copies, load_index
from rolemill.testing.scripted_server import ScriptedLLMServer
from tests.flows.conftest import Project, clone_version, make_project

REWORDING = ("--set", "llm.model=scripted-model-2")
FREE_TEXT_CONFIGS = ("style_transfer", "self_alignment")  # their answers are free text
INDEXED = ("context_instruct", *FREE_TEXT_CONFIGS)  # the deduplicated configs


def dropped_copies(stdout: str, source: str) -> int:
    match = re.search(
        rf"dropped (\d+) near-copies of rows published in {re.escape(source)}", stdout
    )
    assert match, stdout
    return int(match.group(1))


def rows(checkout: Path, config: str) -> pl.DataFrame:
    return pl.from_arrow(pq.read_table(checkout / "data" / config))  # type: ignore[return-value]


def copies_between(later: Path, earlier: Path) -> int:
    """Rows of `later` (ids not in `earlier`) that copy a row of `earlier`, per the index."""
    config = DedupConfig()
    total = 0
    for name in INDEXED:
        old, new = rows(earlier, name), rows(later, name)
        fresh = new.filter(~pl.col("id").is_in(old["id"].implode()))
        index = build_index({name: old}, config)
        total += drop_published_copies(fresh, name, index, config).dropped
    return total


def test_a_rebuild_drops_near_copies_of_rows_published_in_the_previous_version(
    tmp_path: Path, scripted: ScriptedLLMServer, prefect_api: str
) -> None:
    project = make_project(tmp_path, scripted, prefect_api, ["sherlock-holmes", "sun-wukong"])
    first = project.build()
    assert first.returncode == 0, first.stderr
    assert "published v0.1.0" in first.stdout
    assert "near-copies of rows published" not in first.stdout  # nothing published before
    v1 = clone_version(project.hub, "v0.1.0", tmp_path / "v1")
    manifest = json.loads((v1 / "manifest.json").read_text())
    assert manifest["dedup_index"]["path"] == INDEX_PATH
    published = load_index(v1 / INDEX_PATH)
    indexed = sum(manifest["configs"][name]["rows"] for name in INDEXED)
    assert len(published) == manifest["dedup_index"]["rows"] == indexed
    assert datasets.load_dataset(str(v1), "style_transfer", split="train").num_rows == 2

    scripted.state.reply_suffix = " indeed"
    project.add_character("jane-eyre")  # so every config still has rows of its own
    second = project.build(*REWORDING)
    assert second.returncode == 0, second.stderr
    # Every free-text answer of the two published roles came back reworded, under a new id.
    expected = sum(manifest["configs"][name]["rows"] for name in FREE_TEXT_CONFIGS)
    assert dropped_copies(second.stdout, "v0.1.0") == expected == 4
    assert "published v0.2.0" in second.stdout
    v2 = clone_version(project.hub, "v0.2.0", tmp_path / "v2")
    for name in FREE_TEXT_CONFIGS:
        assert set(rows(v2, name)["role_id"].to_list()) == {"jane-eyre"}
    old_ci, new_ci = rows(v1, "context_instruct"), rows(v2, "context_instruct")
    assert set(old_ci["id"].to_list()) < set(new_ci["id"].to_list())  # same rows: never dropped
    assert copies_between(v2, v1) == 0  # the new version holds no copy of a v1 row
    # The v2 index is cumulative: v1's rows (even those v2 no longer holds) and v2's own.
    carried = load_index(v2 / INDEX_PATH)
    assert set(published.rows["id"].to_list()) < set(carried.rows["id"].to_list())
    assert datasets.load_dataset(str(v2), "self_alignment", split="train").num_rows == 1

    again = project.build(*REWORDING)
    assert again.returncode == 0, again.stderr
    assert dropped_copies(again.stdout, "v0.2.0") == 4  # the same copies, dropped again
    assert "no new version: the content equals v0.2.0" in again.stdout
    runs = sorted((tmp_path / "data" / "runs" / "tiny").glob("*/summary.json"))  # by time
    summaries = [json.loads(path.read_text()) for path in runs]
    assert [s["dedup_published"] for s in summaries] == [0, 4, 4]
    assert [s["dedup_published_from"] for s in summaries] == ["", "v0.1.0", "v0.2.0"]
    # Other MinHash settings: refused before any request, with what to do.
    before = len(scripted.requests)
    other = ("--set", "llm.model=scripted-model-3", "--set", "dedup.num_perm=64")
    refused = project.build(*other)
    assert refused.returncode != 0
    error = refused.stderr.strip().splitlines()[-1]
    assert refused.stderr.count("error:") == 1 and error.startswith("error: "), refused.stderr
    assert re.search(r"v0\.2\.0.*num_perm=128.*num_perm=64.*across_versions: false", error)
    assert len(scripted.requests) == before
    # Starting afresh with the new settings: the next version's index uses them.
    fresh = project.build(*other, "--set", "dedup.across_versions=false")
    assert fresh.returncode == 0, fresh.stderr
    assert "near-copies of rows published" not in fresh.stdout
    v3 = clone_version(project.hub, "v0.3.0", tmp_path / "v3")
    assert load_index(v3 / INDEX_PATH).settings.num_perm == 64

    report = json.loads(Path(summaries[1]["drop_report"]).read_text())
    counts = {c: r["published_copy"] for c, r in report["counts"].items() if "published_copy" in r}
    assert sum(counts.values()) == summaries[1]["dedup_published"]
    config = next(iter(counts))
    example = report["examples"][config]["published_copy"][0]
    new_id, old_id = example["id"], example["copies_published"]
    assert old_id in set(rows(v1, config)["id"].to_list())
    assert new_id not in set(rows(v2, config)["id"].to_list())


def shared_project(
    root: Path, scripted: ScriptedLLMServer, prefect_api: str, roles: list[str]
) -> Project:
    root.mkdir()
    project = make_project(root, scripted, prefect_api, roles)
    recipe = project.recipe.read_text() + "dedup:\n  index: ../shared/dedup-index.parquet\n"
    project.recipe.write_text(recipe)
    return project


def test_a_shared_index_drops_copies_of_rows_another_dataset_published(
    tmp_path: Path, scripted: ScriptedLLMServer, prefect_api: str
) -> None:
    shared = tmp_path / "shared" / "dedup-index.parquet"
    first = shared_project(tmp_path / "a", scripted, prefect_api, ["sherlock-holmes"])
    result = first.build()
    assert result.returncode == 0, result.stderr
    assert shared.is_file()  # written after the publish
    after_first = load_index(shared)
    a_ids = set(after_first.rows["id"].to_list())

    # Another dataset (its own hub, its own cache) with the same role and a reworded model.
    scripted.state.reply_suffix = " indeed"
    second = shared_project(tmp_path / "b", scripted, prefect_api, ["sherlock-holmes", "alice"])
    result = second.build(*REWORDING)
    assert result.returncode == 0, result.stderr
    assert dropped_copies(result.stdout, f"the shared index {shared}") == 2
    b = clone_version(second.hub, "v0.1.0", tmp_path / "b-v1")
    for name in FREE_TEXT_CONFIGS:
        assert set(rows(b, name)["role_id"].to_list()) == {"alice"}
    # B's own index holds its rows only; the shared one gained them and kept A's.
    b_ids = set(load_index(b / INDEX_PATH).rows["id"].to_list())
    assert b_ids == {i for name in INDEXED for i in rows(b, name)["id"].to_list()}
    assert set(load_index(shared).rows["id"].to_list()) == a_ids | b_ids
    assert b_ids - a_ids  # alice's rows are new to the shared index
