"""The near-duplicate index of published rows: dedup across dataset versions.

One row per published sample of a deduplicated config: `config`, `id`, `role_id`, `key`
(16-byte BLAKE2b of the normalised dedup text: the exact-copy key) and `signature` (its
MinHash values, `num_perm` little-endian uint32 as one fixed-size binary). Stored as
Parquet (zstd, sorted by config, role and id, so a reader can skip other configs' row
groups); the MinHash settings it was made with (`IndexSettings`) are in the file's
metadata. Signatures are random numbers and do not compress: at 128 permutations a
million rows take about 0.5 GB (512 bytes of signature, 16 of key, the id and role;
481 MB measured by bench/dedup_index.py).

`drop_published_copies` drops the rows of a new build that copy a published row: same
config, same role, and an equal dedup text or a MinHash estimate of Jaccard similarity
>= `threshold`. Rows whose id is already in the index are the published rows themselves
(a rebuild from the response cache) and are never dropped. The banding runs over the new
and the published signatures together; only pairs of a new and a published row count.

Rows with an empty dedup text are not indexed (within a build they are always kept too).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from rolemill.schemas.quality import DedupConfig
from rolemill.tasks import minhash
from rolemill.tasks.dedup import band_params, dedup_texts, signatures_for

INDEX_PATH = "dedup/index.parquet"
"""Where a dataset version carries its index, relative to the dataset root."""
METADATA_KEY = b"rolemill.dedup_index"
FORMAT = 1
KEY_BYTES = 16
ROW_GROUP_ROWS = 65_536
EXAMPLES = 5
ROW_COLUMNS = {"config": pl.String, "id": pl.String, "role_id": pl.String, "key": pl.Binary}


class IndexSettingsError(ValueError):
    """An index was made with other MinHash settings than the recipe's."""


@dataclass(frozen=True)
class IndexSettings:
    """What makes two signatures comparable: the same permutations over the same shingles
    of the same text (the dedup text, and its choice per config)."""

    num_perm: int
    seed: int
    shingle: str
    shingle_size: int
    text: str = "user_and_final"
    text_by_config: tuple[tuple[str, str], ...] = ()  # sorted (config, text) pairs

    @classmethod
    def of(cls, config: DedupConfig) -> IndexSettings:
        by_config = tuple(sorted(config.text_by_config.items()))
        return cls(
            config.num_perm,
            config.seed,
            config.shingle,
            config.shingle_size,
            config.text,
            by_config,
        )

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> IndexSettings:
        """From `metadata()`; files written before the text was recorded used the default."""
        by_config = meta.get("text_by_config") or {}
        return cls(
            meta["num_perm"],
            meta["seed"],
            meta["shingle"],
            meta["shingle_size"],
            meta.get("text", "user_and_final"),
            tuple(sorted(by_config.items())),
        )

    def metadata(self) -> dict[str, Any]:
        return {**self.__dict__, "text_by_config": dict(self.text_by_config)}

    def describe(self) -> str:
        by_config = "".join(f", text_by_config.{name}={text}" for name, text in self.text_by_config)
        return (
            f"num_perm={self.num_perm}, seed={self.seed}, shingle={self.shingle}, "
            f"shingle_size={self.shingle_size}, text={self.text}{by_config}"
        )


@dataclass
class DedupIndex:
    """Published rows and their signatures; row i of `rows` has signature `signatures[i]`."""

    settings: IndexSettings
    rows: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=ROW_COLUMNS))
    signatures: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.uint32))

    def __post_init__(self) -> None:
        if self.signatures.shape[0] != self.rows.height:
            if self.rows.height == 0:
                self.signatures = np.empty((0, self.settings.num_perm), dtype=np.uint32)
            else:
                raise ValueError(
                    f"dedup index: {self.rows.height} rows but {self.signatures.shape[0]} signatures"
                )

    def __len__(self) -> int:
        return self.rows.height

    def take(self, positions: np.ndarray) -> DedupIndex:
        return DedupIndex(self.settings, self.rows[positions], self.signatures[positions])

    def configs(self) -> set[str]:
        return set(self.rows["config"].unique().to_list())

    def check(self, config: DedupConfig, where: str) -> None:
        """Raise IndexSettingsError unless `config` makes signatures comparable to ours."""
        wanted = IndexSettings.of(config)
        if wanted != self.settings:
            raise IndexSettingsError(
                f"the dedup index {where} was made with {self.settings.describe()}, but the "
                f"recipe's dedup sets {wanted.describe()}; signatures made with other "
                "settings cannot be compared. Set the recipe's dedup back to the index's "
                "settings, or build once with `dedup.across_versions: false` to start a new "
                "index with the new settings (a shared `dedup.index` file keeps its settings: point "
                "it at a new file)"
            )


