"""Vectorised MinHash signatures and LSH banding, bit-compatible with datasketch.

A text's shingles are the substrings spanning `size` consecutive *units*: words (runs of
non-space characters, every Chinese or Japanese character a word of its own) or
characters. Each shingle's UTF-8 bytes are hashed with `shingle_hash`, a 64-bit
polynomial hash folded to 32 bits, and the signature is datasketch's "affine32" scheme
over those hashes: pre-mix with the MurmurHash3 finaliser, then `a * h + b mod 2**32`
with datasketch's own permutations for the seed, minimum over the shingles.

So `datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)` updated with
`shingles(text, ...)` holds exactly the row `signatures` computes for `text`, and
`datasketch.LeanMinHash(seed=seed, hashvalues=row, scheme="affine32")` goes into a
datasketch `MinHashLSH` as is.

Signatures are computed batch by batch by a compiled kernel (`minhash_kernel`) straight
from the texts' UTF-8 bytes, on several threads. Candidates come from LSH band keys, and
are confirmed by Jaccard similarity (`verify`). See docs/dedup.md.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from rolemill.tasks import minhash_kernel

Unit = Literal["word", "char"]

_M64 = (1 << 64) - 1
_CJK_CLASS = "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in minhash_kernel.CJK_RANGES)
_WORD = re.compile(f"[{_CJK_CLASS}]|[^ {_CJK_CLASS}]+")
BATCH_DOCS = 2048

# numpy asks the kernel for transparent huge pages on arrays over 4 MB. Where the kernel
# then stalls to compact or fault in whole 2 MB pages (THP `defrag=madvise`, a common
# default, and virtual machines whose memory is backed lazily), the first touch of a
# fresh array is slow: on the dev VM a new 512 MB array took 7.5 s to fill, against
# 0.3 s in 4 KB pages. Dedup makes arrays of hundreds of MB, so rolemill turns the hint
# off for the process (it changes no result; `NUMPY_MADVISE_HUGEPAGE=1` keeps it on).
if os.environ.get("NUMPY_MADVISE_HUGEPAGE") is None:
    _madvise = getattr(np._core.multiarray, "_set_madvise_hugepage", None)
    if _madvise is not None:
        _madvise(False)


def shingle_hash(data: bytes) -> int:
    """The 32-bit hash of one shingle: a polynomial hash of its bytes modulo 2**64, folded.

    Pass it as `hashfunc` to datasketch's `MinHash` to reproduce our signatures there.
    """
    value = 0
    for byte in data:
        value = (value * minhash_kernel.BASE + byte) & _M64
    return (value ^ (value >> 32)) & 0xFFFFFFFF


def units(text: str, unit: Unit = "word") -> list[tuple[int, int]]:
    """(start, end) of each unit of `text`: its words (CJK characters alone) or characters."""
    if unit == "char":
        return [(i, i + 1) for i in range(len(text))]
    return [match.span() for match in _WORD.finditer(text)]


def shingles(text: str, size: int, unit: Unit = "word") -> list[bytes]:
    """The distinct shingles of a normalised `text` (the whole text if it has fewer units):
    the substrings spanning `size` consecutive units, as UTF-8."""
    spans = units(text, unit)
    if len(spans) <= size:
        return [text.encode()] if text else []
    grams = {text[spans[i][0] : spans[i + size - 1][1]] for i in range(len(spans) - size + 1)}
    return [gram.encode() for gram in sorted(grams)]


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutations `(a, b)` for `seed` (MinHash._init_permutations)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


@dataclass
class Signatures:
    """MinHash signatures of n texts and the shingle hashes behind them."""

    values: np.ndarray
    """(n, num_perm) uint32: the datasketch hashvalues of each text."""
    hashes: np.ndarray
    """uint32 shingle hashes of all texts, text after text (with repeats)."""
    offsets: np.ndarray
    """(n + 1,) int64: text i's shingle hashes are hashes[offsets[i]:offsets[i + 1]]."""
    keys: np.ndarray
    """(bands, n) uint64: each text's key in each LSH band."""

    def shingle_set(self, row: int) -> np.ndarray:
        return _distinct(self.hashes[self.offsets[row] : self.offsets[row + 1]])


