"""Seed-compatible views: published configs in another dataset's own fields, made from
canonical samples (not separate pipelines)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class View:
    """A published config made from the rows of other configs."""

    name: str
    sources: tuple[str, ...]
    make: Callable[[pl.DataFrame], pl.DataFrame]

    def build(self, frames: dict[str, pl.DataFrame]) -> pl.DataFrame | None:
        """The view over whichever of its sources were built; None when none were."""
        parts = [self.make(frames[name]) for name in self.sources if name in frames]
        return pl.concat(parts) if parts else None


def rolebench_view(samples: pl.DataFrame) -> pl.DataFrame:
    """RoleBench's fields: `role`, `question` (the user turn), `generated` (the answers).

    Context-Instruct rows are RoleBench's role-specific part, style-transfer rows its
    general part.

    `id` is the canonical sample's id, so every row traces back to its sample.
    """
    turns = pl.col("messages")
    return samples.select(
        pl.col("id"),
        pl.col("role_name").alias("role"),
        turns.list.eval(pl.element().filter(pl.element().struct.field("role") == "user"))
        .list.first()
        .struct.field("content")
        .alias("question"),
        turns.list.eval(
            pl.element()
            .filter(pl.element().struct.field("role") == "assistant")
            .struct.field("content")
        ).alias("generated"),
    )


def ditto_view(samples: pl.DataFrame) -> pl.DataFrame:
    """Ditto's WikiRoleEval fields: the role's `system` prompt, the user `prompts`, the
    whole conversation as `messages`, a 0/1 `rejection_labels` and an `evidence` text per
    prompt, and `role_consist_cands`: the role's name among up to three other roles of the
    dataset (a stable draw), with the right one in `label`."""
    names = sorted(set(samples["role_name"].to_list())) if samples.height else []
    rows = []
    for row in samples.iter_rows(named=True):
        turns, fields, name = row["messages"], row["fields"], row["role_name"]
        others = sorted(
            (other for other in names if other != name),
            key=lambda other: _rank(row["id"], other),
        )[:3]
        rows.append(
            {
                "id": row["id"],
                "system": turns[0]["content"] if turns[0]["role"] == "system" else "",
                "prompts": [turn["content"] for turn in turns if turn["role"] == "user"],
                "messages": turns,
                "rejection_labels": [int(flag) for flag in fields["rejections"]],
                "evidence": fields["evidence"],
                "role_consist_cands": sorted([name, *others], key=lambda c: _rank(c, row["id"])),
                "label": name,
                "lang": row["language"],
            }
        )
    return pl.DataFrame(rows, schema=DITTO_COLUMNS)


def _rank(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


DITTO_COLUMNS = {
    "id": pl.String,
    "system": pl.String,
    "prompts": pl.List(pl.String),
    "messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String})),
    "rejection_labels": pl.List(pl.Int64),
    "evidence": pl.List(pl.String),
    "role_consist_cands": pl.List(pl.String),
    "label": pl.String,
    "lang": pl.String,
}

VIEWS: tuple[View, ...] = (
    View("rolebench", ("context_instruct", "style_transfer"), rolebench_view),
    View("ditto", ("self_alignment",), ditto_view),
)
