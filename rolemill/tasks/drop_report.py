"""What a build left out, per config and reason, with a few examples of each.

Quality filters, in-build dedup and the cross-version check each add their counts here;
the report is written as `drops.json` in the run workspace and summed in the run summary.
A duplicate's example is its cluster: the kept row and a few of the rows it stood for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

EXACT_DUPLICATE = "exact_duplicate"
NEAR_DUPLICATE = "near_duplicate"
PUBLISHED_COPY = "published_copy"
"""a new row that copies (exactly or nearly) a row of an earlier version"""
EXCERPT_CHARS = 160
EXAMPLES_PER_REASON = 3
MEMBERS_PER_CLUSTER = 3


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """One line of at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def final_replies(frame: pl.DataFrame, ids: Iterable[str]) -> dict[str, str]:
    """id -> the final assistant turn of those rows of a canonical sample frame."""
    wanted = pl.Series(list(ids), dtype=pl.String)
    if frame.is_empty() or wanted.is_empty() or "messages" not in frame.columns:
        return {}
    rows = frame.filter(pl.col("id").is_in(wanted.implode())).select(
        "id",
        reply=pl.col("messages")
        .list.eval(
            pl.element()
            .struct.field("content")
            .filter(pl.element().struct.field("role") == "assistant")
        )
        .list.last()
        .fill_null(""),
    )
    return dict(zip(rows["id"].to_list(), rows["reply"].to_list(), strict=True))


def cluster_examples(
    frame: pl.DataFrame, clusters: Sequence[Sequence[str]], limit: int = EXAMPLES_PER_REASON
) -> list[dict[str, Any]]:
    """The first `limit` duplicate clusters (kept id first) with each member's reply excerpt."""
    chosen = [list(cluster[: 1 + MEMBERS_PER_CLUSTER]) for cluster in clusters[:limit]]
    replies = final_replies(frame, (i for cluster in chosen for i in cluster))
    return [
        {
            "kept": {"id": cluster[0], "reply": excerpt(replies.get(cluster[0], ""))},
            "dropped": [{"id": i, "reply": excerpt(replies.get(i, ""))} for i in cluster[1:]],
            "cluster_size": len(full),
        }
        for cluster, full in zip(chosen, clusters, strict=False)
    ]


@dataclass
class DropReport:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """config -> reason -> rows dropped"""
    examples: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    """config -> reason -> a few examples"""

    def add(
        self,
        config: str,
        reason: str,
        count: int,
        examples: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        if count <= 0:
            return
        per_reason = self.counts.setdefault(config, {})
        per_reason[reason] = per_reason.get(reason, 0) + count
        if examples:
            kept = self.examples.setdefault(config, {}).setdefault(reason, [])
            kept.extend(dict(e) for e in examples[: EXAMPLES_PER_REASON - len(kept)])

    def add_duplicates(
        self,
        config: str,
        frame: pl.DataFrame,
        exact: int,
        near: int,
        clusters: Sequence[Sequence[str]],
    ) -> None:
        """In-build dedup's drops; the clusters' examples go with the larger count."""
        examples = cluster_examples(frame, clusters)
        self.add(config, EXACT_DUPLICATE, exact, examples if exact > near else ())
        self.add(config, NEAR_DUPLICATE, near, examples if near >= exact else ())

    def headlines(self, limit: int = 80) -> dict[str, dict[str, str]]:
        """config -> reason -> its first example as one line of text (for the run summary)."""
        return {
            config: {reason: _headline(examples[0], limit) for reason, examples in per.items()}
            for config, per in self.examples.items()
            if per
        }

    def totals(self) -> dict[str, int]:
        """reason -> rows dropped over every config."""
        out: dict[str, int] = {}
        for per_reason in self.counts.values():
            for reason, count in per_reason.items():
                out[reason] = out.get(reason, 0) + count
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "examples": self.examples}

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n")
        return path


def _headline(example: Mapping[str, Any], limit: int) -> str:
    """One example of any reason: a filtered row, a duplicate cluster or a published copy."""
    if "kept" in example:  # a cluster: what stayed and what it stood for
        dropped = example["dropped"][0]["reply"] if example["dropped"] else ""
        return f'kept "{excerpt(example["kept"]["reply"], limit)}", dropped "{excerpt(dropped, limit)}"'
    if "copies_published" in example:
        return f"{example['id']} copies published {example['copies_published']}"
    return f'{example.get("role_name", "")}: "{excerpt(example.get("excerpt", ""), limit)}"'
