"""Seed-compatible views: published configs in another dataset's own fields, made from
canonical samples (not separate pipelines)."""

from __future__ import annotations

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


VIEWS: tuple[View, ...] = (
    View("rolebench", ("context_instruct", "style_transfer"), rolebench_view),
)
