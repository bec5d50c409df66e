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

Here the polynomial hash is computed for every shingle of a batch at once from prefix
sums over the batch's bytes, and the permutations one at a time over all the batch's
shingles, so the per-shingle cost is a few numpy operations and no Python. Candidates come
from LSH band keys, and are confirmed by Jaccard similarity (`verify`). See docs/dedup.md.
"""

from __future__ import annotations

import math
import mmap
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

Unit = Literal["word", "char"]

_M64 = (1 << 64) - 1
_BASE = 0x100000001B3  # the 64-bit FNV prime: odd, so invertible modulo 2**64
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)
_SPACE = ord(" ")
# Scripts written without spaces (Chinese and Japanese): each character is a word of its
# own. Kana, CJK Extension A, Unified Ideographs, Compatibility Ideographs, planes 2-3.
CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
_CJK_CLASS = "".join(f"\\u{low:04x}-\\u{high:04x}" for low, high in CJK_RANGES)
_CJK_CLASS += "\\U00020000-\\U0003ffff"
_WORD = re.compile(f"[{_CJK_CLASS}]|[^ {_CJK_CLASS}]+")
BATCH_DOCS = 2048
_BLOCK_TEXTS = 512  # texts and permutations per block of `_permuted_minima`: about 1 MB
_BLOCK_PERMS = 8


def shingle_hash(data: bytes) -> int:
    """The 32-bit hash of one shingle: a polynomial hash of its bytes modulo 2**64, folded.

    Pass it as `hashfunc` to datasketch's `MinHash` to reproduce our signatures there.
    """
    value = 0
    for byte in data:
        value = (value * _BASE + byte) & _M64
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


def _fmix32(values: np.ndarray) -> np.ndarray:
    values = values ^ (values >> np.uint32(16))
    values *= np.uint32(0x85EBCA6B)
    values ^= values >> np.uint32(13)
    values *= np.uint32(0xC2B2AE35)
    values ^= values >> np.uint32(16)
    return values


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
    """Signatures of non-empty normalised `texts`, batch by batch on `threads` threads,
    and their LSH band keys for `bands` bands of `rows` rows (within `groups`)."""
    a, b = permutations(num_perm, seed)
    batches = [texts.slice(start, BATCH_DOCS) for start in range(0, len(texts), BATCH_DOCS)]
    longest = max((int(batch.str.len_bytes().sum()) for batch in batches), default=0)
    powers, inverse = _powers(longest + 1)
    values = _fresh_array((len(texts), num_perm), np.uint32)
    keys = _fresh_array((bands, len(texts)), np.uint64)

    local = threading.local()

    def run(index: int) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(local, "scratch"):
            local.scratch = _Scratch(longest + 1)
        hashes, starts = _shingle_hashes(batches[index], size, unit, powers, inverse, local.scratch)
        counts = np.diff(np.append(starts, len(hashes)))
        out = values[index * BATCH_DOCS : index * BATCH_DOCS + len(batches[index])]
        _permuted_minima(_fmix32(hashes), starts, counts, a, b, out)
        if bands:
            chunk = slice(index * BATCH_DOCS, index * BATCH_DOCS + len(out))
            keys[:, chunk] = band_keys(out, bands, rows, None if groups is None else groups[chunk])
        return hashes, counts

    with ThreadPoolExecutor(max(1, threads)) as pool:
        per_batch = list(pool.map(run, range(len(batches))))
    hashes = _fresh_array((sum(len(h) for h, _ in per_batch),), np.uint32)
    if per_batch:
        np.concatenate([h for h, _ in per_batch], out=hashes)
    counts = np.concatenate([c for _, c in per_batch] or [np.empty(0, np.int64)])
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Signatures(values=values, hashes=hashes, offsets=offsets, keys=keys)


def _fresh_array(shape: tuple[int, ...], dtype: type[np.generic]) -> np.ndarray:
    """An uninitialised array in its own anonymous memory map, for the large outputs.

    numpy asks the kernel for transparent huge pages on arrays over 4 MB; where the kernel
    compacts memory to serve them (THP `defrag=madvise`, a common default), writing a fresh
    512 MB array took 0.75-1.1 s of system time on the dev machine against 0.2-0.3 s in
    plain 4 KB pages, which is what a private mapping gets. The mapping is released with
    the array.
    """
    size = math.prod(shape) * np.dtype(dtype).itemsize
    if size == 0:
        return np.empty(shape, dtype=dtype)
    return np.frombuffer(mmap.mmap(-1, size), dtype=dtype).reshape(shape)


def _permuted_minima(
    mixed: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    out: np.ndarray,
) -> None:
    """out[d, p] = min of `a[p] * h + b[p]` (mod 2**32) over text d's mixed hashes h.

    Texts of similar length are laid out as columns of an (L, texts) block, short ones
    padded with repeats of their own first hash (which leaves their minimum as it is), so
    each permutation is a multiply, an add and a column minimum over contiguous memory
    for a block of permutations at once, instead of a `reduceat` per permutation.
    """
    num_perm = len(a)
    order = np.argsort(counts, kind="stable")
    a_block, b_block = a[:, None, None], b[:, None, None]
    for begin in range(0, len(order), _BLOCK_TEXTS):
        texts = order[begin : begin + _BLOCK_TEXTS]
        lengths = counts[texts]
        depth = int(lengths.max())
        index = starts[texts] + np.minimum(np.arange(depth)[:, None], lengths - 1)
        padded = mixed[index][None]
        work = np.empty((_BLOCK_PERMS, depth, len(texts)), dtype=np.uint32)
        minima = np.empty((num_perm, len(texts)), dtype=np.uint32)
        for first in range(0, num_perm, _BLOCK_PERMS):
            perms = slice(first, first + _BLOCK_PERMS)
            part = work[: len(a_block[perms])]
            np.multiply(padded, a_block[perms], out=part)
            np.add(part, b_block[perms], out=part)
            np.minimum.reduce(part, axis=1, out=minima[perms])
        out[texts] = minima.T


def _cjk_bounds(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Byte positions where each CJK character of UTF-8 `data` starts and ends."""
    if len(data) == 0 or data.max() < 0xE0:  # no 3- or 4-byte characters at all
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    lead = np.flatnonzero(data >= 0xE0)
    lead = lead[lead + 3 <= len(data)]
    if len(lead) == 0:
        return lead, lead
    three = lead[data[lead] < 0xF0]
    four = lead[(data[lead] >= 0xF0) & (lead + 4 <= len(data))]
    cp3 = (
        (data[three].astype(np.int64) & 0x0F) << 12
        | (data[three + 1].astype(np.int64) & 0x3F) << 6
        | (data[three + 2].astype(np.int64) & 0x3F)
    )
    cp4 = (
        (data[four].astype(np.int64) & 0x07) << 18
        | (data[four + 1].astype(np.int64) & 0x3F) << 12
        | (data[four + 2].astype(np.int64) & 0x3F) << 6
        | (data[four + 3].astype(np.int64) & 0x3F)
    )
    in3 = np.zeros(len(cp3), dtype=bool)
    for low, high in CJK_RANGES:
        in3 |= (cp3 >= low) & (cp3 <= high)
    in4 = (cp4 >= 0x20000) & (cp4 <= 0x3FFFF)
    starts = np.concatenate([three[in3], four[in4]])
    ends = np.concatenate([three[in3] + 3, four[in4] + 4])
    return starts, ends


