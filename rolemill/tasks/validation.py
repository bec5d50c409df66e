"""The Great Expectations gate: every config of a dataset is validated before it is published.

Each config's frame is checked against a `ConfigExpectations` (its exact column set,
non-null and unique columns, allowed values, a minimum row count) by an ephemeral GX
context. GX validates pandas, not polars, so frames are converted at this boundary; GX
is slow to import (about 10 s), so it is imported only when a gate runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

# How many offending values or row positions a failure line quotes.
QUOTED_VALUES = 5
NESTED_TYPES = (pl.List, pl.Array, pl.Struct)


class ConfigExpectations(BaseModel):
    """What one config's frame must satisfy to be published."""

    model_config = ConfigDict(extra="forbid")

    columns: list[str] = Field(description="the exact set of columns (order does not matter)")
    non_null: list[str] = Field(default_factory=list, description="columns without nulls")
    unique: list[str] = Field(default_factory=list, description="columns whose values are unique")
    value_sets: dict[str, list[str]] = Field(
        default_factory=dict, description="column -> the values it may hold (nulls aside)"
    )
    min_rows: int = Field(default=1, ge=0, description="the fewest rows the frame may have")

    @classmethod
    def for_samples(
        cls, columns: Sequence[str], tasks: Sequence[str] | None = None, min_rows: int = 1
    ) -> ConfigExpectations:
        """The expectations of a frame in the canonical sample schema (`schemas/sample.py`)."""
        required = ["id", "config", "task", "role_id", "role_name", "language", "messages"]
        value_sets: dict[str, list[str]] = {"language": ["en", "zh"]}
        if tasks is not None:
            value_sets["task"] = list(tasks)
        return cls(
            columns=list(columns),
            non_null=[c for c in required if c in columns],
            unique=["id"],
            value_sets=value_sets,
            min_rows=min_rows,
        )

    def referenced_columns(self) -> set[str]:
        """Columns whose values some expectation reads (the column set reads only names)."""
        return {*self.non_null, *self.unique, *self.value_sets}


@dataclass
class GateResult:
    """The outcome of validating one config."""

    config: str
    success: bool
    failures: list[str] = field(default_factory=list)
    """one readable line per failed expectation"""
    evaluated: int = 0
    """how many expectations were evaluated"""


class ValidationGateError(Exception):
    """One or more configs failed the validation gate; nothing may be published."""

    def __init__(self, results: Sequence[GateResult]) -> None:
        self.results = [r for r in results if not r.success]
        lines = [
            f"validation gate failed for {len(self.results)} of {len(results)} config(s); "
            "fix the generator or filter that produced these rows (or the expectations), "
            "then rebuild:"
        ]
        for result in self.results:
            lines.append(
                f"  config `{result.config}` ({len(result.failures)} of "
                f"{result.evaluated} expectations failed):"
            )
            lines.extend(f"    - {failure}" for failure in result.failures)
        super().__init__("\n".join(lines))


def raise_if_failed(results: Sequence[GateResult]) -> None:
    """Raise `ValidationGateError` naming every failed config and expectation, if any failed."""
    if any(not result.success for result in results):
        raise ValidationGateError(results)


def validate_config(
    config_name: str, frame: pl.DataFrame, expectations: ConfigExpectations
) -> GateResult:
    """Validate one config's frame with an ephemeral Great Expectations context."""
    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch_definition = (
        context.data_sources.add_pandas("rolemill")
        .add_dataframe_asset(config_name)
        .add_batch_definition_whole_dataframe("whole frame")
    )
    suite = gx.ExpectationSuite(name=f"rolemill-{config_name}")
    for expectation in _expectations(gx.expectations, expectations):
        suite.add_expectation(expectation)

    batch = batch_definition.get_batch(
        batch_parameters={"dataframe": _to_pandas(frame, expectations)}
    )
    outcome = batch.validate(
        suite,
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": QUOTED_VALUES},
    )
    # GX returns results in its own order; report failures in the suite's order.
    rank = {_key(c): i for i, c in enumerate(suite.expectation_configurations)}
    failed = [result for result in outcome.results if not result.success]
    failed.sort(key=lambda result: rank.get(_key(result.expectation_config), len(rank)))
    failures = [_describe_failure(result) for result in failed]
    return GateResult(
        config=config_name,
        success=bool(outcome.success),
        failures=failures,
        evaluated=int(outcome.statistics["evaluated_expectations"]),
    )


def _import_gx() -> Any:
    """Import Great Expectations with its logging turned down to errors."""
    import great_expectations as gx

    # Some GX modules pin their own logger to INFO, so quieting the parent is not enough.
    for name in ["great_expectations", *logging.root.manager.loggerDict]:
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.ERROR)
    return gx


