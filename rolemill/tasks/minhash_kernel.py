"""The compiled inner loop of MinHash: from UTF-8 bytes to signatures, in one pass per text.

For each text of a batch: cut it into units (words, every Chinese or Japanese character a
word of its own, or characters), hash each shingle of `size` consecutive units with the
polynomial hash of `rolemill.tasks.minhash.shingle_hash` (from a running prefix hash, so
each byte is multiplied in once), and keep, per permutation, the minimum of datasketch's
affine32 permutation of the MurmurHash3-mixed shingle hashes.

numba compiles these functions on first use and caches the machine code beside this file
(or in the user's cache directory when that is read-only), so a process pays about half
a second to load them; the first use on a machine compiles them, in a few seconds.
`nogil` lets the caller run batches on several threads.
"""

from __future__ import annotations

import numba
import numpy as np

# Scripts written without spaces (Chinese and Japanese): each character is a word of its
# own. Kana, CJK Extension A, Unified Ideographs, Compatibility Ideographs, planes 2-3.
CJK_RANGES = (
    (0x3040, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3FFFF),
)
BASE = 0x100000001B3  # the 64-bit FNV prime: the polynomial hash's base
_SPACE = 0x20
_NO_HASH = 0xFFFFFFFF  # datasketch's value for a permutation no shingle reached

_compiled = numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")


@_compiled
def _is_cjk(code: int) -> bool:
    for low, high in CJK_RANGES:  # noqa: SIM110 (numba compiles no generator into any)
        if low <= code <= high:
            return True
    return False


@_compiled
def _cjk_width(data: np.ndarray, at: int, end: int) -> int:
    """The byte length of the CJK character starting at `at`, or 0 if none starts there."""
    lead = np.int64(data[at])
    if lead >= 0xF0 and at + 4 <= end:
        code = (
            (lead & 0x07) << 18
            | (np.int64(data[at + 1]) & 0x3F) << 12
            | (np.int64(data[at + 2]) & 0x3F) << 6
            | (np.int64(data[at + 3]) & 0x3F)
        )
        return 4 if _is_cjk(code) else 0
    if lead >= 0xE0 and lead < 0xF0 and at + 3 <= end:
        code = (
            (lead & 0x0F) << 12
            | (np.int64(data[at + 1]) & 0x3F) << 6
            | (np.int64(data[at + 2]) & 0x3F)
        )
        return 3 if _is_cjk(code) else 0
    return 0


@_compiled
def _word_units(
    data: np.ndarray, begin: int, end: int, starts: np.ndarray, ends: np.ndarray
) -> int:
    """Write where each word of data[begin:end] starts and ends; return how many there are.
    Words are runs of bytes other than the space, cut around every CJK character."""
    count = 0
    inside = False
    at = begin
    while at < end:
        byte = data[at]
        if byte == _SPACE:
            if inside:
                ends[count - 1] = at
                inside = False
            at += 1
            continue
        width = _cjk_width(data, at, end) if byte >= 0xE0 else 0
        if width:
            if inside:
                ends[count - 1] = at
                inside = False
            starts[count] = at
            ends[count] = at + width
            count += 1
            at += width
            continue
        if not inside:
            starts[count] = at
            count += 1
            inside = True
        at += 1
    if inside:
        ends[count - 1] = end
    return count


@_compiled
def _char_units(
    data: np.ndarray, begin: int, end: int, starts: np.ndarray, ends: np.ndarray
) -> int:
    """Write where each character of data[begin:end] starts and ends; return how many."""
    count = 0
    for at in range(begin, end):
        if (data[at] & 0xC0) != 0x80:  # not a UTF-8 continuation byte
            if count:
                ends[count - 1] = at
            starts[count] = at
            count += 1
    if count:
        ends[count - 1] = end
    return count


@_compiled
def _fmix32(value: np.uint32) -> np.uint32:
    """MurmurHash3's 32-bit finaliser (datasketch's pre-mix in the affine32 scheme)."""
    value = np.uint32(value ^ (value >> np.uint32(16)))
    value = np.uint32(value * np.uint32(0x85EBCA6B))
    value = np.uint32(value ^ (value >> np.uint32(13)))
    value = np.uint32(value * np.uint32(0xC2B2AE35))
    return np.uint32(value ^ (value >> np.uint32(16)))