def _text_keys(texts: pl.Series) -> pl.Series:
    """The exact-copy key of each normalised text: 16 bytes of BLAKE2b."""
    digest = hashlib.blake2b
    return pl.Series(
        "key",
        [digest(text.encode(), digest_size=KEY_BYTES).digest() for text in texts.to_list()],
        dtype=pl.Binary,
    )


@dataclass
class _Texts:
    """A frame's rows with a non-empty dedup text: positions, rows, texts and keys."""

    positions: np.ndarray
    rows: pl.DataFrame  # config, id, role_id, key
    texts: pl.Series


def _texts(frame: pl.DataFrame, config_name: str, config: DedupConfig) -> _Texts:
    texts = dedup_texts(frame, config) if frame.height else pl.Series("text", [], pl.String)
    positions = (texts.str.len_bytes() > 0).arg_true().to_numpy()
    texts = texts.gather(positions)
    role = frame["role_id"].cast(pl.String) if "role_id" in frame.columns else None
    rows = pl.DataFrame(
        {
            "config": pl.Series([config_name] * len(positions), dtype=pl.String),
            "id": frame["id"].cast(pl.String).gather(positions),
            "role_id": role.gather(positions)
            if role is not None
            else pl.repeat("", len(positions), eager=True),
            "key": _text_keys(texts),
        },
        schema=ROW_COLUMNS,
    )
    return _Texts(positions, rows, texts)


def build_index(frames: Mapping[str, pl.DataFrame], config: DedupConfig) -> DedupIndex:
    """The index of `frames` (dataset config name -> sample rows with id, role_id, messages)."""
    settings = IndexSettings.of(config)
    parts = [_index_of(frame, name, config) for name, frame in sorted(frames.items())]
    return union(settings, parts)


def _index_of(frame: pl.DataFrame, config_name: str, config: DedupConfig) -> DedupIndex:
    found = _texts(frame, config_name, config)
    values = (
        signatures_for(found.texts, config, banded=False).values
        if len(found.texts)
        else np.empty((0, config.num_perm), dtype=np.uint32)
    )
    return DedupIndex(IndexSettings.of(config), found.rows, values)


def union(settings: IndexSettings, indexes: Sequence[DedupIndex | None]) -> DedupIndex:
    """All rows of `indexes` (made with `settings`), each (config, id) once (its first)."""
    present = [index for index in indexes if index is not None and len(index)]
    for index in present:
        if index.settings != settings:
            raise IndexSettingsError(
                f"cannot merge a dedup index made with {index.settings.describe()} into one "
                f"made with {settings.describe()}"
            )
    if not present:
        return DedupIndex(settings)
    rows = pl.concat([index.rows for index in present])
    signatures = np.concatenate([index.signatures for index in present])
    first = (
        rows.with_row_index("position")
        .unique(subset=["config", "id"], keep="first", maintain_order=True)["position"]
        .to_numpy()
    )
    return DedupIndex(settings, rows[first], signatures[first])


# -- storage ---------------------------------------------------------------------------