def compute_signatures(
    texts: pl.Series,
    *,
    size: int,
    unit: Unit,
    num_perm: int,
    seed: int,
    threads: int = 2,
    bands: int = 0,
    rows: int = 0,
    groups: np.ndarray | None = None,
) -> Signatures:
    """Signatures of normalised `texts`, batch by batch on `threads` threads, and their LSH
    band keys for `bands` bands of `rows` rows (within `groups`). An empty text has no
    shingle, and its signature is datasketch's for no update (every value 2**32 - 1)."""
    a, b = permutations(num_perm, seed)
    data, offsets = _utf8_buffers(texts)
    lengths = np.diff(offsets)
    powers = _powers(int(lengths.max(initial=0)) + 1)
    values = np.empty((len(texts), num_perm), np.uint32)
    keys = np.empty((bands, len(texts)), np.uint64)

    def run(start: int) -> tuple[np.ndarray, np.ndarray]:
        chunk = slice(start, min(start + BATCH_DOCS, len(texts)))
        hashes = np.empty(int(lengths[chunk].sum()), dtype=np.uint32)  # a unit has a byte
        counts = np.empty(chunk.stop - start, dtype=np.int64)
        out = values[chunk]
        written = minhash_kernel.signature_batch(
            data,
            offsets[start : chunk.stop + 1],
            size,
            unit == "char",
            a,
            b,
            powers,
            out,
            hashes,
            counts,
        )
        if bands:
            keys[:, chunk] = band_keys(out, bands, rows, None if groups is None else groups[chunk])
        return hashes[:written].copy(), counts

    with ThreadPoolExecutor(max(1, threads)) as pool:
        per_batch = list(pool.map(run, range(0, len(texts), BATCH_DOCS)))
    hashes = np.empty((sum(len(h) for h, _ in per_batch),), np.uint32)
    if per_batch:
        np.concatenate([h for h, _ in per_batch], out=hashes)
    counts = np.concatenate([c for _, c in per_batch] or [np.empty(0, np.int64)])
    shingle_offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=shingle_offsets[1:])
    return Signatures(values=values, hashes=hashes, offsets=shingle_offsets, keys=keys)