def _powers(count: int) -> tuple[np.ndarray, np.ndarray]:
    """BASE**k and BASE**-k modulo 2**64 for k < count."""
    powers = np.full(count, _BASE, dtype=np.uint64)
    powers[0] = 1
    np.cumprod(powers, out=powers)
    inverse = np.full(count, _BASE_INVERSE, dtype=np.uint64)
    inverse[0] = 1
    np.cumprod(inverse, out=inverse)
    return powers, inverse


class _Scratch:
    """One thread's working arrays, reused batch after batch: fresh multi-megabyte arrays
    cost more in page faults than the arithmetic done in them."""

    def __init__(self, capacity: int) -> None:
        self.terms = np.empty(capacity, dtype=np.uint64)
        self.prefix = np.empty(capacity, dtype=np.uint64)
        self.space = np.empty(capacity, dtype=bool)
        self.cut = np.empty(capacity, dtype=bool)


def _shingle_hashes(
    texts: pl.Series,
    size: int,
    unit: Unit,
    powers: np.ndarray,
    inverse: np.ndarray,
    scratch: _Scratch | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The shingle hashes of a batch of non-empty texts, and where each text's begin."""
    # the oldest compat level hands over large_string buffers without converting them
    arrow = texts.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    if str(arrow.type) != "large_string":
        arrow = arrow.cast("large_string")
    _, offsets_buffer, data_buffer = arrow.buffers()
    doc_offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
        arrow.offset : arrow.offset + len(arrow) + 1
    ]
    base = int(doc_offsets[0])
    doc_offsets = doc_offsets - base
    data = np.frombuffer(data_buffer, dtype=np.uint8)[base : base + int(doc_offsets[-1])]
    n_bytes, n_docs = len(data), len(doc_offsets) - 1
    if scratch is None or len(scratch.terms) < n_bytes + 1:
        scratch = _Scratch(n_bytes + 1)

    if unit == "word":
        # Units are runs of non-space bytes, cut around every CJK character.
        space = scratch.space[: n_bytes + 1]
        np.equal(data, _SPACE, out=space[:n_bytes])
        space[n_bytes] = True  # the end is no unit's start
        cut = scratch.cut[: n_bytes + 1]
        cut[0] = False
        np.copyto(cut[1:], space[:n_bytes])  # a unit ends before each space ...
        cut[:n_bytes] |= space[:n_bytes]  # ... and starts after one
        cut[doc_offsets] = True
        cjk_starts, cjk_ends = _cjk_bounds(data)
        cut[cjk_starts] = True
        cut[cjk_ends] = True
        unit_starts = np.flatnonzero(cut & ~space)
        # ends: cuts not right after a space (position 0 is no end)
        cut[1:] &= ~space[:n_bytes]
        cut[0] = False
        unit_ends = np.flatnonzero(cut)
    else:  # character starts are the bytes that are not UTF-8 continuation bytes
        unit_starts = np.flatnonzero((data & 0xC0) != 0x80)
        unit_ends = np.append(unit_starts[1:], n_bytes)
    per_doc = np.diff(np.searchsorted(unit_starts, doc_offsets))
    first_unit = np.zeros(n_docs, dtype=np.int64)
    np.cumsum(per_doc[:-1], out=first_unit[1:])
    end_unit = first_unit + per_doc

    # A shingle at each unit with `size - 1` more units after it in its text, and one
    # (the whole text) at the first unit of texts with fewer than `size` units.
    counts = np.maximum(per_doc - (size - 1), 1)
    doc_starts = np.zeros(n_docs, dtype=np.int64)
    np.cumsum(counts[:-1], out=doc_starts[1:])
    if size > 1:
        opens = np.ones(len(unit_starts), dtype=bool)
        for back in range(1, size):  # the last `size - 1` units of a text open none
            at = end_unit - back
            opens[at[at > first_unit]] = False
        first = np.flatnonzero(opens)
    else:
        first = np.arange(len(unit_starts))
    last = first + (size - 1)
    short = np.flatnonzero(per_doc < size)
    last[doc_starts[short]] = end_unit[short] - 1
    starts = unit_starts[first]
    ends = unit_ends[last]

    # hash(data[s:e]) = sum(data[k] * B**(e-1-k)) = B**(e-1) * (S[e] - S[s]), where
    # S[i] = sum(data[k] * B**-k for k < i): all modulo 2**64, which uint64 wraps to.
    prefix = scratch.prefix[: n_bytes + 1]
    prefix[0] = 0
    terms = scratch.terms[:n_bytes]
    np.multiply(data, inverse[:n_bytes], out=terms, dtype=np.uint64)
    np.cumsum(terms, out=prefix[1:])
    wide = powers[ends - 1] * (prefix[ends] - prefix[starts])
    hashes = (wide ^ (wide >> np.uint64(32))).astype(np.uint32)
    return hashes, doc_starts


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
    step = 8192
    for start in range(0, len(left), step):
        i, j = left[start : start + step], right[start : start + step]
        out[start : start + step] = (values[i] == values[j]).mean(axis=1)
    return out