@_compiled
def signature_batch(
    data: np.ndarray,
    offsets: np.ndarray,
    size: int,
    char_units: bool,
    a: np.ndarray,
    b: np.ndarray,
    powers: np.ndarray,
    values: np.ndarray,
    hashes: np.ndarray,
    counts: np.ndarray,
) -> int:
    """Signatures of the texts data[offsets[i]:offsets[i + 1]].

    Writes text i's signature to values[i], its shingle hashes (in text order, repeats
    included) to `hashes` after the previous texts' and their number to counts[i]; returns
    how many hashes were written. powers[k] = BASE**k mod 2**64, for k up to the longest
    text's byte length. A text with fewer than `size` units is one shingle, whole.
    """
    num_perm = len(a)
    longest = 0
    for text in range(len(offsets) - 1):
        longest = max(longest, offsets[text + 1] - offsets[text])
    starts = np.empty(longest, np.int64)
    ends = np.empty(longest, np.int64)
    prefix = np.empty(longest + 1, np.uint64)  # prefix[k]: hash of the text's first k bytes
    best = np.empty(num_perm, np.uint32)
    written = 0
    for text in range(len(offsets) - 1):
        begin, end = offsets[text], offsets[text + 1]
        if char_units:
            units = _char_units(data, begin, end, starts, ends)
        else:
            units = _word_units(data, begin, end, starts, ends)
        prefix[0] = 0
        for k in range(end - begin):
            prefix[k + 1] = prefix[k] * np.uint64(BASE) + np.uint64(data[begin + k])
        best[:] = _NO_HASH
        shingles = max(units - size + 1, 1) if units else 0
        for first in range(shingles):
            start = starts[first] - begin
            stop = ends[min(first + size, units) - 1] - begin
            wide = prefix[stop] - prefix[start] * powers[stop - start]
            folded = np.uint32((wide ^ (wide >> np.uint64(32))) & np.uint64(0xFFFFFFFF))
            hashes[written + first] = folded
            mixed = _fmix32(folded)
            for p in range(num_perm):
                best[p] = min(best[p], np.uint32(a[p] * mixed + b[p]))
        values[text, :] = best
        counts[text] = shingles
        written += shingles
    return written


@_compiled
def signature_agreement(
    values: np.ndarray, left: np.ndarray, right: np.ndarray, out: np.ndarray
) -> None:
    """out[k]: the share of equal entries of signatures left[k] and right[k]."""
    num_perm = values.shape[1]
    for k in range(len(left)):
        first, second = values[left[k]], values[right[k]]
        equal = 0
        for p in range(num_perm):
            equal += first[p] == second[p]
        out[k] = equal / num_perm


@_compiled
def _table_bits(count: int) -> int:
    """log2 of the smallest power of two that holds `count` entries at most half full."""
    bits = 1
    while (1 << bits) < 2 * count:
        bits += 1
    return bits


@_compiled
def _pair_hashes(offsets: np.ndarray, first: int, second: int) -> int:
    """How many shingle hashes two texts have together (repeats included)."""
    return offsets[first + 1] - offsets[first] + offsets[second + 1] - offsets[second]


@_compiled
def shingle_jaccard(
    hashes: np.ndarray, offsets: np.ndarray, left: np.ndarray, right: np.ndarray, out: np.ndarray
) -> None:
    """out[k]: the Jaccard similarity of the shingle-hash sets of texts left[k] and right[k]
    (text i's hashes are hashes[offsets[i]:offsets[i + 1]], in any order, with repeats).

    Each pair's hashes go into a small open-addressing table that marks which side holds
    each value: the table's entries are the union, those marked by both the intersection.
    """
    longest = 1
    for k in range(len(left)):
        longest = max(longest, _pair_hashes(offsets, left[k], right[k]))
    capacity = 1 << _table_bits(longest)
    keys = np.empty(capacity, np.uint32)
    sides = np.empty(capacity, np.uint8)  # 1: the left text's, 2: the right's, 3: both
    stamps = np.zeros(capacity, np.int64)  # the pair (k + 1) that filled the slot
    for k in range(len(left)):
        bits = _table_bits(_pair_hashes(offsets, left[k], right[k]))
        mask = (1 << bits) - 1
        union = both = 0
        for side in (1, 2):
            text = left[k] if side == 1 else right[k]
            for at in range(offsets[text], offsets[text + 1]):
                value = hashes[at]
                slot = np.int64(np.uint32(value * np.uint32(0x9E3779B1)) >> np.uint32(32 - bits))
                while stamps[slot] == k + 1 and keys[slot] != value:
                    slot = (slot + 1) & mask
                if stamps[slot] != k + 1:
                    stamps[slot] = k + 1
                    keys[slot] = value
                    sides[slot] = side
                    union += 1
                elif sides[slot] == 1 and side == 2:
                    sides[slot] = 3
                    both += 1
        out[k] = both / union if union else 1.0
