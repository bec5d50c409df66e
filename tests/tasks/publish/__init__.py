"""Tests of rolemill.tasks.publish; `sample_table` makes small, real sample configs."""

from __future__ import annotations

import pyarrow as pa

from rolemill.schemas.sample import Sample, sample_arrow_schema


def sample_table(config: str, rows: range) -> pa.Table:
    """Rows `rows` of `config`, as the canonical sample schema (no `fields` column)."""
    samples = []
    for i in rows:
        sample = Sample.build(
            config=config,
            task="chat",
            role_id=f"role-{i}",
            role_name=f"Role {i}",
            language="en",
            messages=[
                {"role": "user", "content": f"Hello {i}"},
                {"role": "assistant", "content": f"Greetings, traveller {i}."},
            ],
            provenance={"model": "scripted", "provider": "openai", "prompt_hash": "p0"},
        )
        row = sample.model_dump()
        row.pop("fields")
        samples.append(row)
    return pa.Table.from_pylist(samples, schema=sample_arrow_schema())
