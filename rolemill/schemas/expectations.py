"""What one config's frame must satisfy to be published: the declarative side of a GX suite.

`ConfigExpectations` names columns and bounds; `tasks/validation.py` turns it into a Great
Expectations suite. Some checks read numbers that are not columns of the config (messages
per sample, the length of the replies, the share of a label): each is a `Measure`, a
per-row number computed from the config's columns and validated like a column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

MeasureKind = Literal["message_count", "shortest_reply_chars", "longest_reply_chars", "label_share"]
# The Python type GX sees for each Arrow type (pandas columns backed by Arrow).
ColumnKind = Literal["str", "int", "float", "bool", "list", "dict"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Measure(_Spec):
    """A per-row number computed from a config's columns.

    message_count: messages in the row's `column` (a chat message list).
    shortest_reply_chars / longest_reply_chars: characters of the row's shortest / longest
    assistant turn in `column` (0 when it has none).
    label_share: for a string `column`, 1 when the value is `label` or starts with
    `label/` (else 0); for a list of strings, the share of its items that match. The mean
    over rows is the label's share (per item, as long as every row's list has one length).
    `column` may name a struct field with a dot, e.g. `fields.kinds`.
    """

    kind: MeasureKind
    column: str
    label: str | None = None

    @model_validator(mode="after")
    def _label_when_needed(self) -> Measure:
        if (self.kind == "label_share") != (self.label is not None):
            raise ValueError("a label_share measure needs `label`; other measures take none")
        return self


class Bound(_Spec):
    """An inclusive range; None leaves that side open."""

    min: float | None = None
    max: float | None = None

    def __str__(self) -> str:
        low = "-inf" if self.min is None else f"{self.min:g}"
        high = "inf" if self.max is None else f"{self.max:g}"
        return f"[{low}, {high}]"


class ConfigExpectations(BaseModel):
    """What one config's frame must satisfy to be published."""

    model_config = ConfigDict(extra="forbid")

    columns: list[str] = Field(description="the exact set of columns (order does not matter)")
    types: dict[str, ColumnKind] = Field(
        default_factory=dict, description="column -> the Python type of its values"
    )
    non_null: list[str] = Field(default_factory=list, description="columns without nulls")
    unique: list[str] = Field(default_factory=list, description="columns whose values are unique")
    value_sets: dict[str, list[str]] = Field(
        default_factory=dict, description="column -> the values it may hold (nulls aside)"
    )
    min_rows: int = Field(default=1, ge=0, description="the fewest rows the frame may have")
    measures: dict[str, Measure] = Field(
        default_factory=dict, description="name -> a per-row number computed for the checks"
    )
    bounds: dict[str, Bound] = Field(
        default_factory=dict, description="column or measure -> the range of every value"
    )
    means: dict[str, Bound] = Field(
        default_factory=dict, description="column or measure -> the range of its mean (shares)"
    )

    @model_validator(mode="after")
    def _measure_names_are_free(self) -> ConfigExpectations:
        taken = set(self.columns) & set(self.measures)
        if taken:
            raise ValueError(f"measures {sorted(taken)} have the names of columns: rename them")
        return self

    @classmethod
    def for_samples(
        cls,
        columns: Sequence[str],
        tasks: Sequence[str] | None = None,
        min_rows: int = 1,
        types: dict[str, ColumnKind] | None = None,
    ) -> ConfigExpectations:
        """The expectations of a frame in the canonical sample schema (`schemas/sample.py`)."""
        required = ["id", "config", "task", "role_id", "role_name", "language", "messages"]
        value_sets: dict[str, list[str]] = {"language": ["en", "zh"]}
        if tasks is not None:
            value_sets["task"] = list(tasks)
        return cls(
            columns=list(columns),
            types=dict(types or {}),
            non_null=[c for c in required if c in columns],
            unique=["id"],
            value_sets=value_sets,
            min_rows=min_rows,
        )

    def with_checks(
        self,
        measures: dict[str, Measure] | None = None,
        bounds: dict[str, Bound] | None = None,
        means: dict[str, Bound] | None = None,
    ) -> ConfigExpectations:
        """A copy with more measures, value bounds and mean bounds."""
        return ConfigExpectations.model_validate(
            {
                **self.model_dump(),
                "measures": {**self.measures, **(measures or {})},
                "bounds": {**self.bounds, **(bounds or {})},
                "means": {**self.means, **(means or {})},
            }
        )

    def compared_columns(self) -> set[str]:
        """Columns whose values are hashed or compared (nested ones are compared as JSON)."""
        return {*self.unique, *self.value_sets}


def column_kinds(schema: pa.Schema) -> dict[str, ColumnKind]:
    """Each column's Python value type, from its Arrow type."""
    return {field.name: _kind(field.type) for field in schema}


def _kind(arrow_type: pa.DataType) -> ColumnKind:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "str"
    if pa.types.is_integer(arrow_type):
        return "int"
    if pa.types.is_floating(arrow_type):
        return "float"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return "list"
    if pa.types.is_struct(arrow_type):
        return "dict"
    raise ValueError(f"no validation type for Arrow type {arrow_type}")
