"""The configs a published dataset has: each one's Arrow schema and its validation suite."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from rolemill.schemas.persona import persona_arrow_schema
from rolemill.schemas.profile import profile_arrow_schema
from rolemill.schemas.sample import MESSAGE_TYPE, sample_arrow_schema
from rolemill.tasks.generators.base import SampleGenerator
from rolemill.tasks.generators.reading_comprehension.plan import ROLEMRC_TASKS
from rolemill.tasks.generators.registry import GENERATORS
from rolemill.tasks.validation import ConfigExpectations

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
            non_null=["id", "role_id", "role_name", "language", "index", "source", "mbti"],
            unique=["id", "role_id", "index"],
            value_sets={"language": LANGUAGES, "source": ["grid", "line"]},
        ),
    )


def _samples(generator: type[SampleGenerator]) -> DatasetConfig:
    """A generator's config: the canonical sample schema with its `fields` struct."""
    schema = sample_arrow_schema(generator.fields_type)
    expectations = ConfigExpectations.for_samples(schema.names, tasks=list(generator.tasks))
    expectations.value_sets["config"] = [generator.config]
    return DatasetConfig(generator.config, schema, expectations)


def _rolebench() -> DatasetConfig:
    return DatasetConfig(
        "rolebench",
        ROLEBENCH_SCHEMA,
        ConfigExpectations(
            columns=ROLEBENCH_SCHEMA.names,
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