def _expectations(gxe: Any, spec: ConfigExpectations) -> list[Any]:
    expectations: list[Any] = [
        gxe.ExpectTableColumnsToMatchSet(column_set=list(spec.columns), exact_match=True),
        gxe.ExpectTableRowCountToBeBetween(min_value=spec.min_rows),
    ]
    expectations += [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in spec.non_null]
    expectations += [gxe.ExpectColumnValuesToBeUnique(column=c) for c in spec.unique]
    expectations += [
        gxe.ExpectColumnValuesToBeInSet(column=c, value_set=list(values))
        for c, values in spec.value_sets.items()
    ]
    return expectations


def _key(configuration: Any) -> tuple[str, str | None]:
    return configuration.type, configuration.kwargs.get("column")


def _to_pandas(frame: pl.DataFrame, spec: ConfigExpectations) -> Any:
    """The pandas frame GX sees: every column name, but values only where an expectation reads them.

    Unread columns become all-null placeholders (cheap to convert); nested columns that are
    read become canonical JSON strings (nulls kept), which pandas can hash and compare.
    """
    read = spec.referenced_columns()
    columns: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if name not in read:
            column = pl.lit(None, dtype=pl.Null).alias(name)
        elif isinstance(dtype, NESTED_TYPES):
            # Encode {name: value}, then unwrap to the value's own JSON.
            wrapper = "{" + json.dumps(name) + ":"
            encoded = (
                pl.struct(column)
                .struct.json_encode()
                .str.strip_prefix(wrapper)
                .str.strip_suffix("}")
            )
            column = pl.when(column.is_null()).then(None).otherwise(encoded).alias(name)
        columns.append(column)
    return frame.select(columns).to_pandas()


def _describe_failure(result: Any) -> str:
    """One line: the expectation type, its column, and what was observed."""
    config = result.expectation_config
    kind: str = config.type
    kwargs = config.kwargs
    where = f"{kind} on column `{kwargs['column']}`" if "column" in kwargs else kind
    errors = _exception_messages(result.exception_info)
    if errors:
        return f"{where}: could not be evaluated: {'; '.join(errors)}"

    observed: dict[str, Any] = dict(result.result or {})
    if kind == "expect_table_columns_to_match_set":
        mismatched = observed.get("details", {}).get("mismatched", {})
        parts = []
        if mismatched.get("missing"):
            parts.append(f"missing columns {sorted(mismatched['missing'])}")
        if mismatched.get("unexpected"):
            parts.append(f"unexpected columns {sorted(mismatched['unexpected'])}")
        return f"{where}: {'; '.join(parts) or 'observed ' + repr(observed.get('observed_value'))}"
    if kind == "expect_table_row_count_to_be_between":
        return (
            f"{where}: observed {observed.get('observed_value')} rows, "
            f"expected at least {kwargs.get('min_value')}"
        )

    count = observed.get("unexpected_count")
    total = observed.get("element_count")
    rows = observed.get("partial_unexpected_index_list") or []
    at_rows = f" at row indices {_quote(rows, count or len(rows))}" if rows else ""
    # GX counts values only within its partial sample, so quote the values, not their counts.
    values = _quote(
        [_short(item["value"]) for item in observed.get("partial_unexpected_counts", [])], 0
    )
    if kind == "expect_column_values_to_not_be_null":
        return f"{where}: {count} of {total} values are null{at_rows}"
    if kind == "expect_column_values_to_be_unique":
        return f"{where}: {count} of {total} values are duplicates ({values}){at_rows}"
    if kind == "expect_column_values_to_be_in_set":
        allowed = kwargs.get("value_set")
        return f"{where}: {count} of {total} values are outside {allowed} ({values}){at_rows}"
    return f"{where}: observed {observed}"


def _exception_messages(info: dict[str, Any] | None) -> list[str]:
    """Error messages of an expectation GX could not evaluate.

    GX 1.x reports them either flat ({raised_exception, exception_message}) or keyed by
    the metric that failed ({metric id: {raised_exception, exception_message}}).
    """
    if not info:
        return []
    entries = [info] if "raised_exception" in info else list(info.values())
    messages: list[str] = []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            lines = str(entry.get("exception_message") or "unknown error").strip().splitlines()
            message = lines[0] if lines else "unknown error"
            if message not in messages:
                messages.append(message)
    return messages


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _quote(items: Sequence[Any], total: int) -> str:
    shown = ", ".join(str(item) for item in items[:QUOTED_VALUES])
    return shown + (f", ... ({total} in all)" if total > QUOTED_VALUES else "")
