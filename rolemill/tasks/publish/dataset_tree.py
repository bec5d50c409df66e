"""Write one dataset version in the hub layout, ready for any hub to publish.

    README.md                                    dataset card, YAML front matter
    manifest.json                                rows, columns, files + sha256
    data/<config>/train-00000-of-00001.parquet   zstd, rows sorted by id
    data/<config>/test-00000-of-00001.parquet    the held-out rows, when there are any
    dedup/index.parquet                          added by the release (published_index.py)

`datasets.load_dataset(<folder>, "<config>")` reads it as it is: a DatasetDict of the
config's splits (splits.py decides which rows are held out). A split without rows has no
file (`datasets` cannot read an empty one). The manifest's `version` stays "" here: the
hub stamps the version it publishes under.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from rolemill.schemas.manifest import MANIFEST_FILENAME, Manifest, ManifestConfig, ManifestFile
from rolemill.tasks.parquet import write_parquet
from rolemill.tasks.publish.card import card_front_matter, render_card
from rolemill.tasks.publish.versioning import content_hash

TRAIN, TEST = "train", "test"
_CONFIG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def data_file_path(config: str, split: str = TRAIN) -> str:
    """The Parquet file of a config's split, relative to the dataset root."""
    return f"data/{config}/{split}-00000-of-00001.parquet"


def split_tables(table: pa.Table, held_out: pa.Array | None) -> dict[str, pa.Table]:
    """A config's rows per split: those whose id is in `held_out` in test, the rest in
    train; splits without rows are left out (train stays when the config is empty)."""
    if held_out is None or len(held_out) == 0:
        return {TRAIN: table}
    in_test = pc.is_in(table.column("id"), value_set=held_out.cast(table.schema.field("id").type))
    parts = {TRAIN: table.filter(pc.invert(in_test)), TEST: table.filter(in_test)}
    return {split: part for split, part in parts.items() if part.num_rows} or {TRAIN: table}


def write_dataset_tree(
    out_dir: Path,
    name: str,
    tables: dict[str, pa.Table],
    *,
    card_body: str,
    license: str,
    recipe_hash: str = "",
    held_out: Mapping[str, pa.Array] | None = None,
) -> Manifest:
    """Write `tables` (config name -> rows with an `id` column) under `out_dir`; the
    rows whose ids `held_out` lists for their config go to the `test` split."""
    if not tables:
        raise ValueError(f"dataset {name!r} has no configs to write; give at least one table")
    for config in tables:
        if not _CONFIG_NAME.match(config):
            raise ValueError(
                f"config name {config!r} cannot be a folder name on the hub; use letters, "
                "digits, '_', '-' or '.' (at most 64, not starting with a symbol)"
            )
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(
            f"{out_dir} is not empty; a dataset tree is written to a fresh folder so no "
            "stale file is published: remove it or choose another folder"
        )
    out_dir.mkdir(parents=True, exist_ok=True)

    held_out = held_out or {}
    configs: dict[str, ManifestConfig] = {}
    for config in sorted(tables):
        table = tables[config]
        files = []
        splits = split_tables(table, held_out.get(config))
        for split, part in splits.items():
            relative = data_file_path(config, split)
            path = out_dir / relative
            # Sorted by id: the same rows always make the same bytes.
            write_parquet(pl.from_arrow(part.sort_by("id")), path, table.schema)
            size = path.stat().st_size
            files.append(
                ManifestFile(
                    path=relative, sha256=file_sha256(path), rows=part.num_rows, bytes=size
                )
            )
        configs[config] = ManifestConfig(
            rows=table.num_rows,
            columns=table.column_names,
            files=files,
            splits={split: part.num_rows for split, part in splits.items()},
        )

    manifest = Manifest(
        name=name,
        version="",
        content_hash=content_hash(tables, held_out),
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        rolemill_version=_rolemill_version(),
        recipe_hash=recipe_hash,
        configs=configs,
    )
    (out_dir / "README.md").write_text(dataset_card(manifest, card_body, license), encoding="utf-8")
    write_manifest(out_dir, manifest)
    return manifest


def dataset_card(manifest: Manifest, card_body: str, license: str) -> str:
    """A provisional README.md: the card's YAML metadata, then `card_body`.

    `card.write_card` replaces it with the whole card once the version is known.
    """
    return render_card(card_front_matter(manifest, license=license), card_body)


def manifest_text(manifest: Manifest) -> str:
    """`manifest.json` as every hub stores it."""
    return manifest.model_dump_json(indent=2) + "\n"


def write_manifest(out_dir: Path, manifest: Manifest) -> Path:
    path = out_dir / MANIFEST_FILENAME
    path.write_text(manifest_text(manifest), encoding="utf-8")
    return path


def read_manifest(tree: Path) -> Manifest:
    path = tree / MANIFEST_FILENAME
    if not path.is_file():
        raise ValueError(f"{tree} has no {MANIFEST_FILENAME}; write it with write_dataset_tree")
    return Manifest.model_validate_json(path.read_text(encoding="utf-8"))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _rolemill_version() -> str:
    try:
        return package_version("rolemill")
    except PackageNotFoundError:
        return "0+unknown"
