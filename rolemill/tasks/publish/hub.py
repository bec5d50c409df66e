"""`Hub`: what publishing needs from a place that holds a dataset's versions.

Two implementations: `GitLfsHub` (any git remote, Parquet through git-LFS; the local
hub by default) and `HfHub` (a dataset repository on the Hugging Face Hub). Which one
a recipe's `publish.target` names is decided by `rolemill.tasks.publish.targets`.

Every hub keeps the same promises: a version is a tag `vX.Y.Z` over exactly the files
of one staged dataset tree, it appears whole or not at all, and once published it is
never changed. The checks every hub runs before publishing live here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from rolemill.schemas.manifest import MANIFEST_FILENAME, Manifest
from rolemill.tasks.publish.dataset_tree import read_manifest
from rolemill.tasks.publish.versioning import Version


class HubError(Exception):
    """A hub refused or failed an operation; the message says what to do."""


@dataclass(frozen=True)
class PublishedVersion:
    remote: str
    tag: str
    commit: str


@dataclass(frozen=True)
class VersionInfo:
    """One published version as `rolemill hub list` shows it."""

    version: Version
    tag: str
    date: str  # ISO 8601, when the version was made
    rows: dict[str, int]  # rows per config, from the version's manifest


class Hub(Protocol):
    """A hub holding one dataset. Reading never creates anything; a missing hub has
    no versions."""

    remote: str  # where the hub is, as shown to people (never holds a secret)

    def ensure_remote(self) -> None:
        """Create the hub (local bare repository, Hub dataset repo) if it is missing."""
        ...

    def versions(self) -> list[Version]:
        """Published versions, oldest first."""
        ...

    def manifest(self, version: Version | str) -> Manifest:
        """`manifest.json` as published under `version`; HubError if there is none."""
        ...

    def latest_manifest(self) -> Manifest | None:
        """The newest version's manifest, or None before the first publish."""
        ...

    def list_versions(self) -> list[VersionInfo]:
        """Every version with its date and rows per config, oldest first."""
        ...

    def read_file(self, version: Version | str, path: str, dest: Path) -> Path | None:
        """Copy the file `path` as published under `version` to `dest`; None if it has none."""
        ...

    def read_texts(self, version: Version | str, paths: Sequence[str]) -> dict[str, str]:
        """Path -> text of small plain files of a version; paths it lacks are left out."""
        ...

    def publish(self, tree: Path, version: Version, message: str) -> PublishedVersion:
        """Publish the dataset tree at `tree` as `version`, whole or not at all."""
        ...


def checked_manifest(tree: Path, version: Version) -> Manifest:
    """The tree's manifest stamped with `version`, after checking its files' sha256."""
    try:
        manifest = read_manifest(tree)
    except (ValueError, ValidationError) as error:
        raise HubError(
            f"cannot publish {tree}: {error}; write the tree with write_dataset_tree"
        ) from error
    if manifest.version not in ("", str(version)):
        raise HubError(
            f"{tree / MANIFEST_FILENAME} says version {manifest.version!r} but publish was "
            f"asked for {version}; publish it as {manifest.version} or rewrite the tree"
        )
    from rolemill.tasks.publish.verify import file_problem  # verify.py imports HubError

    for file in manifest.files():
        problem = file_problem(tree, file)
        if problem:
            raise HubError(
                f"cannot publish {tree}: {tree / file.path} {problem}; rewrite the tree "
                "before publishing"
            )
    return manifest.model_copy(update={"version": str(version)})


def check_new_version(version: Version, published: list[Version], remote: str) -> None:
    """Versions are immutable and only go up: refuse an existing or older one."""
    existing = sorted(published)
    if version in existing:
        raise HubError(
            f"version {version.tag} already exists on hub {remote} (latest: "
            f"{existing[-1].tag}); published versions are immutable: publish as "
            f"{existing[-1].bump('minor').tag} or later"
        )
    if existing and version < existing[-1]:
        raise HubError(
            f"version {version.tag} is older than the latest on hub {remote} "
            f"({existing[-1].tag}); publish as {existing[-1].bump('minor').tag} or later"
        )


def unknown_version(remote: str, version: Version, published: list[Version]) -> HubError:
    shown = ", ".join(v.tag for v in published) or "none yet"
    return HubError(
        f"hub {remote} has no version {version.tag} (published: {shown}); "
        "pick one of those, or publish first"
    )


def parse_manifest(text: str, tag: str, remote: str) -> Manifest:
    """A published version's `manifest.json`; HubError if rolemill did not write it."""
    try:
        return Manifest.model_validate_json(text)
    except ValidationError as error:
        raise HubError(
            f"{MANIFEST_FILENAME} of {tag} on hub {remote} is not a rolemill "
            f"manifest ({error.error_count()} errors, first: {error.errors()[0]['msg']}); "
            "was the tag made by another tool?"
        ) from error


def as_version(version: Version | str) -> Version:
    return Version.parse(version) if isinstance(version, str) else version
