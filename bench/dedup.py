"""Benchmark of dedup at scale: docs/s end to end and peak memory, against datasketch.

Makes N synthetic dialogues (default 1,000,000; a user turn of 12 words and an answer of
48, words drawn with a Zipf-like law from a 30,000-word vocabulary, 200 roles), of which
30% are near-duplicates of another dialogue of the same role: a copy with 1 to 4 words
replaced and possibly two neighbours swapped (so some fall below the 0.8 threshold), and
a further 2% exact copies up to case and punctuation. Then times
`deduplicate_per_role(frame, DedupConfig())` end to end (dedup text, exact stage,
signatures, banding, verification, clusters) and each stage on its own, and reports the
process's peak RSS (ru_maxrss) before and after deduplicating.

On a slice of 20,000 dedup texts it also times datasketch over the same shingles (cut
beforehand, not timed): a `MinHash.update` loop per shingle and `MinHash.bulk`, both with
datasketch's default SHA-1 hash, and divides our end-to-end docs/s by each.

Targets: >= 100,000 docs/s end to end, <= 4 GB peak RSS.

    .venv/bin/python bench/dedup.py [--docs N] [--slice S] [--seed K]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from typing import Any

import numpy as np
import polars as pl

from rolemill.schemas.quality import DedupConfig
from rolemill.tasks import minhash
from rolemill.tasks.dedup import (
    THREADS,
    band_params,
    dedup_texts,
    deduplicate_per_role,
    shingles,
    signatures_for,
)

TARGET_DOCS_PER_S = 100_000
TARGET_PEAK_MB = 4096.0
USER_WORDS, ANSWER_WORDS = 12, 48
ROLES = 200


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_frame(docs: int, seed: int) -> pl.DataFrame:
    """The synthetic dialogues, in random order, with random ids."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("etaoinshrdlucmfwypvbgkjqxz"))
    vocab = np.array(
        ["".join(rng.choice(letters, size=rng.integers(2, 10))) for _ in range(30_000)]
    )
    words = USER_WORDS + ANSWER_WORDS
    near = int(docs * 0.30)
    exact = int(docs * 0.02)
    bases = docs - near - exact
    # Zipf-like: rank r drawn with probability ~ 1 / (r + 10)
    weights = 1.0 / (np.arange(len(vocab)) + 10.0)
    grid = rng.choice(len(vocab), size=(bases, words), p=weights / weights.sum())
    roles = rng.integers(0, ROLES, bases)

    source = rng.integers(0, bases, near)
    copies = grid[source].copy()
    edits = rng.integers(1, 5, near)
    for k in range(4):
        rows = np.flatnonzero(edits > k)
        copies[rows, rng.integers(0, words, len(rows))] = rng.integers(0, len(vocab), len(rows))
    swap = np.flatnonzero(rng.random(near) < 0.3)
    at = rng.integers(0, words - 1, len(swap))
    copies[swap, at], copies[swap, at + 1] = copies[swap, at + 1], copies[swap, at].copy()
    exact_source = rng.integers(0, bases, exact)

    grid = np.concatenate([grid, copies, grid[exact_source]])
    roles = np.concatenate([roles, roles[source], roles[exact_source]])
    order = rng.permutation(docs)
    grid, roles = grid[order], roles[order]
    shout = np.isin(order, np.arange(bases + near, docs))  # the exact copies, shouted

    words_of = pl.Series(vocab)
    parts = []
    for begin in range(0, docs, 100_000):  # in slices, to keep the generator's peak low
        block = grid[begin : begin + 100_000]
        columns = pl.DataFrame({f"w{k}": words_of.gather(block[:, k]) for k in range(words)})
        parts.append(
            columns.select(
                user=pl.concat_str([f"w{k}" for k in range(USER_WORDS)], separator=" "),
                answer=pl.concat_str([f"w{k}" for k in range(USER_WORDS, words)], separator=" "),
            )
        )
    joined = pl.concat(parts)
    del parts, grid
    ids = rng.integers(0, 2**63, docs, dtype=np.int64)
    frame = joined.select(
        id=pl.Series(ids).cast(pl.String).str.zfill(19),
        role_id=pl.lit("role-") + pl.Series(roles).cast(pl.String),
        messages=pl.concat_list(
            pl.struct(
                role=pl.lit("user"),
                content=pl.when(pl.Series(shout))
                .then(pl.col("user").str.to_uppercase() + "?")
                .otherwise(pl.col("user")),
            ),
            pl.struct(role=pl.lit("assistant"), content=pl.col("answer") + "."),
        ),
    )
    return frame


