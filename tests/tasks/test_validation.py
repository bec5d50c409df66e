import re
from pathlib import Path

import polars as pl
import pytest

from rolemill.schemas.dataset_configs import DATASET_CONFIGS, gate_expectations
from rolemill.schemas.expectations import Bound, Measure
from rolemill.schemas.recipe import Recipe
from rolemill.schemas.sample import Provenance, Sample
from rolemill.tasks.validation import (
    ConfigExpectations,
    GateReport,
    GateResult,
    ValidationGateError,
    raise_if_failed,
    run_gate,
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
    raise_if_failed(GateReport([result]))
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
        raise_if_failed(GateReport(results))

    message = str(caught.value)
    assert "failed for 1 of 2 config(s)" in message
    assert "config `ditto` (1 of 12 expectations failed)" in message
    assert "expect_column_values_to_be_in_set on column `language`" in message
    assert "'fr'" in message
    assert "role_mrc" not in message
    assert [r.config for r in caught.value.results] == ["ditto"]


SAMPLE_TYPES = {
    "id": "str",
    "config": "str",
    "task": "str",
    "language": "str",
    "messages": "list",
    "fields": "dict",
    "provenance": "dict",
}
MESSAGES = Measure(kind="message_count", column="messages")
SHORTEST = Measure(kind="shortest_reply_chars", column="messages")
LONGEST = Measure(kind="longest_reply_chars", column="messages")
REFUSALS = Measure(kind="label_share", column="task", label="mrc/refusal")


def _checked(
    measures: dict[str, Measure],
    bounds: dict[str, Bound] | None = None,
    means: dict[str, Bound] | None = None,
) -> ConfigExpectations:
    return _expectations(_frame()).with_checks(measures, bounds, means)


def test_column_types_pass_and_a_wrong_type_fails() -> None:
    frame = _frame()
    typed = _expectations(frame).model_copy(update={"types": SAMPLE_TYPES})

    assert validate_config("role_mrc", frame, typed).success

    result = validate_config("role_mrc", frame.with_columns(task=pl.lit(7)), typed)
    assert result.failures[0] == (
        "expect_column_values_to_be_of_type on column `task`: observed type int, expected str"
    )
    result = validate_config("role_mrc", frame.with_columns(fields=pl.lit("x")), typed)
    assert result.failures == [
        "expect_column_values_to_be_of_type on column `fields`: observed type str, expected dict"
    ]


def test_message_count_bounds() -> None:
    frame = _frame()  # system, user, assistant

    assert validate_config(
        "role_mrc",
        frame,
        _checked({"message_count": MESSAGES}, {"message_count": Bound(min=3, max=3)}),
    ).success
    result = validate_config(
        "role_mrc",
        frame,
        _checked({"message_count": MESSAGES}, {"message_count": Bound(min=4, max=9)}),
    )
    assert result.failures == [
        "expect_column_values_to_be_between on column `message_count`: 3 of 3 values are "
        "outside [4, 9] (3) at row indices 0, 1, 2"
    ]


def test_reply_length_bounds() -> None:
    frame = _frame()  # replies of 36, 37 and 34 characters
    measures = {"shortest_reply_chars": SHORTEST, "longest_reply_chars": LONGEST}

    good = {"shortest_reply_chars": Bound(min=34), "longest_reply_chars": Bound(max=37)}
    assert validate_config("role_mrc", frame, _checked(measures, good)).success

    bad = {"shortest_reply_chars": Bound(min=35), "longest_reply_chars": Bound(max=36)}
    result = validate_config("role_mrc", frame, _checked(measures, bad))
    assert result.failures == [
        "expect_column_values_to_be_between on column `shortest_reply_chars`: 1 of 3 values "
        "are outside [35, inf] (34) at row indices 2",
        "expect_column_values_to_be_between on column `longest_reply_chars`: 1 of 3 values "
        "are outside [-inf, 36] (37) at row indices 1",
    ]


def test_a_sample_without_a_reply_has_reply_length_zero() -> None:
    frame = _frame().with_columns(pl.col("messages").list.head(2))  # no assistant turn
    spec = _checked({"shortest_reply_chars": SHORTEST}, {"shortest_reply_chars": Bound(min=1)})

    [failure] = validate_config("role_mrc", frame, spec).failures
    assert "3 of 3 values are outside [1, inf] (0)" in failure


def test_label_share_of_a_task_prefix() -> None:
    frame = _frame()  # one refusal in three samples

    ok = _checked({"refusal_share": REFUSALS}, means={"refusal_share": Bound(min=0.3, max=0.4)})
    assert validate_config("role_mrc", frame, ok).success

    bad = _checked({"refusal_share": REFUSALS}, means={"refusal_share": Bound(min=0.4, max=0.5)})
    assert validate_config("role_mrc", frame, bad).failures == [
        "expect_column_mean_to_be_between on column `refusal_share`: observed mean 0.3333, "
        "expected [0.4, 0.5]"
    ]


def test_label_share_over_a_list_of_labels_in_a_struct() -> None:
    kinds = [["general", "out_of_knowledge"], ["own_world", "own_world"], ["out_of_knowledge"] * 2]
    frame = pl.DataFrame({"id": ["a", "b", "c"], "fields": [{"kinds": k} for k in kinds]})
    share = Measure(kind="label_share", column="fields.kinds", label="out_of_knowledge")
    spec = ConfigExpectations(columns=frame.columns, measures={"ook_share": share})

    ok = spec.with_checks(means={"ook_share": Bound(min=0.5, max=0.5)})
    assert validate_config("ditto_like", frame, ok).success  # 3 of 6 turns
    bad = spec.with_checks(means={"ook_share": Bound(min=0.1, max=0.2)})
    assert validate_config("ditto_like", frame, bad).failures == [
        "expect_column_mean_to_be_between on column `ook_share`: observed mean 0.5, "
        "expected [0.1, 0.2]"
    ]


def test_measure_specs_are_checked() -> None:
    with pytest.raises(ValueError, match="label_share measure needs `label`"):
        Measure(kind="label_share", column="task")
    with pytest.raises(ValueError, match=r"measures \['task'\] have the names of columns"):
        _checked({"task": MESSAGES})


def _recipe(**validation: object) -> Recipe:
    return Recipe.model_validate(
        {
            "name": "gate",
            "seeds": {"characters": ["x.yaml"]},
            "generators": {
                "mrc": {"answer_share": 0.5, "refusal_share": 0.3, "attempt_share": 0.2}
            },
            "validation": validation,
        }
    )


def test_recipe_sets_length_bounds_and_shares_from_enough_rows() -> None:
    recipe = _recipe(max_reply_chars=500, share_tolerance=0.1, min_rows_for_shares=50)

    few = gate_expectations("mrc", recipe, rows=49)
    assert few.bounds["longest_reply_chars"] == Bound(max=500)
    assert few.bounds["message_count"] == Bound(min=2, max=64)
    assert few.means == {}  # too few rows to hold a share

    many = gate_expectations("mrc", recipe, rows=50)
    assert many.means["refusal_share"] == Bound(min=0.2, max=0.4)
    assert many.means["answer_share"] == Bound(min=0.4, max=0.6)
    assert many.measures["refusal_share"] == REFUSALS
    ditto = gate_expectations("self_alignment", recipe, rows=50)
    assert ditto.means["out_of_knowledge_share"] == Bound(min=0.2, max=0.4)
    assert ditto.measures["general_share"].column == "fields.kinds"

    # Views and profiles keep their fixed suites; every config checks its column types.
    assert (
        gate_expectations("rolebench", recipe, rows=50) == DATASET_CONFIGS["rolebench"].expectations
    )
    assert all(
        set(c.expectations.types) == set(c.arrow_schema.names) for c in DATASET_CONFIGS.values()
    )


def test_bounds_in_the_wrong_order_are_refused() -> None:
    with pytest.raises(ValueError, match="min_reply_chars is above max_reply_chars"):
        _recipe(min_reply_chars=10, max_reply_chars=5)


def test_gate_writes_one_data_docs_site_and_names_it_in_the_error(tmp_path: Path) -> None:
    frame = _frame()
    bounded = _checked({"longest_reply_chars": LONGEST}, {"longest_reply_chars": Bound(max=10)})
    docs = tmp_path / "data_docs"

    report = run_gate(
        {"mrc": (frame, bounded), "profiles_like": (frame, _expectations(frame))}, docs
    )

    assert report.data_docs == docs / "index.html"
    index = report.data_docs.read_text()
    for suite in ("rolemill-mrc", "rolemill-profiles_like"):
        assert suite in index
        [page] = (docs / "validations" / suite).rglob("*.html")
        assert suite in page.read_text()
    assert [r.success for r in report.results] == [False, True]
    assert report.failure_lines() == [
        "mrc: expect_column_values_to_be_between on column `longest_reply_chars`: 3 of 3 "
        "values are outside [-inf, 10] (34, 36, 37) at row indices 0, 1, 2"
    ]

    with pytest.raises(ValidationGateError) as caught:
        raise_if_failed(report)
    message = str(caught.value)
    assert "config `mrc` (1 of " in message
    assert "expect_column_values_to_be_between on column `longest_reply_chars`" in message
    assert re.search(rf"Data Docs .*: {re.escape(str(docs / 'index.html'))}$", message)
    assert "profiles_like" not in message
