"""Exact and near-duplicate (MinHash LSH) removal over sample frames.

What is compared is each sample's *dedup text*: its user turns plus its final assistant
turn, normalised (NFKC, lowercase, punctuation and symbols removed, whitespace
collapsed). Near-duplicates are found over character shingles of that text, so the
same code serves English and Chinese.

Which row survives is a stated rule, independent of input order: rows are visited in
ascending `id`; each row not yet claimed is kept and claims every unclaimed row that
duplicates it. So the kept row of a cluster has the smallest id in it, and every dropped
row is a duplicate of its kept row (not merely of some other dropped row).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from rolemill.schemas.quality import DedupConfig
from rolemill.schemas.sample import Message

MESSAGES_DTYPE = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))
REQUIRED_COLUMNS = ("id", "messages")


@dataclass
class DedupOutcome:
    """The rows kept (input order preserved) and what was dropped."""

    kept: pl.DataFrame
    exact_dropped: int = 0
    near_dropped: int = 0
    clusters: list[list[str]] = field(default_factory=list)
    """ids of each duplicate cluster with more than one member, kept id first."""

    @property
    def dropped(self) -> int:
        return self.exact_dropped + self.near_dropped


def dedup_text_expr(messages: pl.Expr | str = "messages") -> pl.Expr:
    """A polars expression for the normalised dedup text of a `messages` column."""
    column = pl.col(messages) if isinstance(messages, str) else messages
    role = pl.element().struct.field("role")
    content = pl.element().struct.field("content")
    users = column.list.eval(content.filter(role == "user")).list.join(" ")
    final_answer = column.list.eval(content.filter(role == "assistant")).list.last()
    raw = pl.concat_str([users.fill_null(""), final_answer.fill_null("")], separator=" ")
    return (
        raw.str.normalize("NFKC")
        .str.to_lowercase()
        .str.replace_all(r"[\p{P}\p{S}]+", "")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def dedup_text(messages: Sequence[Message | Mapping[str, Any]]) -> str:
    """The normalised text hashed for one chat: its user turns plus its final assistant turn."""
    rows = [m.model_dump() if isinstance(m, Message) else dict(m) for m in messages]
    frame = pl.DataFrame({"messages": [rows]}, schema={"messages": MESSAGES_DTYPE})
    return frame.select(dedup_text_expr()).item()


def shingles(text: str, size: int) -> list[bytes]:
    """The distinct character `size`-grams of `text` (the whole text if it is shorter)."""
    if len(text) <= size:
        return [text.encode()]
    return [gram.encode() for gram in {text[i : i + size] for i in range(len(text) - size + 1)}]


def deduplicate(frame: pl.DataFrame, config: DedupConfig) -> DedupOutcome:
    """Drop exact, then near-duplicate samples of `frame`; keep the smallest id of each cluster.

    Rows whose dedup text is empty are always kept (the quality filters deal with them).
    """
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(
            f"deduplicate: the sample frame lacks columns {missing} (it has {frame.columns}); "
            "pass frames in the canonical sample schema (rolemill.schemas.sample)"
        )
    if frame.height == 0:
        return DedupOutcome(kept=frame)

    ids: list[str] = frame["id"].cast(pl.String).to_list()
    texts: list[str] = frame.select(dedup_text_expr()).to_series().fill_null("").to_list()
    # Visiting order: ascending id, input position breaking ties (equal ids are equal content).
    order = sorted(range(frame.height), key=lambda row: (ids[row], row))

    # keeper[row] is the row that `row` duplicates; rows absent from it are kept.
    keeper: dict[int, int] = {}
    if config.exact:
        first_of_digest: dict[bytes, int] = {}
        for row in order:
            if texts[row]:
                digest = hashlib.blake2b(texts[row].encode(), digest_size=16).digest()
                first = first_of_digest.setdefault(digest, row)
                if first != row:
                    keeper[row] = first
    exact_dropped = len(keeper)

    near_dropped = 0
    if config.near:
        candidates = [row for row in order if texts[row] and row not in keeper]
        near_keeper = _near_duplicates(candidates, texts, config)
        near_dropped = len(near_keeper)
        keeper.update(near_keeper)
        # An exact duplicate of a near-dropped row joins its cluster, with its kept row.
        for row, first in keeper.items():
            if first in near_keeper:
                keeper[row] = near_keeper[first]

    members: dict[int, list[int]] = {}
    for row in order:
        if row in keeper:
            members.setdefault(keeper[row], []).append(row)
    clusters = [
        [ids[kept_row]] + [ids[row] for row in dropped]
        for kept_row, dropped in sorted(members.items(), key=lambda item: (ids[item[0]], item[0]))
    ]
    mask = pl.Series([row not in keeper for row in range(frame.height)], dtype=pl.Boolean)
    return DedupOutcome(
        kept=frame.filter(mask),
        exact_dropped=exact_dropped,
        near_dropped=near_dropped,
        clusters=clusters,
    )


def _near_duplicates(rows: list[int], texts: list[str], config: DedupConfig) -> dict[int, int]:
    """Map each near-duplicate among `rows` (given in visiting order) to the row it duplicates."""
    if len(rows) < 2:
        return {}
    from datasketch import MinHash

    signatures = dict(
        zip(
            rows,
            MinHash.bulk(
                (shingles(texts[row], config.shingle_size) for row in rows),
                num_perm=config.num_perm,
                seed=config.seed,
                # CRC-32 is ~4x faster than the default SHA-1 and stable across processes;
                # MinHash pre-mixes it with the MurmurHash3 finaliser before permuting.
                hashfunc=zlib.crc32,
            ),
            strict=True,
        )
    )
    index = _lsh_index(config)
    for row in rows:
        index.insert(row, signatures[row], check_duplication=False)

    keeper: dict[int, int] = {}
    kept: set[int] = set()
    for row in rows:
        if row in keeper:
            continue
        kept.add(row)
        # LSH candidates are approximate: confirm each with the estimated Jaccard similarity.
        signature = signatures[row]
        for other in sorted(index.query(signature)):
            if (
                other not in kept
                and other not in keeper
                and signature.jaccard(signatures[other]) >= config.threshold
            ):
                keeper[other] = row
    return keeper


def _lsh_index(config: DedupConfig) -> Any:
    """A `MinHashLSH` for the config's threshold, with a fallback banding where it has none."""
    from datasketch import MinHashLSH

    try:
        return MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
    except ValueError:
        # At high thresholds with few permutations the optimiser picks a single band, which
        # MinHashLSH refuses. Two bands of half the signature each is the most selective
        # banding it accepts; candidates are confirmed by Jaccard anyway.
        return MinHashLSH(num_perm=config.num_perm, params=(2, config.num_perm // 2))


def deduplicate_per_role(frame: pl.DataFrame, config: DedupConfig) -> DedupOutcome:
    """`deduplicate` within each role: the same question put to two roles is two samples,
    and adding a role never drops a row another role already had."""
    if frame.height == 0 or "role_id" not in frame.columns:
        return deduplicate(frame, config)
    outcomes = [
        deduplicate(part, config) for part in frame.partition_by("role_id", maintain_order=True)
    ]
    return DedupOutcome(
        kept=pl.concat([outcome.kept for outcome in outcomes]),
        exact_dropped=sum(outcome.exact_dropped for outcome in outcomes),
        near_dropped=sum(outcome.near_dropped for outcome in outcomes),
        clusters=[cluster for outcome in outcomes for cluster in outcome.clusters],
    )
