"""Semantic versions of a published dataset, and which one comes next.

A dataset's content is identified by `content_hash`: its config names, each config's
column names and types, and the set of its row ids (ids hash each row's content), so
row order does not matter; with a test split, also which ids are held out. Publishing
the same content again makes no new version; dropping a config or changing its columns
is a MAJOR change; anything else (rows added or removed or moved between splits, a
config added) is MINOR.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from rolemill.schemas.manifest import Manifest

BumpKind = Literal["major", "minor", "patch"]

_SEMVER = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")

FIRST_VERSION_TEXT = "0.1.0"


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse `1.2.3` or `v1.2.3`."""
        match = _SEMVER.match(text.strip())
        if not match:
            raise ValueError(
                f"not a dataset version: {text!r}; use MAJOR.MINOR.PATCH such as 0.1.0 or v0.1.0 "
                "(no pre-release or build suffix)"
            )
        return cls(*(int(part) for part in match.groups()))

    @property
    def tag(self) -> str:
        """The git tag / hub revision name, e.g. `v1.2.3`."""
        return f"v{self}"

    def bump(self, kind: BumpKind) -> Version:
        if kind == "major":
            return Version(self.major + 1, 0, 0)
        if kind == "minor":
            return Version(self.major, self.minor + 1, 0)
        if kind == "patch":
            return Version(self.major, self.minor, self.patch + 1)
        raise ValueError(f"unknown version bump {kind!r}; use 'major', 'minor' or 'patch'")

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


FIRST_VERSION = Version.parse(FIRST_VERSION_TEXT)


def content_hash(
    tables: dict[str, pa.Table], held_out: Mapping[str, pa.Array] | None = None
) -> str:
    """sha256 over sorted config names, their column names and types, and sorted ids,
    then each config's sorted `held_out` (test) ids present in it, if any: moving a row
    between splits is a change, a train-only version hashes as before splits existed."""
    held_out = held_out or {}
    digest = hashlib.sha256()
    for name in sorted(tables):
        table = tables[name]
        if "id" not in table.column_names:
            raise ValueError(
                f"config {name!r} has no 'id' column; every published table needs the "
                "content-hash id of its rows (see Sample.content_id)"
            )
        ids = table.column("id")
        if ids.null_count:
            raise ValueError(f"config {name!r} has {ids.null_count} rows without an id")
        columns = "\x1f".join(f"{field.name}:{field.type}" for field in table.schema)
        sorted_ids = pc.take(ids, pc.sort_indices(ids)).to_pylist()
        parts = [name, columns, "\x00".join(str(i) for i in sorted_ids)]
        test = held_out.get(name)
        if test is not None and len(test):
            in_test = pc.filter(ids, pc.is_in(ids, value_set=test.cast(ids.type)))
            parts += ["test", "\x00".join(sorted(str(i) for i in in_test.to_pylist()))]
        for part in parts:
            digest.update(part.encode())
            digest.update(b"\x1e")
    return digest.hexdigest()


def next_version(previous: Manifest | None, current: Manifest) -> Version | None:
    """The version `current` should be published as, or None if nothing changed."""
    if previous is None:
        return FIRST_VERSION
    if previous.content_hash == current.content_hash:
        return None
    last = Version.parse(previous.version)
    for name, config in previous.configs.items():
        now = current.configs.get(name)
        if now is None or now.columns != config.columns:
            return last.bump("major")
    return last.bump("minor")
