"""The pandas frame Great Expectations validates for one config, derived from its polars frame.

Polars stays the source: measures (messages per sample, reply lengths, label shares) are
computed here as polars expressions over the whole frame, and the result goes to pandas
backed by Arrow (close to zero-copy, and GX reads each column's type from its dtype
without touching the values). Nested columns that are hashed or compared (unique, value
sets) become canonical JSON strings, as pandas cannot hash Arrow lists or structs.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from rolemill.schemas.expectations import ConfigExpectations, Measure

NESTED_TYPES = (pl.List, pl.Array, pl.Struct)


def json_compared_columns(schema: pl.Schema, spec: ConfigExpectations) -> set[str]:
    """Nested columns GX sees as JSON text (so their type is not checked by GX)."""
    return {
        name
        for name in spec.compared_columns()
        if name in schema and isinstance(schema[name], NESTED_TYPES)
    }


def gx_frame(frame: pl.DataFrame, spec: ConfigExpectations) -> Any:
    """The frame's columns followed by the spec's measures.

    Only compared columns keep their values (nested ones as JSON); GX reads nothing but
    the type and the nulls of the others, so those are hollowed (an empty string, list or
    struct where a value was): cheap to convert and to fingerprint (GX hashes every batch).
    """
    encoded = json_compared_columns(frame.schema, spec)
    compared = spec.compared_columns()
    columns = [
        _as_json(name)
        if name in encoded
        else pl.col(name)
        if name in compared
        else _hollow(name, dtype)
        for name, dtype in frame.schema.items()
    ]
    measures = [
        _measure(measure, frame.schema).alias(name) for name, measure in spec.measures.items()
    ]
    return frame.select(columns + measures).to_pandas(use_pyarrow_extension_array=True)


def _hollow(name: str, dtype: Any) -> pl.Expr:
    """The column's type and nulls without its values (numbers and booleans are kept)."""
    column = pl.col(name)
    if isinstance(dtype, pl.String):
        empty: pl.Expr = pl.lit("")
    elif isinstance(dtype, pl.List):
        empty = pl.lit([], dtype=dtype)
    elif isinstance(dtype, pl.Struct):
        empty = pl.struct(*(pl.lit(None, dtype=f.dtype).alias(f.name) for f in dtype.fields))
    else:
        return column
    return pl.when(column.is_null()).then(None).otherwise(empty).alias(name)


def _as_json(name: str) -> pl.Expr:
    """A nested column as the JSON of each value (nulls kept)."""
    column = pl.col(name)
    # Encode {name: value}, then unwrap to the value's own JSON.
    wrapper = "{" + json.dumps(name) + ":"
    encoded = pl.struct(column).struct.json_encode().str.strip_prefix(wrapper).str.strip_suffix("}")
    return pl.when(column.is_null()).then(None).otherwise(encoded).alias(name)


def _source(path: str, schema: pl.Schema) -> pl.Expr | None:
    """`column` or `column.field`; None when the column is missing (the column-set check
    reports it)."""
    root, *fields = path.split(".")
    if root not in schema:
        return None
    expr = pl.col(root)
    for field in fields:
        expr = expr.struct.field(field)
    return expr


def _measure(measure: Measure, schema: pl.Schema) -> pl.Expr:
    source = _source(measure.column, schema)
    if source is None:
        return pl.lit(None, dtype=pl.Float64)
    if measure.kind == "message_count":
        return source.list.len().cast(pl.Int64)
    if measure.kind in ("shortest_reply_chars", "longest_reply_chars"):
        element = pl.element()
        lengths = source.list.eval(
            element.filter(element.struct.field("role") == "assistant")
            .struct.field("content")
            .str.len_chars()
        )
        extreme = (
            lengths.list.min() if measure.kind == "shortest_reply_chars" else lengths.list.max()
        )
        # A sample without an assistant turn has a reply of length 0.
        return pl.when(source.is_null()).then(None).otherwise(extreme.fill_null(0)).cast(pl.Int64)
    label = measure.label or ""
    root_type = schema[measure.column.split(".")[0]]
    is_list = _is_list_at(root_type, measure.column.split(".")[1:])
    if is_list:
        return source.list.eval(_matches(pl.element(), label)).list.mean().cast(pl.Float64)
    return _matches(source, label).cast(pl.Float64)


def _matches(values: pl.Expr, label: str) -> pl.Expr:
    return (values == label) | values.str.starts_with(label + "/")


def _is_list_at(dtype: Any, fields: list[str]) -> bool:
    for field in fields:
        dtype = {f.name: f.dtype for f in dtype.fields}[field]
    return isinstance(dtype, (pl.List, pl.Array))
