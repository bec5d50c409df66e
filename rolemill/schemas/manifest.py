"""The manifest of a published dataset version: `manifest.json` at the dataset root.

It says what a version holds (row counts, columns, files with their checksums) and
where it came from (content hash, rolemill version, recipe hash). It is a plain git
file, never LFS, so a hub can read it without downloading any Parquet.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MANIFEST_FILENAME = "manifest.json"


class ManifestFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="relative to the dataset root, e.g. data/x/train-...parquet")
    sha256: str
    rows: int = Field(ge=0)
    bytes: int = Field(ge=0)


class ManifestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: int = Field(ge=0)
    columns: list[str]
    files: list[ManifestFile]
    splits: dict[str, int] = Field(
        default_factory=dict, description="rows per split, e.g. {train: 90, test: 10}"
    )


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str = Field(description="semver without the leading v, e.g. 0.2.0; '' until published")
    content_hash: str = Field(description="sha256 over configs, column types and row ids")
    created: str = Field(description="ISO 8601 UTC time the tree was written")
    rolemill_version: str
    recipe_hash: str = ""
    configs: dict[str, ManifestConfig]
    dedup_index: ManifestFile | None = Field(
        default=None,
        description="the near-duplicate index of published rows (dedup/index.parquet)",
    )

    def files(self) -> list[ManifestFile]:
        """Every file the version holds besides the card and the manifest."""
        data = [file for config in self.configs.values() for file in config.files]
        return data + ([self.dedup_index] if self.dedup_index else [])

    def rows(self) -> dict[str, int]:
        """Rows per config."""
        return {name: config.rows for name, config in self.configs.items()}

    def split_rows(self) -> dict[str, dict[str, int]]:
        """Rows per split of each config (versions before splits: all in train)."""
        return {
            name: config.splits or {"train": config.rows} for name, config in self.configs.items()
        }
