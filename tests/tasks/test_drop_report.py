import json

import polars as pl

from rolemill.tasks.dedup import MESSAGES_DTYPE
from rolemill.tasks.drop_report import (
    EXACT_DUPLICATE,
    NEAR_DUPLICATE,
    DropReport,
    cluster_examples,
    excerpt,
)


def _frame(rows: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": list(rows),
            "messages": [
                [{"role": "user", "content": "Who are you?"}, {"role": "assistant", "content": r}]
                for r in rows.values()
            ],
        },
        schema={"id": pl.String, "messages": MESSAGES_DTYPE},
    )


def test_counts_sum_per_config_and_reason_and_examples_are_capped(tmp_path):
    report = DropReport()
    report.add("mrc", "too_short", 2, [{"id": "a"}, {"id": "b"}])
    report.add("mrc", "too_short", 5, [{"id": f"c{i}"} for i in range(5)])
    report.add("mrc", "near_duplicate", 0, [{"id": "ignored"}])
    report.add("style_transfer", "too_short", 1)

    assert report.counts == {"mrc": {"too_short": 7}, "style_transfer": {"too_short": 1}}
    assert [e["id"] for e in report.examples["mrc"]["too_short"]] == ["a", "b", "c0"]
    assert report.totals() == {"too_short": 8}

    path = tmp_path / "drops.json"
    report.write(path)
    assert json.loads(path.read_text())["counts"]["mrc"] == {"too_short": 7}


def test_cluster_examples_quote_kept_and_dropped_replies():
    frame = _frame({"a1": "I am Holmes.", "b2": "I am  Holmes!", "c3": "Watson here.", "d4": "x"})
    examples = cluster_examples(frame, [["a1", "b2", "d4"], ["c3", "zz"]], limit=1)
    assert examples == [
        {
            "kept": {"id": "a1", "reply": "I am Holmes."},
            "dropped": [{"id": "b2", "reply": "I am Holmes!"}, {"id": "d4", "reply": "x"}],
            "cluster_size": 3,
        }
    ]


def test_duplicates_carry_their_clusters_under_the_larger_count():
    frame = _frame({"a1": "I am Holmes.", "b2": "I am Holmes!", "c3": "I am Holmes"})
    report = DropReport()
    report.add_duplicates("mrc", frame, exact=1, near=1, clusters=[["a1", "b2", "c3"]])
    assert report.counts == {"mrc": {EXACT_DUPLICATE: 1, NEAR_DUPLICATE: 1}}
    (example,) = report.examples["mrc"][NEAR_DUPLICATE]
    assert example["kept"]["id"] == "a1" and example["cluster_size"] == 3
    assert EXACT_DUPLICATE not in report.examples["mrc"]


def test_excerpt_flattens_and_cuts():
    assert excerpt("a\n b", 10) == "a b"
    assert excerpt("word " * 50, 12) == "word word w…"


def test_headlines_give_one_line_per_config_and_reason_for_the_summary():
    frame = _frame({"a1": "I am Holmes.", "b2": "I am  Holmes!"})
    report = DropReport()
    report.add_duplicates("mrc", frame, exact=0, near=1, clusters=[["a1", "b2"]])
    report.add("mrc", "too_short", 1, [{"id": "s", "role_name": "Alice", "excerpt": "Hm."}])
    report.add("ditto", "published_copy", 1, [{"id": "n1", "copies_published": "p1"}])
    report.add("style_transfer", "too_long", 1)  # no example: no headline
    assert report.headlines() == {
        "mrc": {
            NEAR_DUPLICATE: 'kept "I am Holmes.", dropped "I am Holmes!"',
            "too_short": 'Alice: "Hm."',
        },
        "ditto": {"published_copy": "n1 copies published p1"},
    }
    long = DropReport()
    long.add("mrc", "too_long", 1, [{"role_name": "Bob", "excerpt": "word " * 40}])
    assert len(long.headlines(limit=20)["mrc"]["too_long"]) == len('Bob: ""') + 20
