"""What a build shows on its flow run's page in the Prefect dashboard.

- `build-summary-<dataset>`: a table of rows per config, drops per reason and LLM usage;
- `build-release-<dataset>`: markdown with the published version, where it went, the
  Data Docs path and the dataset card;
- `build-plots-<dataset>`: the dataset card's plots, inlined (the card's links are relative);
- `build-progress-<dataset>`: a progress artifact the generation stages move forward.

The flow always runs against a Prefect API (a temporary server under the CLI), so these
calls are never skipped: an unreachable API is an error like any other.
"""

from __future__ import annotations

import base64
import contextvars
import logging
import re
import threading
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from rolemill.flows.progress import ProgressSink, progress, set_progress_sink
from rolemill.flows.summary import BuildSummary
from rolemill.tasks.drop_report import EXACT_DUPLICATE, NEAR_DUPLICATE

log = logging.getLogger(__name__)
IMAGE_LINK = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
"""a markdown image: (title, link)"""


def artifact_key(kind: str, dataset: str) -> str:
    """Prefect's rule for keys: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{kind}-{dataset}".lower()).strip("-")


def summary_table(summary: BuildSummary) -> list[dict[str, Any]]:
    """The summary as rows of (section, item, value): one table for every kind of figure."""
    u = summary.usage
    rows: list[dict[str, Any]] = [
        {"section": "rows", "item": config, "value": count}
        for config, count in summary.rows.items()
    ]
    drops: dict[str, int] = {
        "below confidence": summary.below_confidence,
        "exact duplicate": summary.dedup_exact,
        "near duplicate": summary.dedup_near,
        "failed request": len(summary.generation_failures),
    }
    for reasons in summary.drops.values():
        for reason, n in reasons.items():
            if reason not in (EXACT_DUPLICATE, NEAR_DUPLICATE):  # counted above
                item = reason.replace("_", " ")
                drops[item] = drops.get(item, 0) + n
    rows += [{"section": "dropped", "item": reason, "value": n} for reason, n in drops.items()]
    rows += [
        {"section": "llm", "item": "requests sent", "value": u.requests},
        {"section": "llm", "item": "cache hits", "value": u.cache_hits},
        {"section": "llm", "item": "prompt tokens", "value": u.prompt_tokens},
        {"section": "llm", "item": "completion tokens", "value": u.completion_tokens},
        {"section": "llm", "item": "cost (USD)", "value": round(u.cost_usd, 4)},
    ]
    return rows


def release_markdown(summary: BuildSummary, card: Path) -> str:
    """The release note: version, target, validation, Data Docs and the dataset card."""
    lines = [f"# {summary.name}: {summary.version or 'no new version'}", ""]
    if summary.version:
        lines.append(f"Published **{summary.version}** to `{summary.published_to}`")
        if summary.previous_version:
            lines[-1] += f" (previous: {summary.previous_version})"
        lines[-1] += "."
    else:
        lines.append(summary.publish_note)
    if summary.data_docs:
        lines += ["", f"Great Expectations Data Docs: `{summary.data_docs}`"]
    if summary.validation_failures:
        lines += ["", "Validation failures:", *(f"- {f}" for f in summary.validation_failures)]
    lines += ["", f"Run workspace: `{summary.workspace}`", ""]
    if card.is_file():
        body = IMAGE_LINK.sub(
            lambda m: (
                f"*(plot: {m.group(1)}, in the {artifact_key('build-plots', summary.name)} "
                "artifact)*"
            ),
            _without_front_matter(card.read_text()),
        )
        lines += ["## Dataset card", "", body]
    return "\n".join(lines)


def plots_markdown(summary: BuildSummary, card: Path) -> str | None:
    """The card's plots inlined as PNG data URIs: the dashboard cannot follow the card's
    relative `assets/` links. None when the card shows no plot that exists."""
    if not card.is_file():
        return None
    plots = []
    for title, link in IMAGE_LINK.findall(card.read_text()):
        path = card.parent / link
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode()
            plots += [f"## {title}", "", f"![{title}](data:image/png;base64,{data})", ""]
    if not plots:
        return None
    return "\n".join(
        [f"# {summary.name} {summary.version or ''}: plots of the dataset card", "", *plots]
    )


def _without_front_matter(text: str) -> str:
    """The card's body: the YAML header is for the hub, not for reading."""
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end != -1:
            return text[end + 5 :].lstrip()
    return text


