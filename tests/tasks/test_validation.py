import polars as pl
import pytest

from rolemill.schemas.sample import Provenance, Sample
from rolemill.tasks.validation import (
    ConfigExpectations,
    GateResult,
    ValidationGateError,
    raise_if_failed,
    validate_config,
)

TASKS = ["mrc/answer", "mrc/refusal"]
QUESTIONS = [
    ("Where did you keep your tobacco?", "In the toe end of a Persian slipper.", "mrc/answer"),
    ("What is the capital of Mars?", "That lies beyond what I know, I fear.", "mrc/refusal"),
    ("Who is your landlady?", "Mrs. Hudson, a most patient woman.", "mrc/answer"),
]


def _frame() -> pl.DataFrame:
    samples = [
        Sample.build(
            config="role_mrc",
            task=task,
            role_id="sherlock-holmes",
            role_name="Sherlock Holmes",
            language="en",
            messages=[
                {"role": "system", "content": "You are Sherlock Holmes."},
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ],
            fields={"passage_id": f"p{i}", "answerable": task == "mrc/answer"},
            provenance=Provenance(model="m", provider="local", prompt_hash="abc"),
        )
        for i, (question, answer, task) in enumerate(QUESTIONS)
    ]
    return pl.DataFrame([s.model_dump() for s in samples])


def _expectations(frame: pl.DataFrame) -> ConfigExpectations:
    return ConfigExpectations.for_samples(frame.columns, tasks=TASKS)


def _set_row(frame: pl.DataFrame, column: str, row: int, value: object) -> pl.DataFrame:
    target = pl.int_range(pl.len()) == row
    return frame.with_columns(
        pl.when(target)
        .then(pl.lit(value, dtype=frame.schema[column]))
        .otherwise(pl.col(column))
        .alias(column)
    )


def test_clean_frame_passes_quietly(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    frame = _frame()
    expectations = _expectations(frame)

    result = validate_config("role_mrc", frame, expectations)

    assert result == GateResult(config="role_mrc", success=True, failures=[], evaluated=12)
    # 2 table expectations + 7 non-null + 1 unique + 2 value sets
    assert len(expectations.non_null) == 7
    raise_if_failed([result])
    captured = capfd.readouterr()
    assert "Calculating Metrics" not in captured.err + captured.out
    assert not [r for r in caplog.records if r.name.startswith("great_expectations")]


def test_null_in_non_null_column_fails_naming_it() -> None:
    frame = _set_row(_frame(), "role_name", 1, None)

    result = validate_config("role_mrc", frame, _expectations(frame))

    assert not result.success
    assert result.failures == [
        "expect_column_values_to_not_be_null on column `role_name`: "
        "1 of 3 values are null at row indices 1"
    ]


def test_null_in_nested_column_is_seen() -> None:
    frame = _set_row(_frame(), "messages", 2, None)

    result = validate_config("role_mrc", frame, _expectations(frame))

    assert result.failures == [
        "expect_column_values_to_not_be_null on column `messages`: "
        "1 of 3 values are null at row indices 2"
    ]


def test_duplicate_id_fails_naming_the_id() -> None:
    frame = _frame()
    duplicated = pl.concat([frame, frame.slice(0, 1)])

    result = validate_config("role_mrc", duplicated, _expectations(frame))

    assert not result.success
    [failure] = result.failures
    assert failure.startswith("expect_column_values_to_be_unique on column `id`: 2 of 4 values")
    assert repr(frame["id"][0]) in failure
    assert "row indices 0, 3" in failure


def test_duplicate_nested_values_are_compared_as_json() -> None:
    frame = _frame()
    first = pl.col("messages").first()
    copied = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(first).otherwise(pl.col("messages"))
    )
    expectations = _expectations(frame).model_copy(update={"unique": ["id", "messages"]})

    result = validate_config("role_mrc", copied, expectations)

    [failure] = result.failures
    assert failure.startswith("expect_column_values_to_be_unique on column `messages`: 2 of 3")
    assert '\'[{"role":"system"' in failure


def test_label_outside_its_set_fails_naming_value_and_column() -> None:
    frame = _set_row(_frame(), "task", 0, "mrc/bogus")

    result = validate_config("role_mrc", frame, _expectations(frame))

    assert result.failures == [
        "expect_column_values_to_be_in_set on column `task`: 1 of 3 values are outside "
        "['mrc/answer', 'mrc/refusal'] ('mrc/bogus') at row indices 0"
    ]


def test_missing_and_extra_columns_fail() -> None:
    frame = _frame()
    expectations = _expectations(frame)

    result = validate_config(
        "role_mrc", frame.drop("provenance").with_columns(extra=pl.lit(1)), expectations
    )
    assert result.failures == [
        "expect_table_columns_to_match_set: missing columns ['provenance']; "
        "unexpected columns ['extra']"
    ]

    # A column that an expectation reads is missing: that expectation fails too.
    result = validate_config("role_mrc", frame.drop("language"), expectations)
    assert result.failures[0] == ("expect_table_columns_to_match_set: missing columns ['language']")
    assert any(
        f.startswith("expect_column_values_to_not_be_null on column `language`: could not")
        and "language" in f.split(":", 1)[1]
        for f in result.failures
    )


def test_zero_rows_fail() -> None:
    frame = _frame().clear()

    result = validate_config("role_mrc", frame, _expectations(frame))

    assert result.failures == [
        "expect_table_row_count_to_be_between: observed 0 rows, expected at least 1"
    ]


def test_gate_error_names_configs_and_failures() -> None:
    frame = _frame()
    results = [
        validate_config("role_mrc", frame, _expectations(frame)),
        validate_config("ditto", _set_row(frame, "language", 0, "fr"), _expectations(frame)),
    ]

    with pytest.raises(ValidationGateError) as caught:
        raise_if_failed(results)

    message = str(caught.value)
    assert "failed for 1 of 2 config(s)" in message
    assert "config `ditto` (1 of 12 expectations failed)" in message
    assert "expect_column_values_to_be_in_set on column `language`" in message
    assert "'fr'" in message
    assert "role_mrc" not in message
    assert [r.config for r in caught.value.results] == ["ditto"]
