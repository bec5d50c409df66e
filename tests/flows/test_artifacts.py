"""What the artifacts say about a build (their delivery to a real server is covered by
test_deployments.py)."""

from __future__ import annotations

import base64
from pathlib import Path

from rolemill.flows.artifacts import artifact_key, plots_markdown, release_markdown, summary_table
from rolemill.flows.summary import BuildSummary
from rolemill.tasks.llm import Usage


def a_summary() -> BuildSummary:
    summary = BuildSummary("rolebench_EN", "run-1", "/data/runs/rolebench_EN/run-1")
    summary.rows = {"profiles": 11, "context_instruct": 420}
    summary.below_confidence, summary.dedup_exact, summary.dedup_near = 7, 3, 2
    summary.generation_failures = ["alice/description: timeout"]
    summary.usage = Usage(requests=40, cache_hits=5, prompt_tokens=900, completion_tokens=100)
    summary.usage.cost_usd = 0.012345
    return summary


def test_keys_follow_prefects_rule() -> None:
    assert artifact_key("build-summary", "rolebench_EN") == "build-summary-rolebench-en"


def test_the_table_has_rows_drops_and_usage_including_fields_added_later() -> None:
    summary = a_summary()
    rows = {(r["section"], r["item"]): r["value"] for r in summary_table(summary)}
    assert rows["rows", "context_instruct"] == 420
    assert rows["dropped", "below confidence"] == 7
    assert rows["dropped", "failed request"] == 1
    assert (rows["llm", "requests sent"], rows["llm", "cache hits"]) == (40, 5)
    assert rows["llm", "cost (USD)"] == 0.0123
    assert ("dropped", "too short") not in rows

    summary.drops = {
        "mrc": {"too_short": 4, "near_duplicate": 9},
        "style_transfer": {"too_short": 1, "published_copy": 2},
    }
    rows = {(r["section"], r["item"]): r["value"] for r in summary_table(summary)}
    assert rows["dropped", "too short"] == 5
    assert rows["dropped", "published copy"] == 2
    assert ("dropped", "near_duplicate") not in rows  # counted as "near duplicate" already


def test_the_release_note_has_version_target_data_docs_and_the_card(tmp_path: Path) -> None:
    summary = a_summary()
    summary.version, summary.previous_version = "v0.2.0", "v0.1.0"
    summary.published_to = "/data/hub/rolebench_EN.git"
    summary.data_docs = "/data/runs/rolebench_EN/run-1/data_docs/index.html"  # type: ignore[attr-defined]
    card = tmp_path / "README.md"
    card.write_text("---\nlicense: cc-by-4.0\n---\n# rolebench_EN\n\n| config | rows |\n")
    note = release_markdown(summary, card)
    assert "Published **v0.2.0** to `/data/hub/rolebench_EN.git` (previous: v0.1.0)." in note
    assert "Data Docs: `/data/runs/rolebench_EN/run-1/data_docs/index.html`" in note
    assert note.endswith("## Dataset card\n\n# rolebench_EN\n\n| config | rows |\n")
    assert "license: cc-by-4.0" not in note  # the card's front matter is for the hub


def test_a_build_without_a_new_version_says_why(tmp_path: Path) -> None:
    summary = a_summary()
    summary.publish_note = "no new version: the content equals v0.1.0 at /data/hub/x.git"
    note = release_markdown(summary, tmp_path / "missing-README.md")
    assert note.startswith("# rolebench_EN: no new version\n\nno new version: the content equals")
    assert "Dataset card" not in note


def test_the_cards_plots_are_inlined_in_their_own_artifact(tmp_path: Path) -> None:
    summary = a_summary()
    summary.version = "v0.2.0"
    (tmp_path / "assets").mkdir()
    png = b"\x89PNG\r\n\x1a\n-a-plot"
    (tmp_path / "assets" / "rows.png").write_bytes(png)
    card = tmp_path / "README.md"
    card.write_text("# x\n\n![Rows per role](assets/rows.png)\n\n![Gone](assets/missing.png)\n")
    plots = plots_markdown(summary, card)
    assert plots is not None
    assert "![Rows per role](data:image/png;base64," + base64.b64encode(png).decode() + ")" in plots
    assert "Gone" not in plots  # a plot that is not there is left out
    note = release_markdown(summary, card)
    assert "assets/rows.png" not in note
    assert "*(plot: Rows per role, in the build-plots-rolebench-en artifact)*" in note
    card.write_text("# no plots\n")
    assert plots_markdown(summary, card) is None
