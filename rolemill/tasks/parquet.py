"""Write sample frames as hub-ready Parquet (zstd, plain Arrow string/list types)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq


def to_plain_arrow(frame: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    """Cast polars' large_string/large_list columns to the schema's plain types."""
    table = frame.to_arrow()
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise ValueError(f"sample frame lacks columns {missing}; expected {schema.names}")
    return table.select(schema.names).cast(schema)


def write_parquet(frame: pl.DataFrame, path: Path, schema: pa.Schema) -> Path:
    """Write `frame` to `path` atomically, with the schema's plain types."""
    return write_arrow(to_plain_arrow(frame, schema), path)


def write_arrow(table: pa.Table, path: Path) -> Path:
    """Write `table` to `path` atomically (a temp file renamed into place), zstd."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    pq.write_table(table, partial, compression="zstd")
    partial.replace(path)
    return path
