"""Seed-compatible views: published configs in another dataset's own fields, made from
canonical samples (not separate pipelines)."""

from __future__ import annotations

import polars as pl


def rolebench_view(samples: pl.DataFrame) -> pl.DataFrame:
    """RoleBench's fields: `role`, `question` (the user turn), `generated` (the answers).

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
