"""Dedup across versions within a build: which published rows a build compares against,
and the index the new version carries.

What is compared is the union of two indexes (`rolemill.tasks.dedup_index`):

- the hub's: the one the latest published version carries (`dedup/index.parquet`),
  fetched alone (its tag's git objects and that one LFS object);
- the recipe's shared one (`dedup.index`), if set and present: read *in addition to* the
  hub's, not instead, so a new or misplaced shared file never makes a build forget the
  dataset's own published rows, and a shared file lets datasets avoid each other's rows.

Each new version carries the hub's previous index plus the rows it publishes: the index
is cumulative, so a row published in any earlier version stays known even when later
versions no longer hold it. After a publish (or a build whose content the hub already
holds) the same rows are merged into the shared index under a lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from rolemill.schemas.manifest import ManifestFile
from rolemill.tasks.dedup_index import (
    INDEX_PATH,
    DedupIndex,
    IndexSettings,
    add_to_shared_index,
    build_index,
    drop_published_copies,
    load_index,
    read_settings,
    save_index,
    union,
)
from rolemill.tasks.drop_report import PUBLISHED_COPY, DropReport
from rolemill.tasks.publish.dataset_tree import file_sha256

if TYPE_CHECKING:
    from rolemill.flows.summary import BuildSummary
    from rolemill.flows.workspace import RunWorkspace
    from rolemill.schemas.quality import DedupConfig
    from rolemill.schemas.recipe import LoadedRecipe


@dataclass
class PublishedIndex:
    """The published rows a build compares against, and where they came from."""

    dedup: DedupConfig
    hub_file: Path | None = None
    """a copy of the index the latest version on the hub carries, if it carries one"""
    hub_version: str | None = None
    shared_path: Path | None = None
    hub_index: DedupIndex | None = None
    """`hub_file` read (by `drop_copies`)"""
    compared: DedupIndex | None = None
    """hub's + shared (by `drop_copies`; None when `dedup.across_versions` is off)"""
    configs: list[str] = field(default_factory=list)
    """the deduplicated configs (their rows go into the index)"""
    staged: DedupIndex | None = None
    """the index of the version being published (`stage`)"""

    @classmethod
    def fetch(cls, loaded: LoadedRecipe, workspace: RunWorkspace) -> PublishedIndex:
        """Download the latest version's index and check it and the shared one against the
        recipe's settings: before any LLM request, so a mismatch costs nothing. The rows
        are read later, by `drop_copies`."""
        from rolemill.tasks.publish.release import hub_for

        recipe = loaded.recipe
        dedup = recipe.dedup
        published = cls(dedup, shared_path=dedup.index)
        if dedup.index is not None and dedup.index.exists():
            _check(read_settings(dedup.index), dedup, f"at {dedup.index} (dedup.index)")
        if not dedup.across_versions or not recipe.publish.enabled:
            return published
        hub = hub_for(recipe.publish.target or recipe.name, workspace.hub_scratch)
        versions = hub.versions()
        if versions:
            copy = workspace.root / "published-index.parquet"
            if hub.read_file(versions[-1], INDEX_PATH, copy) is not None:
                where = f"of {versions[-1].tag} on hub {hub.remote}"
                _check(read_settings(copy), dedup, where)
                published.hub_file, published.hub_version = copy, versions[-1].tag
        return published

    def _read(self) -> None:
        self.hub_index = load_index(self.hub_file) if self.hub_file is not None else None
        shared = self.shared_path
        shared_index = load_index(shared) if shared is not None and shared.exists() else None
        if shared_index is not None:
            shared_index.check(self.dedup, f"at {shared} (dedup.index)")
        self.compared = union(IndexSettings.of(self.dedup), [self.hub_index, shared_index])

    def source(self) -> str:
        """Where the compared rows were published, for the summary."""
        parts = [self.hub_version] if self.hub_version else []
        if self.shared_path is not None and self.shared_path.exists():
            parts.append(f"the shared index {self.shared_path}")
        return " and ".join(parts)

    def drop_copies(
        self,
        tables: dict[str, pl.DataFrame],
        configs: list[str],
        summary: BuildSummary,
        drops: DropReport,
    ) -> None:
        """Drop from `tables[config]` the new rows that copy published rows; count them."""
        self.configs = [name for name in configs if name in tables]
        if not self.dedup.across_versions:
            return
        self._read()
        assert self.compared is not None
        summary.dedup_published_from = self.source()
        for name in self.configs:
            outcome = drop_published_copies(tables[name], name, self.compared, self.dedup)
            tables[name] = outcome.kept
            summary.dedup_published += outcome.dropped
            examples = [{"id": new, "copies_published": old} for new, old in outcome.examples]
            drops.add(name, PUBLISHED_COPY, outcome.dropped, examples)

    def version_index(self, tables: dict[str, pl.DataFrame]) -> DedupIndex:
        """The index a version holding `tables` carries: the hub's previous one plus the
        rows it does not hold yet."""
        known = self.hub_index.rows if self.hub_index is not None else None
        fresh = {}
        for name in self.configs:
            frame = tables[name]
            if known is not None:
                ids = known.filter(pl.col("config") == name)["id"]
                frame = frame.filter(~pl.col("id").is_in(ids.implode()))
            fresh[name] = frame
        return union(IndexSettings.of(self.dedup), [self.hub_index, build_index(fresh, self.dedup)])

    def stage(self, tables: dict[str, pl.DataFrame], tree: Path) -> ManifestFile:
        """Save the version's index (`version_index`) into a dataset tree; its manifest entry."""
        self.staged = self.version_index(tables)
        path = save_index(self.staged, tree / INDEX_PATH)
        return ManifestFile(
            path=INDEX_PATH,
            sha256=file_sha256(path),
            rows=len(self.staged),
            bytes=path.stat().st_size,
        )

    def share(self) -> None:
        """Merge the staged index into the shared one, if the recipe names one (after the
        publish: only published rows go into it)."""
        if self.shared_path is not None and self.staged is not None:
            add_to_shared_index(self.shared_path, self.staged)


def _check(settings: IndexSettings, dedup: DedupConfig, where: str) -> None:
    DedupIndex(settings).check(dedup, where)


__all__ = ["PublishedIndex"]
