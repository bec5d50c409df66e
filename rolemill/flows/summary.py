"""What a build did, for the CLI's closing table, the run workspace and (later) artifacts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rolemill.schemas.filters import DROP_REASONS
from rolemill.tasks.llm import Usage


@dataclass
class BuildSummary:
    name: str
    run_id: str
    workspace: str
    rows: dict[str, int] = field(default_factory=dict)
    generation_failures: list[str] = field(default_factory=list)
    below_confidence: int = 0
    dedup_exact: int = 0
    dedup_near: int = 0
    dedup_published: int = 0
    """new rows dropped as exact or near copies of rows published earlier"""
    dedup_published_from: str = ""
    drops: dict[str, dict[str, int]] = field(default_factory=dict)
    """per config: rows dropped per reason (quality filters, duplicates); examples of each
    are in the drop report"""
    drop_examples: dict[str, dict[str, str]] = field(default_factory=dict)
    """per config and reason: its first example, one line"""
    drop_report: str | None = None
    """drops.json of the run workspace"""
    validation_failures: list[str] = field(default_factory=list)
    data_docs: str | None = None
    """index.html of the validation gate's Data Docs"""
    usage: Usage = field(default_factory=Usage)
    version: str | None = None
    previous_version: str | None = None
    published_to: str | None = None
    publish_note: str = ""
    shard_processes: list[int] = field(default_factory=list)
    """ids of the processes that ran shard tasks (several on a Dask cluster)"""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["usage"] = self.usage.as_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuildSummary:
        values = dict(data)
        values["usage"] = Usage(**values.get("usage", {}))
        return cls(**values)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n")

    def filter_totals(self) -> dict[str, int]:
        """Rows dropped per quality-filter reason over every config (reasons that dropped any)."""
        totals: dict[str, int] = {}
        for drops in self.drops.values():
            for reason, count in drops.items():
                if reason in DROP_REASONS:
                    totals[reason] = totals.get(reason, 0) + count
        return {reason: count for reason, count in totals.items() if count}

    def lines(self) -> list[str]:
        """The summary as plain text lines (used by the CLI and the logs)."""
        u = self.usage
        out = [f"dataset {self.name}  (run workspace {self.workspace})"]
        out += [f"  {config:<18} {rows:>8} rows" for config, rows in self.rows.items()]
        out.append(
            f"  dropped: {self.below_confidence} below confidence, "
            f"{self.dedup_exact} exact duplicates, {self.dedup_near} near duplicates, "
            f"{len(self.generation_failures)} failed requests"
        )
        if self.dedup_published_from:
            out.append(
                f"  dropped {self.dedup_published} near-copies of rows published in "
                f"{self.dedup_published_from}"
            )
        filtered = ", ".join(f"{n} {reason}" for reason, n in self.filter_totals().items())
        out.append(f"  quality filters dropped: {filtered or 'nothing'}")
        if self.drop_report and any(self.drops.values()):
            out.append(f"  dropped per config (examples in {self.drop_report}):")
            for config, reasons in self.drops.items():
                if not reasons:
                    continue
                out.append(
                    f"    {config:<16} " + ", ".join(f"{n} {why}" for why, n in reasons.items())
                )
                examples = self.drop_examples.get(config, {})
                out += [f"      e.g. {why}: {examples[why]}" for why in reasons if why in examples]
        out.append(
            f"  LLM: {u.requests} requests sent, {u.cache_hits} cache hits, "
            f"{u.prompt_tokens + u.completion_tokens} tokens, ${u.cost_usd:.4f}"
        )
        if self.generation_failures:
            out.append("  failed items (left out of the dataset):")
            out += [f"    {failure}" for failure in self.generation_failures[:5]]
            if len(self.generation_failures) > 5:
                out.append(f"    ... and {len(self.generation_failures) - 5} more in summary.json")
            out.append(
                "    unusable replies are cached like any other: raise "
                "llm.retry.max_parse_attempts (or use a stronger model) to try them again"
            )
        if self.data_docs:
            failed = len(self.validation_failures)
            verdict = f"{failed} failed expectations" if failed else "passed"
            out.append(f"  validation: {verdict}; Data Docs {self.data_docs}")
        out.append(f"  {self.publish_note}")
        return out