def timed(action: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def datasketch_figures(texts: list[str], config: DedupConfig) -> dict[str, float]:
    """docs/s of datasketch's update loop and bulk over pre-cut shingles (default SHA-1)."""
    from datasketch import MinHash

    cut = [shingles(text, config.shingle_size, config.shingle) for text in texts]

    def update_loop() -> None:
        for grams in cut:
            sketch = MinHash(num_perm=config.num_perm, seed=config.seed)
            for gram in grams:
                sketch.update(gram)

    _, update_s = timed(update_loop)
    _, bulk_s = timed(lambda: MinHash.bulk(cut, num_perm=config.num_perm, seed=config.seed))
    return {"update_docs_per_s": len(texts) / update_s, "bulk_docs_per_s": len(texts) / bulk_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--slice", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = DedupConfig()

    frame, make_s = timed(lambda: make_frame(args.docs, args.seed))
    gc.collect()
    data_peak = peak_mb()

    outcome, total_s = timed(lambda: deduplicate_per_role(frame, config))
    dedup_peak = peak_mb()

    # The stages again, one by one, for the breakdown (the near stage over all texts).
    texts, text_s = timed(lambda: dedup_texts(frame, config))
    groups = frame["role_id"].rank("dense").to_numpy()
    signatures, signature_s = timed(lambda: signatures_for(texts, config, groups))
    start = time.perf_counter()
    left, right = minhash.candidate_pairs(signatures.keys)
    banding_s = time.perf_counter() - start
    start = time.perf_counter()
    confirmed = minhash.verify(signatures, left, right, config.threshold)
    verify_s = time.perf_counter() - start
    del signatures

    sample = texts.slice(0, args.slice)
    ours_slice, ours_slice_s = timed(lambda: signatures_for(sample, config, banded=False))
    theirs = datasketch_figures(sample.to_list(), config)
    docs_per_s = args.docs / total_s
    report = {
        "docs": args.docs,
        "threads": THREADS,
        "num_perm": config.num_perm,
        "shingles": f"{config.shingle} {config.shingle_size}-grams",
        "bands_rows": list(band_params(config)),
        "make_s": round(make_s, 2),
        "dedup_s": round(total_s, 2),
        "docs_per_s": round(docs_per_s),
        "exact_dropped": outcome.exact_dropped,
        "near_dropped": outcome.near_dropped,
        "kept": outcome.kept.height,
        "stage_text_s": round(text_s, 2),
        "stage_signatures_s": round(signature_s, 2),
        "stage_banding_s": round(banding_s, 2),
        "stage_verify_s": round(verify_s, 2),
        "candidate_pairs": len(left),
        "confirmed_pairs": int(confirmed.sum()),
        "peak_rss_data_mb": round(data_peak),
        "peak_rss_mb": round(dedup_peak),
        "slice_docs": args.slice,
        "slice_ours_signatures_docs_per_s": round(args.slice / ours_slice_s),
        "slice_datasketch_update_docs_per_s": round(theirs["update_docs_per_s"]),
        "slice_datasketch_bulk_docs_per_s": round(theirs["bulk_docs_per_s"]),
        "speedup_vs_update": round(docs_per_s / theirs["update_docs_per_s"], 1),
        "speedup_vs_bulk": round(docs_per_s / theirs["bulk_docs_per_s"], 1),
    }
    del ours_slice
    ok = docs_per_s >= TARGET_DOCS_PER_S and dedup_peak <= TARGET_PEAK_MB
    width = max(len(key) for key in report)
    print(f"dedup benchmark: {args.docs:,} dialogues, {THREADS} threads")
    for key, value in report.items():
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        print(f"  {key:<{width}}  {shown}")
    print(
        f"  targets: >= {TARGET_DOCS_PER_S:,} docs/s end to end, <= {TARGET_PEAK_MB:,.0f} MB "
        f"peak RSS: {'met' if ok else 'NOT met'}"
    )
    print(json.dumps(report | {"targets_met": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
