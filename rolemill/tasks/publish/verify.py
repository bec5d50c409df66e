"""Check a version read back from a hub against its `manifest.json`.

A folder holding one version (a clone at a tag, a tree about to be published, or the
files `download_version` fetched) must have every file the manifest lists, with the
listed sha256 and, for Parquet, the listed row count. `verify_folder` says which file
differs and how; `rolemill hub verify FOLDER` and `rolemill hub show --verify` use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
from pydantic import ValidationError

from rolemill.schemas.manifest import MANIFEST_FILENAME, Manifest, ManifestFile
from rolemill.tasks.publish.dataset_tree import file_sha256, manifest_text, read_manifest
from rolemill.tasks.publish.hub import HubError, as_version

if TYPE_CHECKING:
    from rolemill.tasks.publish.hub import Hub
    from rolemill.tasks.publish.versioning import Version

_LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"


class ManifestMismatch(HubError):
    """A file of a version is missing or differs from what its manifest says."""


def verify_folder(folder: Path) -> Manifest:
    """The folder's manifest, after checking every listed file's sha256 and row count;
    ManifestMismatch naming the first file that differs."""
    folder = Path(folder)
    try:
        manifest = read_manifest(folder)
    except (ValueError, ValidationError) as error:
        raise ManifestMismatch(
            f"{folder / MANIFEST_FILENAME} cannot be read as a rolemill manifest: {error}"
        ) from error
    for file in manifest.files():
        problem = file_problem(folder, file)
        if problem:
            raise ManifestMismatch(f"{folder / file.path} {problem}")
    return manifest


def file_problem(folder: Path, file: ManifestFile) -> str | None:
    """What is wrong with one listed file of `folder` (a phrase), or None if it matches."""
    path = folder / file.path
    if not path.is_file():
        return f"is missing: {MANIFEST_FILENAME} lists it"
    with path.open("rb") as stream:
        if stream.read(len(_LFS_POINTER)) == _LFS_POINTER:
            return "is a git-LFS pointer, not the file: run `git lfs pull` in the clone"
    if file_sha256(path) != file.sha256:
        return (
            f"does not match its sha256 in {MANIFEST_FILENAME} (expected {file.sha256[:12]}..., "
            "the file was changed or corrupted): fetch the version again"
        )
    if path.suffix == ".parquet":
        try:
            rows = pq.read_metadata(path).num_rows
        except (OSError, ValueError) as error:
            return f"is not readable Parquet ({error})"
        if rows != file.rows:
            return f"holds {rows} rows but {MANIFEST_FILENAME} says {file.rows}"
    return None


def download_version(hub: Hub, version: Version | str, dest: Path) -> Path:
    """Fetch a version's manifest and every file it lists into `dest` (for verify_folder)."""
    version = as_version(version)
    manifest = hub.manifest(version)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / MANIFEST_FILENAME).write_text(manifest_text(manifest), encoding="utf-8")
    for file in manifest.files():
        if hub.read_file(version, file.path, dest / file.path) is None:
            raise ManifestMismatch(
                f"{file.path} of {version.tag} on hub {hub.remote} is missing: "
                f"{MANIFEST_FILENAME} lists it"
            )
    return dest
