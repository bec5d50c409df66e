"""A run's workspace: the folder under data/runs/<name>/ holding its shards, its staged
dataset and its summary. Shard files are written atomically, so what is there is whole."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from rolemill.paths import runs_dir


@dataclass(frozen=True)
class RunWorkspace:
    root: Path

    @classmethod
    def create(cls, name: str, run_id: str | None = None) -> RunWorkspace:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        root = runs_dir() / name / f"{stamp}-{(run_id or uuid.uuid4().hex)[:8]}"
        root.mkdir(parents=True, exist_ok=True)
        return cls(root)

    def shard(self, stage: str, index: int) -> Path:
        return self.root / "shards" / stage / f"shard-{index:05d}.parquet"

    @property
    def dataset(self) -> Path:
        """The staged dataset tree, exactly as it will be published."""
        return self.root / "dataset"

    @property
    def hub_scratch(self) -> Path:
        return self.root / "hub"

    @property
    def data_docs(self) -> Path:
        """The Great Expectations Data Docs site of the validation gate (index.html)."""
        return self.root / "data_docs"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def drop_report(self) -> Path:
        """What the build left out, per config and reason, with examples."""
        return self.root / "drops.json"
