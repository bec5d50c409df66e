"""One readable line per failed Great Expectations expectation: its type, its column, and
what was observed against what was expected."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# How many offending values or row positions a failure line quotes.
QUOTED_VALUES = 5


def describe_failure(result: Any) -> str:
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
    if kind == "expect_column_values_to_be_of_type":
        return (
            f"{where}: observed type {observed.get('observed_value')}, "
            f"expected {kwargs.get('type_')}"
        )
    if kind == "expect_column_mean_to_be_between":
        return (
            f"{where}: observed mean {_number(observed.get('observed_value'))}, expected "
            f"{_range(kwargs)}"
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
    if kind == "expect_column_values_to_be_between":
        return (
            f"{where}: {count} of {total} values are outside {_range(kwargs)} ({values}){at_rows}"
        )
    return f"{where}: observed {observed}"


def _range(kwargs: dict[str, Any]) -> str:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    return (
        f"[{'-inf' if low is None else _number(low)}, {'inf' if high is None else _number(high)}]"
    )


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


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
