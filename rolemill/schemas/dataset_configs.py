"""The configs a published dataset has: each one's Arrow schema and its validation suite.

`DATASET_CONFIGS` holds what every build checks (columns, types, nulls, ids, label sets);
`gate_expectations` adds what depends on the recipe: length bounds and label shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from rolemill.schemas.expectations import Bound, ConfigExpectations, Measure, column_kinds
from rolemill.schemas.persona import persona_arrow_schema
from rolemill.schemas.profile import profile_arrow_schema
from rolemill.schemas.recipe import Recipe
from rolemill.schemas.sample import MESSAGE_TYPE, sample_arrow_schema
from rolemill.tasks.generators.base import SampleGenerator
from rolemill.tasks.generators.reading_comprehension.plan import ROLEMRC_TASKS
from rolemill.tasks.generators.registry import GENERATORS

ROLEBENCH_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("generated", pa.list_(pa.string()), nullable=False),
    ]
)
DITTO_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("system", pa.string(), nullable=False),
        pa.field("prompts", pa.list_(pa.string()), nullable=False),
        pa.field("messages", pa.list_(MESSAGE_TYPE), nullable=False),
        pa.field("rejection_labels", pa.list_(pa.int64()), nullable=False),
        pa.field("evidence", pa.list_(pa.string()), nullable=False),
        pa.field("role_consist_cands", pa.list_(pa.string()), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("lang", pa.string(), nullable=False),
    ]
)
ROLEMRC_SFT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("conversations", pa.list_(MESSAGE_TYPE), nullable=False),
    ]
)
ROLEMRC_TEST_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("question", pa.list_(MESSAGE_TYPE), nullable=False),
        pa.field("reference", pa.string(), nullable=False),
    ]
)
PREFERENCE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("prompt", pa.list_(MESSAGE_TYPE), nullable=False),
        pa.field("chosen", pa.string(), nullable=False),
        pa.field("rejected", pa.string(), nullable=False),
    ]
)
LANGUAGES = ["en", "zh"]


@dataclass(frozen=True)
class DatasetConfig:
    name: str
    arrow_schema: pa.Schema
    expectations: ConfigExpectations


def _profiles() -> DatasetConfig:
    schema = profile_arrow_schema()
    return DatasetConfig(
        "profiles",
        schema,
        ConfigExpectations(
            columns=schema.names,
            types=column_kinds(schema),
            non_null=["id", "role_id", "role_name", "language", "description"],
            unique=["id", "role_id"],
            value_sets={"language": LANGUAGES},
        ),
    )


def _personas() -> DatasetConfig:
    """What each synthetic role was drawn from (only when the recipe asks for personas)."""
    schema = persona_arrow_schema()
    return DatasetConfig(
        "personas",
        schema,
        ConfigExpectations(
            columns=schema.names,
            types=column_kinds(schema),
            non_null=["id", "role_id", "role_name", "language", "index", "source", "mbti"],
            unique=["id", "role_id", "index"],
            value_sets={"language": LANGUAGES, "source": ["grid", "line"]},
        ),
    )


def _samples(generator: type[SampleGenerator]) -> DatasetConfig:
    """A generator's config: the canonical sample schema with its `fields` struct."""
    schema = sample_arrow_schema(generator.fields_type)
    expectations = ConfigExpectations.for_samples(
        schema.names, tasks=list(generator.tasks), types=column_kinds(schema)
    )
    expectations.value_sets["config"] = [generator.config]
    return DatasetConfig(generator.config, schema, expectations)


def _rolebench() -> DatasetConfig:
    return DatasetConfig(
        "rolebench",
        ROLEBENCH_SCHEMA,
        ConfigExpectations(
            columns=ROLEBENCH_SCHEMA.names,
            types=column_kinds(ROLEBENCH_SCHEMA),
            non_null=ROLEBENCH_SCHEMA.names,
            unique=["id"],
        ),
    )


def _ditto() -> DatasetConfig:
    return DatasetConfig(
        "ditto",
        DITTO_SCHEMA,
        ConfigExpectations(
            columns=DITTO_SCHEMA.names,
            types=column_kinds(DITTO_SCHEMA),
            non_null=["id", "system", "label", "lang"],
            unique=["id"],
            value_sets={"lang": LANGUAGES},
        ),
    )


def _rolemrc(name: str, schema: pa.Schema) -> DatasetConfig:
    """A view over `mrc` rows in RoleMRC's fields, labelled with RoleMRC's task names."""
    return DatasetConfig(
        name,
        schema,
        ConfigExpectations(
            columns=schema.names,
            types=column_kinds(schema),
            non_null=schema.names,
            unique=["id"],
            value_sets={"task": list(ROLEMRC_TASKS)},
        ),
    )


DATASET_CONFIGS: dict[str, DatasetConfig] = {
    config.name: config
    for config in (
        _profiles(),
        _personas(),
        *(_samples(generator) for generator in GENERATORS.values()),
        _rolebench(),
        _ditto(),
        _rolemrc("rolemrc_sft", ROLEMRC_SFT_SCHEMA),
        _rolemrc("rolemrc_test", ROLEMRC_TEST_SCHEMA),
        _rolemrc("preference", PREFERENCE_SCHEMA),
    )
}


def _label_shares(recipe: Recipe) -> dict[str, dict[str, tuple[Measure, float]]]:
    """Per config: share name -> (the measure whose mean is that share, the recipe's share)."""
    mrc, ditto = recipe.generators.mrc, recipe.generators.self_alignment
    return {
        "mrc": {
            f"{outcome}_share": (
                Measure(kind="label_share", column="task", label=f"mrc/{outcome}"),
                share,
            )
            for outcome, share in (
                ("answer", mrc.answer_share),
                ("refusal", mrc.refusal_share),
                ("attempt", mrc.attempt_share),
            )
        },
        "self_alignment": {
            f"{kind}_share": (Measure(kind="label_share", column="fields.kinds", label=kind), share)
            for kind, share in (
                ("out_of_knowledge", ditto.out_of_knowledge_share),
                ("general", ditto.general_share),
            )
        },
    }


def gate_expectations(name: str, recipe: Recipe, rows: int) -> ConfigExpectations:
    """A config's suite for this recipe: the fixed checks, plus for generated samples the
    recipe's length bounds and, from `validation.min_rows_for_shares` rows on, its label
    shares within `validation.share_tolerance`."""
    expectations = DATASET_CONFIGS[name].expectations
    if name not in GENERATORS:
        return expectations
    gate = recipe.validation
    measures = {
        "message_count": Measure(kind="message_count", column="messages"),
        "shortest_reply_chars": Measure(kind="shortest_reply_chars", column="messages"),
        "longest_reply_chars": Measure(kind="longest_reply_chars", column="messages"),
    }
    bounds = {
        "message_count": Bound(min=gate.min_messages, max=gate.max_messages),
        "shortest_reply_chars": Bound(min=gate.min_reply_chars),
        "longest_reply_chars": Bound(max=gate.max_reply_chars),
    }
    means: dict[str, Bound] = {}
    if rows >= gate.min_rows_for_shares:
        for share_name, (measure, share) in _label_shares(recipe).get(name, {}).items():
            measures[share_name] = measure
            means[share_name] = Bound(
                # Rounded, so that 0.3 - 0.1 is 0.2 and not just below it.
                min=round(max(0.0, share - gate.share_tolerance), 9),
                max=round(min(1.0, share + gate.share_tolerance), 9),
            )
    return expectations.with_checks(measures, bounds, means)