def _utf8_buffers(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of all `texts` and where each text starts and ends in them."""
    # the oldest compat level hands over large_string buffers without converting them
    arrow = texts.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    if str(arrow.type) != "large_string":
        arrow = arrow.cast("large_string")
    _, offsets_buffer, data_buffer = arrow.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
        arrow.offset : arrow.offset + len(arrow) + 1
    ]
    if data_buffer is None:  # no text has a byte
        return np.empty(0, dtype=np.uint8), offsets
    return np.frombuffer(data_buffer, dtype=np.uint8), offsets


def _powers(count: int) -> np.ndarray:
    """BASE**k modulo 2**64 for k < count."""
    powers = np.full(count, minhash_kernel.BASE, dtype=np.uint64)
    powers[0] = 1
    np.cumprod(powers, out=powers)
    return powers


def band_params(threshold: float, num_perm: int, miss: float = 0.005) -> tuple[int, int]:
    """(bands, rows): the most selective banding (most rows per band) that makes a pair at
    exactly `threshold` a candidate with probability at least `1 - miss`."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= 1 - miss:
            return bands, rows
    return num_perm, 1


def band_keys(
    values: np.ndarray, bands: int, rows: int, groups: np.ndarray | None = None
) -> np.ndarray:
    """(bands, n) uint64: a hash of each band's `rows` signature values (and the group)."""
    block = values[:, : bands * rows].reshape(len(values), bands, rows)
    key = np.full((len(values), bands), 0x9E3779B97F4A7C15, dtype=np.uint64)
    if groups is not None:
        key ^= groups.astype(np.uint64)[:, None]
        key *= np.uint64(0xFF51AFD7ED558CCD)
    for column in range(rows):
        key ^= block[:, :, column]
        key *= np.uint64(0xFF51AFD7ED558CCD)
        key ^= key >> np.uint64(29)
    return np.ascontiguousarray(key.T)


def candidate_pairs(
    keys: np.ndarray, window: int = 32, threads: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j), i < j, of rows sharing a band key, sorted by (i, j).

    keys: (bands, n), as `band_keys` makes them. Within a bucket each row pairs with the
    `window` first rows of the bucket only, so a bucket of thousands of near-identical
    texts costs thousands of pairs, not millions. Bands run on `threads` threads.
    """
    n = keys.shape[1]

    def band_pairs(key: np.ndarray) -> list[np.ndarray]:
        # Only keys met twice matter (polars' is_duplicated runs on one core, hence the
        # threads); maintain_order keeps each bucket in row order.
        shared = pl.Series(key).is_duplicated().to_numpy().nonzero()[0]
        if len(shared) == 0:
            return []
        order = (
            pl.DataFrame({"key": key[shared], "row": shared})
            .sort("key", maintain_order=True)["row"]
            .to_numpy()
        )
        ordered = key[order]
        size = len(order)
        new_bucket = np.ones(size, dtype=bool)
        new_bucket[1:] = ordered[1:] != ordered[:-1]
        bucket_start = np.maximum.accumulate(np.where(new_bucket, np.arange(size), 0))
        rank_in_bucket = np.arange(size) - bucket_start
        found = []
        for offset in range(min(window, int(rank_in_bucket.max()))):
            members = np.flatnonzero(rank_in_bucket > offset)
            first = order[bucket_start[members] + offset]
            found.append(first.astype(np.int64) * n + order[members])
        return found

    with ThreadPoolExecutor(max(1, threads)) as pool:
        found = [pairs for band in pool.map(band_pairs, keys) for pairs in band]
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    pairs = _distinct(np.concatenate(found))
    return pairs // n, pairs % n


def estimated_jaccard(values: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The share of equal signature entries of each pair (datasketch's `MinHash.jaccard`)."""
    out = np.empty(len(left), dtype=np.float64)
    minhash_kernel.signature_agreement(values, left, right, out)
    return out


def exact_jaccard(signatures: Signatures, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The Jaccard similarity of each pair's shingle-hash sets."""
    out = np.empty(len(left), dtype=np.float64)
    minhash_kernel.shingle_jaccard(signatures.hashes, signatures.offsets, left, right, out)
    return out


def _distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values (np.unique's hash path is slow on these keys)."""
    values = pl.Series(values).sort().to_numpy()
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def verify(
    signatures: Signatures,
    left: np.ndarray,
    right: np.ndarray,
    threshold: float,
) -> np.ndarray:
    """Which candidate pairs reach `threshold` Jaccard similarity.

    The signature estimate decides pairs far from the threshold; pairs within three
    standard deviations of it (or one permutation's worth) get the exact Jaccard of
    their shingle sets.
    """
    num_perm = signatures.values.shape[1]
    estimate = estimated_jaccard(signatures.values, left, right)
    margin = max(3 * math.sqrt(threshold * (1 - threshold) / num_perm), 1.5 / num_perm)
    ok = estimate >= threshold + margin
    unsure = np.flatnonzero(np.abs(estimate - threshold) < margin)
    ok[unsure] = exact_jaccard(signatures, left[unsure], right[unsure]) >= threshold
    return ok


__all__: Sequence[str] = (
    "Signatures",
    "band_keys",
    "band_params",
    "candidate_pairs",
    "compute_signatures",
    "estimated_jaccard",
    "exact_jaccard",
    "permutations",
    "shingle_hash",
    "shingles",
    "verify",
)
