"""Tests of rolemill.tasks.publish; `sample_table` makes small, real sample configs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pyarrow as pa

from rolemill.schemas.sample import Sample, sample_arrow_schema
from rolemill.tasks.publish.dataset_tree import write_dataset_tree


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


def git(*args: str | Path, cwd: Path | None = None) -> str:
    """Run git (under test_git_lfs_hub.git_config, a private config); its stdout."""
    result = subprocess.run(
        ["git", *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"git {args} failed: {result.stderr}"
    return result.stdout


def make_tree(folder: Path, tables: dict[str, pa.Table]) -> Path:
    """A dataset tree of `tables` named demo, with a provisional card."""
    write_dataset_tree(folder, "demo", tables, card_body="# Demo", license="cc-by-4.0")
    return folder