def save_index(index: DedupIndex, path: Path) -> Path:
    """Write `index` to `path` atomically (a temp file beside it, renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    order = index.rows.with_row_index("position").sort(["config", "role_id", "id"])
    positions = order["position"].to_numpy()
    signatures = np.ascontiguousarray(index.signatures[positions], dtype="<u4")
    width = 4 * index.settings.num_perm
    strings = (
        order.select("config", "role_id", "id")
        .to_arrow()
        .cast(pa.schema([(name, pa.string()) for name in ("config", "role_id", "id")]))
    )
    keys = b"".join(order["key"].to_list())
    table = strings.append_column(
        "key",
        pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(KEY_BYTES), len(positions), [None, pa.py_buffer(keys)]
        ),
    ).append_column(
        "signature",
        pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(width), len(positions), [None, pa.py_buffer(signatures)]
        ),
    )
    meta = {"format": FORMAT, **index.settings.metadata()}
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    try:
        pq.write_table(
            table,
            partial,
            compression="zstd",
            row_group_size=ROW_GROUP_ROWS,
            use_dictionary=["config", "role_id"],
        )
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)
    return path


def read_settings(path: Path) -> IndexSettings:
    """The settings an index file was made with; ValueError if it is not an index."""
    metadata = pq.read_schema(path).metadata or {}
    if METADATA_KEY not in metadata:
        raise ValueError(
            f"{path} is not a rolemill dedup index (no {METADATA_KEY.decode()} metadata); "
            "point dedup.index at a file rolemill wrote, or at a path that does not exist yet"
        )
    meta = json.loads(metadata[METADATA_KEY])
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: dedup index format {meta.get('format')} is not {FORMAT}")
    return IndexSettings.from_metadata(meta)


def load_index(path: Path, configs: Sequence[str] | None = None) -> DedupIndex:
    """Read an index file (only the rows of `configs` if given)."""
    path = Path(path)
    settings = read_settings(path)
    filters = [("config", "in", list(configs))] if configs is not None else None
    table = pq.read_table(path, filters=filters)
    signature = table.column("signature").combine_chunks()
    count = len(signature)
    width = settings.num_perm
    if count:
        data = signature.buffers()[1]
        values = np.frombuffer(
            data, dtype="<u4", count=count * width, offset=signature.offset * 4 * width
        )
        values = values.reshape(count, width).astype(np.uint32, copy=False)
    else:
        values = np.empty((0, width), dtype=np.uint32)
    columns = table.select(["config", "id", "role_id", "key"])
    columns = columns.cast(
        pa.schema(
            [(name, pa.string()) for name in ("config", "id", "role_id")] + [("key", pa.binary())]
        )
    )
    rows = pl.from_arrow(columns)
    assert isinstance(rows, pl.DataFrame)
    return DedupIndex(settings, rows.cast(ROW_COLUMNS), values)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `<path>.lock` (other builds wait for it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def add_to_shared_index(path: Path, rows: DedupIndex) -> DedupIndex:
    """Merge `rows` into the shared index at `path`, under a lock: the file is read again
    inside it, so rows another build added meanwhile are kept; written atomically."""
    path = Path(path)
    with _locked(path):
        current = load_index(path) if path.exists() else None
        if current is not None and current.settings != rows.settings:
            raise IndexSettingsError(
                f"the shared dedup index {path} was made with {current.settings.describe()}, "
                f"not {rows.settings.describe()}; point dedup.index at another file"
            )
        merged = union(rows.settings, [current, rows])
        save_index(merged, path)
    return merged


# -- dropping copies of published rows -------------------------------------------------


@dataclass
class PublishedCopies:
    """The rows of a new build that survive, and the published rows the others copied."""

    kept: pl.DataFrame
    dropped: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)
    """(new id, published id) of a few dropped rows."""


def drop_published_copies(
    frame: pl.DataFrame, config_name: str, index: DedupIndex, dedup_config: DedupConfig
) -> PublishedCopies:
    """Drop rows of `frame` (one dataset config) that are not published themselves but copy a
    published row of the same config and role: equal dedup text (if `exact`) or estimated
    Jaccard >= `threshold` (if `near`). Row order is kept."""
    index.check(dedup_config, "given")
    if frame.height == 0 or len(index) == 0 or not (dedup_config.exact or dedup_config.near):
        return PublishedCopies(kept=frame)
    published_rows = index.rows.with_row_index("position").filter(pl.col("config") == config_name)
    published_ids = published_rows["id"]
    fresh = (~frame["id"].cast(pl.String).is_in(published_ids.implode())).arg_true().to_numpy()
    found = _texts(frame[fresh], config_name, dedup_config)
    roles = found.rows["role_id"].unique().implode()
    published_rows = published_rows.filter(pl.col("role_id").is_in(roles))
    if found.rows.height == 0 or published_rows.height == 0:
        return PublishedCopies(kept=frame)

    # copy_of[i]: the published id new row i copies, or None.
    copy_of: list[str | None] = [None] * found.rows.height
    if dedup_config.exact:
        exact = (
            found.rows.with_row_index("new")
            .join(published_rows, on=["role_id", "key"], how="inner", suffix="_published")
            .group_by("new")
            .agg(pl.col("id_published").min())
        )
        for new, published in exact.iter_rows():
            copy_of[new] = published
    if dedup_config.near:
        remaining = np.array([i for i, c in enumerate(copy_of) if c is None], dtype=np.int64)
        matches = _near_copies(
            found.texts.gather(remaining),
            found.rows["role_id"].gather(remaining),
            published_rows,
            index.signatures,
            dedup_config,
        )
        for new, published in matches.items():
            copy_of[int(remaining[new])] = published

    dropped = [i for i, c in enumerate(copy_of) if c is not None]
    if not dropped:
        return PublishedCopies(kept=frame)
    drop_rows = fresh[found.positions[dropped]]
    keep = np.ones(frame.height, dtype=bool)
    keep[drop_rows] = False
    new_ids = found.rows["id"].to_list()
    examples = sorted((new_ids[i], copy_of[i]) for i in dropped)[:EXAMPLES]
    return PublishedCopies(
        kept=frame.filter(pl.Series(keep)),
        dropped=len(dropped),
        examples=[(new, str(published)) for new, published in examples],
    )


def _near_copies(
    texts: pl.Series,
    roles: pl.Series,
    published_rows: pl.DataFrame,
    published_signatures: np.ndarray,
    config: DedupConfig,
) -> dict[int, str]:
    """New row (position in `texts`) -> the smallest published id it near-duplicates."""
    n_new = len(texts)
    if n_new == 0:
        return {}
    bands, rows = band_params(config)
    everyone = pl.concat([roles, published_rows["role_id"]])
    groups = everyone.rank("dense").cast(pl.UInt32).to_numpy()
    # New rows first, then the published ones, in one array (one copy of the latter).
    old_positions = published_rows["position"].to_numpy()
    values = np.empty((n_new + len(old_positions), config.num_perm), dtype=np.uint32)
    values[:n_new] = signatures_for(texts, config, banded=False).values
    np.take(published_signatures, old_positions, axis=0, out=values[n_new:])
    keys = minhash.band_keys(values, bands, rows, groups)
    _keep_shared_keys(keys, n_new)
    # New rows come first, so each bucket's first members (the ones every member pairs
    # with) are new rows, and every published row of a bucket meets them.
    left, right = minhash.candidate_pairs(keys)
    across = (left < n_new) & (right >= n_new)
    left, right = left[across], right[across]
    hit = minhash.estimated_jaccard(values, left, right) >= config.threshold
    if not hit.any():
        return {}
    pairs = (
        pl.DataFrame({"new": left[hit], "id": published_rows["id"].gather(right[hit] - n_new)})
        .group_by("new")
        .agg(pl.col("id").min())
    )
    return dict(pairs.iter_rows())


def _keep_shared_keys(keys: np.ndarray, n_new: int) -> None:
    """In each band, give every key not met on both sides (new and published) a unique
    value, so candidate pairs come only from buckets holding a new and a published row."""
    n = keys.shape[1]
    unique = np.arange(n, dtype=np.uint64) | np.uint64(1 << 63)
    for band in keys:
        new, old = pl.Series(band[:n_new]), pl.Series(band[n_new:])
        shared = np.concatenate(
            [new.is_in(old.implode()).to_numpy(), old.is_in(new.implode()).to_numpy()]
        )
        band[~shared] = unique[~shared]


__all__ = [
    "INDEX_PATH",
    "DedupIndex",
    "IndexSettings",
    "IndexSettingsError",
    "PublishedCopies",
    "add_to_shared_index",
    "build_index",
    "drop_published_copies",
    "load_index",
    "read_settings",
    "save_index",
    "union",
]