def exact_jaccard(signatures: Signatures, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The Jaccard similarity of each pair's shingle-hash sets, computed for all pairs at once.

    One sort of (pair, hash, side) keys: equal (pair, hash) runs are the union's members,
    and the runs holding both sides its intersection.
    """
    if len(left) == 0:
        return np.empty(0, dtype=np.float64)
    rows = np.concatenate([left, right])
    lengths = signatures.offsets[rows + 1] - signatures.offsets[rows]
    total = int(lengths.sum())
    within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    hashes = signatures.hashes[np.repeat(signatures.offsets[rows], lengths) + within]
    pair = np.repeat(np.tile(np.arange(len(left), dtype=np.uint64), 2), lengths)
    side = np.repeat(np.repeat(np.array([0, 1], dtype=np.uint64), len(left)), lengths)
    keys = _sorted((pair << np.uint64(33)) | (hashes.astype(np.uint64) << np.uint64(1)) | side)
    item = keys >> np.uint64(1)
    new_item = np.ones(total, dtype=bool)
    new_item[1:] = item[1:] != item[:-1]
    # a side-1 key right after a side-0 key of the same item: the item is on both sides
    both = np.zeros(total, dtype=bool)
    both[1:] = ~new_item[1:] & ((keys[1:] & np.uint64(1)) == 1) & ((keys[:-1] & np.uint64(1)) == 0)
    owner = (keys >> np.uint64(33)).astype(np.int64)
    union = np.bincount(owner[new_item], minlength=len(left))
    inter = np.bincount(owner[both], minlength=len(left))
    return inter / union


def _sorted(values: np.ndarray) -> np.ndarray:
    return pl.Series(values).sort().to_numpy()


def _distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values (np.unique's hash path is slow on these keys)."""
    values = _sorted(values)
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def verify(
    signatures: Signatures,
    left: np.ndarray,
    right: np.ndarray,
    threshold: float,
    threads: int = 2,
) -> np.ndarray:
    """Which candidate pairs reach `threshold` Jaccard similarity.

    The signature estimate decides pairs far from the threshold; pairs within three
    standard deviations of it (or one permutation's worth) get the exact Jaccard of
    their shingle sets, chunk by chunk on `threads` threads.
    """
    num_perm = signatures.values.shape[1]
    estimate = estimated_jaccard(signatures.values, left, right)
    margin = max(3 * math.sqrt(threshold * (1 - threshold) / num_perm), 1.5 / num_perm)
    ok = estimate >= threshold + margin
    unsure = np.flatnonzero(np.abs(estimate - threshold) < margin)
    step = 2048  # small chunks: fresh large arrays cost more in page faults than in sorting

    def confirm(start: int) -> None:
        rows = unsure[start : start + step]
        ok[rows] = exact_jaccard(signatures, left[rows], right[rows]) >= threshold

    with ThreadPoolExecutor(max(1, threads)) as pool:
        list(pool.map(confirm, range(0, len(unsure), step)))
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