def publish_build_artifacts(summary: BuildSummary, card: Path) -> None:
    """The summary table and the release note of a finished (or failed) build."""
    create_table_artifact(
        table=summary_table(summary),
        key=artifact_key("build-summary", summary.name),
        description=f"{summary.name}: rows, drops and LLM usage of this build",
    )
    create_markdown_artifact(
        markdown=release_markdown(summary, card),
        key=artifact_key("build-release", summary.name),
        description=f"{summary.name}: what this build published",
    )
    plots = plots_markdown(summary, card)
    if plots is not None:
        create_markdown_artifact(
            markdown=plots,
            key=artifact_key("build-plots", summary.name),
            description=f"{summary.name}: rows per role, label shares and lengths",
        )


class ProgressArtifact:
    """A progress sink that moves a Prefect progress artifact: the mean over the stages
    started so far of each stage's share done (a stage whose jobs are not known yet counts
    as not started), never going back. Sink calls only count (they come from the shard
    tasks' event loops); a background thread sends the figure every `interval_s` seconds
    when it grew, so no LLM call waits on the Prefect API."""

    def __init__(self, dataset: str, interval_s: float = 2.0) -> None:
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.finished: set[str] = set()
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._shown = 0.0
        self.artifact_id: UUID = create_progress_artifact(
            progress=0.0,
            key=artifact_key("build-progress", dataset),
            description=f"{dataset}: share of the build done",
        )
        # The copied context carries the flow run's Prefect settings and client.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._send_loop,), name="progress-artifact", daemon=True
        )
        self._thread.start()

    def start(self, stage: str, total: int) -> None:
        with self._lock:
            self.totals[stage] = total
            self.done[stage] = 0

    def grow(self, stage: str, amount: int) -> None:
        with self._lock:
            self.totals[stage] = self.totals.get(stage, 0) + amount

    def advance(self, stage: str, amount: int = 1) -> None:
        with self._lock:
            self.done[stage] = self.done.get(stage, 0) + amount

    def finish(self, stage: str) -> None:
        with self._lock:
            self.finished.add(stage)

    def percent(self) -> float:
        with self._lock:
            shares = [
                1.0
                if stage in self.finished
                else min(self.done.get(stage, 0) / total, 1.0)
                if total
                else 0.0
                for stage, total in self.totals.items()
            ]
        return 100.0 * sum(shares) / len(shares) if shares else 0.0

    def _send(self, percent: float) -> None:
        if percent > self._shown:
            update_progress_artifact(artifact_id=self.artifact_id, progress=percent)
            self._shown = percent

    def _send_loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self._send(self.percent())
            except Exception as exc:  # a blip of the API must not stop the build
                log.warning("progress artifact not updated: %s", exc)

    def close(self) -> None:
        """Stop sending and show the final share (100% when every stage finished)."""
        self._stop.set()
        self._thread.join()
        self._send(self.percent())


class BuildArtifacts:
    """The artifacts of one build: progress while it runs, summary and release at the end.

    `start` installs the progress artifact beside whatever progress sink is in place (the
    CLI's bars); `close` (in the flow's `finally`) restores that sink, sends the final
    progress and writes the summary table and the release note, for failed builds too.
    """

    def __init__(self, summary: BuildSummary, card: Path) -> None:
        self.summary = summary
        self.card = card
        self.outer = progress()
        self.tracker = ProgressArtifact(summary.name)
        set_progress_sink(Tee(self.outer, self.tracker))

    def close(self) -> None:
        set_progress_sink(self.outer)
        self.tracker.close()
        publish_build_artifacts(self.summary, self.card)


class Tee:
    """Progress to several sinks (the CLI's bars and the artifact)."""

    def __init__(self, *sinks: ProgressSink) -> None:
        self.sinks = sinks

    def start(self, stage: str, total: int) -> None:
        for sink in self.sinks:
            sink.start(stage, total)

    def grow(self, stage: str, amount: int) -> None:
        for sink in self.sinks:
            sink.grow(stage, amount)

    def advance(self, stage: str, amount: int = 1) -> None:
        for sink in self.sinks:
            sink.advance(stage, amount)

    def finish(self, stage: str) -> None:
        for sink in self.sinks:
            sink.finish(stage)
