"""Benchmark of dedup across versions: the index of N published rows and a new build.

Makes N published dialogues (default 1,000,000; 60 words from a 30,000-word vocabulary,
200 roles) and a new build of M rows (default 100,000) of which 30% reword a published
row of the same role (2 words changed). Times `build_index`, `save_index` (and the file's
size), `load_index` and `drop_published_copies`, and reports peak RSS (after making the
data, and at the end).

    .venv/bin/python bench/dedup_index.py [--published N] [--new M] [--seed K]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from rolemill.schemas.quality import DedupConfig
from rolemill.tasks.dedup_index import build_index, drop_published_copies, load_index, save_index

ROLES = 200
WORDS = 60


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dialogues(words: np.ndarray, roles: np.ndarray, prefix: str) -> pl.DataFrame:
    texts = pl.Series([" ".join(row) for row in words])
    return pl.DataFrame(
        {
            "id": [f"{prefix}{i:08d}" for i in range(len(words))],
            "role_id": [f"role-{r}" for r in roles],
            "messages": pl.DataFrame({"content": texts, "role": "assistant"})
            .select(pl.concat_list(pl.struct("role", "content")))
            .to_series(),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--published", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    vocabulary = np.array([f"w{i}" for i in range(30_000)])
    words = vocabulary[rng.integers(0, len(vocabulary), size=(args.published, WORDS))]
    roles = rng.integers(0, ROLES, size=args.published)
    published = dialogues(words, roles, "p")

    copies = int(args.new * 0.3)
    source = rng.choice(args.published, size=copies, replace=False)
    new_words = vocabulary[rng.integers(0, len(vocabulary), size=(args.new, WORDS))]
    new_words[:copies] = words[source]
    new_words[:copies, [10, 40]] = "changed"
    new_roles = rng.integers(0, ROLES, size=args.new)
    new_roles[:copies] = roles[source]
    new = dialogues(new_words, new_roles, "n")
    del words, new_words
    config = DedupConfig()
    figures: dict[str, float] = {"published": args.published, "new": args.new}
    figures["peak_rss_mb_after_making_data"] = peak_mb()

    start = time.perf_counter()
    index = build_index({"chat": published}, config)
    figures["build_index_s"] = time.perf_counter() - start
    del published
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.parquet"
        start = time.perf_counter()
        save_index(index, path)
        figures["save_s"] = time.perf_counter() - start
        figures["file_mb"] = path.stat().st_size / 2**20
        figures["file_mb_per_million_rows"] = figures["file_mb"] * 1e6 / args.published
        del index
        start = time.perf_counter()
        index = load_index(path)
        figures["load_s"] = time.perf_counter() - start
    start = time.perf_counter()
    outcome = drop_published_copies(new, "chat", index, config)
    figures["drop_s"] = time.perf_counter() - start
    figures["dropped"] = outcome.dropped
    figures["recall"] = outcome.dropped / copies
    figures["peak_rss_mb"] = peak_mb()
    for name, value in figures.items():
        print(f"{name:<28} {value:>12,.2f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
