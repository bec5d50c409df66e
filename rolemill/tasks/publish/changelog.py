"""What changed since the previous version: rows added and removed per config, by id.

Each version carries its sorted row ids per config as plain text, `ids/<config>.txt`
(one id per line). Reading them back costs a git fetch of the tag, never an LFS
download of the previous Parquet: git stores the lists zlib-compressed and deltas
consecutive versions, so a version adds about as much as it changes. A version
published before the lists existed gives row counts only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from rolemill.schemas.manifest import Manifest

if TYPE_CHECKING:  # hub.py imports the card through dataset_tree.py
    from rolemill.tasks.publish.hub import Hub

ID_LISTS_DIR = "ids"


def id_list_path(config: str) -> str:
    """The id list of a config, relative to the dataset root."""
    return f"{ID_LISTS_DIR}/{config}.txt"


def write_id_lists(tree: Path, tables: dict[str, pa.Table]) -> None:
    """Write every config's sorted ids under `tree/ids/`."""
    for config, table in tables.items():
        path = tree / id_list_path(config)
        path.parent.mkdir(parents=True, exist_ok=True)
        ids = pl.from_arrow(table.select(["id"])).get_column("id").sort()
        text = ids.str.join("\n").item() + "\n" if len(ids) else ""
        path.write_text(text, encoding="ascii")


@dataclass(frozen=True)
class ConfigChange:
    config: str
    rows_before: int  # 0 when the config is new
    rows_now: int  # 0 when the config was dropped
    added: int | None  # None when the previous version has no id list
    removed: int | None


@dataclass(frozen=True)
class Changelog:
    previous_version: str  # e.g. "0.1.0"
    changes: list[ConfigChange]


def changelog_against(
    hub: Hub, previous: Manifest | None, tables: dict[str, pa.Table]
) -> Changelog | None:
    """Rows added and removed per config since `previous`; None for a first version."""
    if previous is None:
        return None
    ids = {config: _ids(table) for config, table in tables.items()}
    return _changelog(hub, previous, {c: len(i) for c, i in ids.items()}, ids)


def changelog_between(hub: Hub, old: Manifest, new: Manifest) -> Changelog:
    """Rows added and removed per config from published version `old` to `new`."""
    texts = hub.read_texts(new.version, [id_list_path(c) for c in new.configs])
    ids = {config: _id_list(texts, config) for config in new.configs}
    return _changelog(hub, old, new.rows(), ids)


def _changelog(
    hub: Hub, previous: Manifest, rows_now: dict[str, int], ids_now: dict[str, pl.Series | None]
) -> Changelog:
    """Against `previous` (its id lists read from the hub); an id list that is None (a
    version published before the lists existed) leaves added and removed unknown."""
    configs = sorted(set(previous.configs) | set(rows_now))
    texts = hub.read_texts(
        previous.version, [id_list_path(c) for c in configs if c in previous.configs]
    )
    changes = []
    for config in configs:
        before = _id_list(texts, config) if config in previous.configs else _NO_IDS
        now = ids_now.get(config) if config in rows_now else _NO_IDS
        known = before is not None and now is not None
        changes.append(
            ConfigChange(
                config=config,
                rows_before=previous.configs[config].rows if config in previous.configs else 0,
                rows_now=rows_now.get(config, 0),
                added=_missing_from(now, before) if known else None,  # type: ignore[arg-type]
                removed=_missing_from(before, now) if known else None,  # type: ignore[arg-type]
            )
        )
    return Changelog(previous_version=previous.version, changes=changes)


_NO_IDS = pl.Series("id", [], pl.String)


def _id_list(texts: dict[str, str], config: str) -> pl.Series | None:
    text = texts.get(id_list_path(config))
    return None if text is None else _parse_id_list(text)


def _ids(table: pa.Table) -> pl.Series:
    return pl.from_arrow(table.select(["id"])).get_column("id")


def _missing_from(ids: pl.Series, other: pl.Series) -> int:
    """How many of `ids` are not in `other` (a hash anti-join)."""
    return ids.to_frame("id").join(other.to_frame("id"), on="id", how="anti").height


def _parse_id_list(text: str) -> pl.Series:
    lines = pl.Series("id", [text]).str.strip_chars().str.split("\n").explode()
    return lines.filter(lines.str.len_bytes() > 0)
