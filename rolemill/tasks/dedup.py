"""Exact and near-duplicate (MinHash LSH) removal over sample frames.

What is compared is each sample's *dedup text*: by default its user turns plus its final
assistant turn (`DedupConfig.text`, per dataset config with `text_by_config`), normalised
(NFKC, lowercase, punctuation and symbols removed, whitespace collapsed). Exact
duplicates are equal dedup texts. Near-duplicates are pairs whose shingle sets (word or
character n-grams, see `rolemill.tasks.minhash`) reach the Jaccard `threshold`: MinHash
signatures, bit-compatible with datasketch, are computed over the whole frame at once,
LSH banding proposes candidate pairs, and each candidate is confirmed by its Jaccard
similarity (estimated from the signatures, exact where the estimate is close to the
threshold).

Which row survives is a stated rule, independent of input order: rows are visited in
ascending `id`; each row not yet claimed is kept and claims every unclaimed row that
duplicates it. So the kept row of a cluster has the smallest id in it, and every dropped
row is a duplicate of its kept row (not merely of some other dropped row).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, overload

import numba
import numpy as np
import polars as pl

from rolemill.schemas.quality import DedupConfig, DedupText
from rolemill.schemas.sample import Message
from rolemill.tasks import minhash
from rolemill.tasks.minhash import shingles

MESSAGES_DTYPE = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))
REQUIRED_COLUMNS = ("id", "messages")
THREADS = max(1, min(4, os.cpu_count() or 1))


class Clusters(Sequence[list[str]]):
    """Duplicate clusters, each the list of its ids, kept id first, in order of kept id.

    A build drops rows in hundreds of thousands of clusters and reports a few, so a
    cluster's list is made when it is asked for.
    """

    def __init__(self, ids: pl.Series, keeper: np.ndarray) -> None:
        """ids: the rows' ids; keeper[i]: the row that row i duplicates, or -1 if kept."""
        dropped = np.flatnonzero(keeper >= 0)
        order = np.argsort(keeper[dropped], kind="stable")
        self._ids = ids
        self._members = dropped[order]
        heads = keeper[self._members]
        first = np.flatnonzero(np.diff(heads, prepend=-1) != 0)
        self._kept = heads[first]
        self._starts = np.append(first, len(heads))

    def __len__(self) -> int:
        return len(self._kept)

    @overload
    def __getitem__(self, index: int) -> list[str]: ...
    @overload
    def __getitem__(self, index: slice) -> list[list[str]]: ...
    def __getitem__(self, index: int | slice) -> list[str] | list[list[str]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        cluster = range(len(self))[index]  # negative indexes, and IndexError past the end
        members = self._members[self._starts[cluster] : self._starts[cluster + 1]]
        return self._ids.gather([int(self._kept[cluster]), *members.tolist()]).to_list()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    def __repr__(self) -> str:
        return f"Clusters({len(self)} clusters)"


@dataclass
class DedupOutcome:
    """The rows kept (input order preserved) and what was dropped."""

    kept: pl.DataFrame
    exact_dropped: int = 0
    near_dropped: int = 0
    clusters: Sequence[list[str]] = field(default_factory=list)
    """ids of each duplicate cluster with more than one member, kept id first."""

    @property
    def dropped(self) -> int:
        return self.exact_dropped + self.near_dropped


def _raw_text_expr(column: pl.Expr, text: DedupText) -> pl.Expr:
    role = pl.element().struct.field("role")
    content = pl.element().struct.field("content")
    users = column.list.eval(content.filter(role == "user")).list.join(" ").fill_null("")
    final = column.list.eval(content.filter(role == "assistant")).list.last().fill_null("")
    if text == "user_and_final":
        return pl.concat_str([users, final], separator=" ")
    if text == "final":
        return final
    if text == "user":
        return users
    turns = content.filter(role.is_in(["user", "assistant"]))
    return column.list.eval(turns).list.join(" ").fill_null("")


def _clean(raw: pl.Expr) -> pl.Expr:
    """Lowercase, drop punctuation and symbols, collapse whitespace (after NFKC)."""
    return (
        raw.str.to_lowercase()
        .str.replace_all(r"[\p{P}\p{S}]+", "")
        # every whitespace run to one space, touching only runs that are not one space
        .str.replace_all(r"\s{2,}|[^\S ]", " ")
        .str.strip_chars()
    )


def dedup_text_expr(
    messages: pl.Expr | str = "messages", text: DedupText = "user_and_final"
) -> pl.Expr:
    """A polars expression for the normalised dedup text of a `messages` column.

    text: `user_and_final` (the user turns and the final assistant turn), `final` (the
    final assistant turn), `user` (the user turns) or `dialogue` (every user and assistant
    turn). System turns never count.
    """
    column = pl.col(messages) if isinstance(messages, str) else messages
    return normalised_text(_raw_text_expr(column, text))


def normalised_text(raw: pl.Expr) -> pl.Expr:
    """`raw` after NFKC, lowercased, without punctuation or symbols, single-spaced."""
    return _clean(raw.str.normalize("NFKC"))


def dedup_text(
    messages: Sequence[Message | Mapping[str, Any]], text: DedupText = "user_and_final"
) -> str:
    """The normalised text hashed for one chat (by default its user turns and final answer)."""
    rows = [m.model_dump() if isinstance(m, Message) else dict(m) for m in messages]
    frame = pl.DataFrame({"messages": [rows]}, schema={"messages": MESSAGES_DTYPE})
    return frame.select(dedup_text_expr(text=text)).item()


def dedup_texts(frame: pl.DataFrame, config: DedupConfig) -> pl.Series:
    """`dedup_text_expr` over a frame, each row's text chosen by its dataset config where
    `text_by_config` names it; in `THREADS` slices at once, and NFKC only where a text is
    not ASCII (which NFKC leaves as it is)."""
    raw = _raw_text_expr(pl.col("messages"), config.text)
    if config.text_by_config and "config" in frame.columns:
        branches = pl.when(pl.lit(False)).then(pl.lit(""))
        for name, choice in config.text_by_config.items():
            branches = branches.when(pl.col("config") == name).then(
                _raw_text_expr(pl.col("messages"), choice)
            )
        raw = branches.otherwise(raw)

    def run(part: pl.DataFrame) -> pl.Series:
        texts = part.select(raw.fill_null("").alias("text")).to_series()
        wide = (texts.str.len_bytes() != texts.str.len_chars()).arg_true()
        if len(wide):
            texts = texts.scatter(wide, texts.gather(wide).str.normalize("NFKC"))
        return texts.to_frame().select(_clean(pl.col("text"))).to_series()

    step = max(1, -(-frame.height // THREADS))
    parts = [frame.slice(start, step) for start in range(0, frame.height, step)]
    with ThreadPoolExecutor(len(parts)) as pool:
        return pl.concat(list(pool.map(run, parts)))


def deduplicate(frame: pl.DataFrame, config: DedupConfig, *, by: str | None = None) -> DedupOutcome:
    """Drop exact, then near-duplicate samples of `frame`; keep the smallest id of each cluster.

    by: a column (e.g. `role_id`) within whose values duplicates are sought; rows with
    different values never duplicate each other. Rows whose dedup text is empty are
    always kept (the quality filters deal with them).
    """
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(
            f"deduplicate: the sample frame lacks columns {missing} (it has {frame.columns}); "
            "pass frames in the canonical sample schema (rolemill.schemas.sample)"
        )
    if frame.height == 0:
        return DedupOutcome(kept=frame)

    # Visiting order: ascending id, input position breaking ties (equal ids are equal content).
    work = (
        frame.select(
            row=pl.int_range(pl.len(), dtype=pl.Int64),
            id=pl.col("id").cast(pl.String),
            text=dedup_texts(frame, config),
            group=(pl.col(by).rank("dense").fill_null(0) if by else pl.lit(0)).cast(pl.UInt32),
        )
        .sort(["id", "row"])
        .with_columns(rank=pl.int_range(pl.len(), dtype=pl.Int64))
    )
    n = work.height
    # keeper[rank] is the rank of the row that row duplicates, or -1 where it is kept.
    keeper = np.full(n, -1, dtype=np.int64)
    has_text = work["text"].str.len_bytes().to_numpy() > 0
    if config.exact:
        first = work.select(pl.col("rank").min().over(["group", "text"])).to_series().to_numpy()
        exact = has_text & (first != np.arange(n))
        keeper[exact] = first[exact]
    exact_dropped = int((keeper >= 0).sum())

    near_dropped = 0
    if config.near:
        candidates = np.flatnonzero(has_text & (keeper < 0))
        near = _near_duplicates(
            work["text"].gather(candidates), work["group"].to_numpy()[candidates], config
        )
        dropped = near >= 0
        near_dropped = int(dropped.sum())
        keeper[candidates[dropped]] = candidates[near[dropped]]
        # An exact duplicate of a near-dropped row joins its cluster, with its kept row.
        moved = keeper >= 0
        keeper[moved] = np.where(keeper[keeper[moved]] >= 0, keeper[keeper[moved]], keeper[moved])

    # A mask in input order: filtering copies the messages column far faster than a gather.
    kept_mask = np.zeros(n, dtype=bool)
    kept_mask[work["row"].to_numpy()[keeper < 0]] = True
    return DedupOutcome(
        kept=frame.filter(pl.Series(kept_mask)),
        exact_dropped=exact_dropped,
        near_dropped=near_dropped,
        clusters=Clusters(work["id"], keeper),
    )


def band_params(config: DedupConfig) -> tuple[int, int]:
    """(bands, rows) of the LSH banding: the config's, or derived from its threshold."""
    if config.bands is not None and config.rows is not None:
        return config.bands, config.rows
    return minhash.band_params(config.threshold, config.num_perm)


def signatures_for(
    texts: pl.Series, config: DedupConfig, groups: np.ndarray | None = None, *, banded: bool = True
) -> minhash.Signatures:
    """The MinHash signatures of normalised `texts` under `config` (and their LSH band keys
    within `groups`, unless `banded` is off)."""
    bands, rows = band_params(config) if banded else (0, 0)
    return minhash.compute_signatures(
        texts,
        size=config.shingle_size,
        unit=config.shingle,
        num_perm=config.num_perm,
        seed=config.seed,
        threads=THREADS,
        bands=bands,
        rows=rows,
        groups=groups,
    )


def _near_duplicates(texts: pl.Series, groups: np.ndarray, config: DedupConfig) -> np.ndarray:
    """For texts in visiting order: the index of the text each one duplicates, or -1."""
    if len(texts) < 2:
        return np.full(len(texts), -1, dtype=np.int64)
    signatures = signatures_for(texts, config, groups)
    left, right = minhash.candidate_pairs(signatures.keys, threads=THREADS)
    confirmed = minhash.verify(signatures, left, right, config.threshold)
    return _claims(left[confirmed], right[confirmed], len(texts))


@numba.njit(cache=True, nogil=True)
def _claims(left: np.ndarray, right: np.ndarray, rows: int) -> np.ndarray:
    """The keep rule over duplicate pairs (i, j), i < j, sorted by (i, j): claimed[j] = i
    where neither is claimed yet when the pair comes up, else -1. When a row's pairs come
    up, whether it is claimed is settled, so one pass does it."""
    claimed = np.full(rows, -1, dtype=np.int64)
    for k in range(len(left)):
        if claimed[left[k]] < 0 and claimed[right[k]] < 0:
            claimed[right[k]] = left[k]
    return claimed


def deduplicate_per_role(frame: pl.DataFrame, config: DedupConfig) -> DedupOutcome:
    """`deduplicate` within each role: the same question put to two roles is two samples,
    and adding a role never drops a row another role already had."""
    by = "role_id" if "role_id" in frame.columns else None
    return deduplicate(frame, config, by=by)


__all__ = [
    "Clusters",
    "DedupOutcome",
    "band_params",
    "dedup_text",
    "dedup_text_expr",
    "dedup_texts",
    "deduplicate",
    "deduplicate_per_role",
    "shingles",
    "signatures_for",
]
