import random

import numpy as np
import polars as pl
import pytest

from rolemill.schemas.quality import DedupConfig
from rolemill.schemas.sample import Provenance, Sample
from rolemill.tasks.dedup import (
    MESSAGES_DTYPE,
    Clusters,
    band_params,
    dedup_text,
    dedup_text_expr,
    dedup_texts,
    deduplicate,
    deduplicate_per_role,
    shingles,
)
from rolemill.tasks.minhash import (
    candidate_pairs,
    compute_signatures,
    estimated_jaccard,
    exact_jaccard,
    shingle_hash,
    verify,
)

QUESTION = "Mr. Holmes, how did you know that I had come from Afghanistan?"
ANSWER = (
    "The train of reasoning ran so swiftly through my mind that I arrived at the conclusion "
    "without being conscious of intermediate steps. Here is a gentleman of a medical type, but "
    "with the air of a military man. He has just come from the tropics, for his face is dark, "
    "and that is not the natural tint of his skin, for his wrists are fair."
)
# The same answer with two words changed: a paraphrase-level near-duplicate.
ANSWER_REWORDED = ANSWER.replace("swiftly", "quickly").replace("dark", "tanned")
OTHER_ANSWER = (
    "I play the violin when a problem refuses to yield. The music clears the mind, and "
    "Watson, who bears it with admirable patience, says that the neighbours do not complain "
    "as long as I stop before midnight and play something by Mendelssohn at the end."
)
ZH_QUESTION = "师父，我们什么时候才能到达西天取得真经？"
ZH_ANSWER = (
    "悟空，取经之路漫长而艰险，九九八十一难缺一不可，这是佛祖早已定下的考验。"
    "你我师徒四人从长安出发，一路上翻过高山，渡过大河，遇过无数妖魔鬼怪，"
    "可哪一次不是靠着同心协力才化险为夷？为师知道你性子急，总想一个筋斗云翻到灵山，"
    "可真经须得一步一步走去求来，心诚则灵。只要我们不畏艰难，不贪富贵，不忘初心，"
    "终有一日能见到佛祖，取回真经，普度众生。"
)
# One word changed and the punctuation varied. Each changed Chinese character touches
# `shingle_size` shingles, so Chinese edits cost more similarity than English ones.
ZH_ANSWER_REWORDED = ZH_ANSWER.replace("漫长", "遥远").replace("，", "、").replace("？", "！")
ZH_OTHER_ANSWER = (
    "八戒，你又偷懒了。化斋本是你的差事，如今天色已晚，山中多有虎狼，"
    "快去前面村庄讨些素斋回来，莫要再贪睡误事，否则悟空回来又要笑你。"
)


def _sample(
    question: str,
    answer: str,
    *,
    role: str = "sherlock-holmes",
    language: str = "en",
    system: str | None = None,
    task: str = "context_instruct/qa",
) -> Sample:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return Sample.build(
        config="context_instruct",
        task=task,
        role_id=role,
        role_name=role.replace("-", " ").title(),
        language=language,
        messages=messages,
        provenance=Provenance(model="m", provider="local", prompt_hash="abc"),
    )


def _frame(samples: list[Sample]) -> pl.DataFrame:
    return pl.DataFrame([s.model_dump(exclude={"fields"}) for s in samples])


def test_dedup_text_takes_user_turns_and_final_answer_normalised() -> None:
    messages = [
        {"role": "system", "content": "You are Sherlock Holmes."},
        {"role": "user", "content": "Who  ARE you?"},
        {"role": "assistant", "content": "A consulting detective."},
        {"role": "user", "content": "Ｗhere do you live…"},
        {"role": "assistant", "content": "At 221B, Baker Street!"},
    ]
    assert dedup_text(messages) == "who are you where do you live at 221b baker street"
    assert dedup_text([{"role": "user", "content": "你好，世界！"}]) == "你好世界"
    assert dedup_text([{"role": "system", "content": "only a system turn"}]) == ""


def test_frame_dedup_texts_equal_the_expression_on_whitespace_and_unicode() -> None:
    contents = [
        "plain ascii text",
        "Tab\there, new\nline\r\nand  double   spaces ",
        "a - b -- c",  # symbols between spaces leave double spaces behind
        "non\u00a0breaking and ideographic\u3000space",
        "Ｆｕｌｌ width, «quotes» and\u2028line separator",
        "vertical\x0btab and form\x0cfeed",
        "  ",
        "!!!",
    ]
    frame = pl.DataFrame(
        {"messages": [[{"role": "user", "content": c}] for c in contents]},
        schema={"messages": MESSAGES_DTYPE},
    )
    expected = frame.select(dedup_text_expr(text="user")).to_series().to_list()
    assert dedup_texts(frame, DedupConfig(text="user")).to_list() == expected
    assert expected[1] == "tab here new line and double spaces"
    assert expected[2] == "a b c"
    assert expected[3] == "non breaking and ideographic space"


def test_shingles_are_word_or_character_ngrams() -> None:
    assert shingles("abcab", 3, "char") == [b"abc", b"bca", b"cab"]
    assert shingles("ab", 5, "char") == [b"ab"]
    assert shingles("a b c a b", 2) == [b"a b", b"b c", b"c a"]
    # Chinese and Japanese characters are words of their own, other scripts are not.
    assert set(shingles("取经 ok 한국어", 2)) == {
        "取经".encode(),
        "经 ok".encode(),
        "ok 한국어".encode(),
    }
    assert shingles("one two", 3) == [b"one two"]
    assert shingles("", 3) == []


def test_exact_duplicates_differing_in_case_punctuation_whitespace_are_removed() -> None:
    original = _sample(QUESTION, ANSWER)
    shouting = _sample(QUESTION.upper(), ANSWER.upper(), task="context_instruct/shouted")
    spaced = _sample(
        QUESTION.replace(" ", "   ").replace(",", ""),
        ANSWER.replace(".", "!") + "  ",
        task="context_instruct/spaced",
    )
    # A different system prompt does not make a different sample.
    prompted = _sample(QUESTION, ANSWER, system="Stay in character.")
    distinct = _sample(QUESTION, OTHER_ANSWER)
    samples = [original, shouting, spaced, prompted, distinct]
    assert len({s.id for s in samples}) == 5

    outcome = deduplicate(_frame(samples), DedupConfig(near=False))

    assert outcome.exact_dropped == 3
    assert outcome.near_dropped == 0
    dupes = sorted(s.id for s in samples[:4])
    assert outcome.clusters == [dupes]
    assert sorted(outcome.kept["id"]) == sorted([dupes[0], distinct.id])


def test_near_duplicates_are_removed_and_distinct_answers_survive() -> None:
    base = _sample(QUESTION, ANSWER)
    reworded = _sample(QUESTION, ANSWER_REWORDED)
    reworded_question = _sample(QUESTION.replace("how did you know", "how could you tell"), ANSWER)
    distinct = _sample(QUESTION, OTHER_ANSWER)
    other_question = _sample("Why do you play the violin so late at night?", OTHER_ANSWER)
    frame = _frame([base, reworded, reworded_question, distinct, other_question])

    outcome = deduplicate(frame, DedupConfig())

    cluster_ids = {base.id, reworded.id, reworded_question.id}
    assert outcome.exact_dropped == 0
    assert outcome.near_dropped == 2
    assert outcome.clusters == [sorted(cluster_ids)]
    kept = set(outcome.kept["id"])
    assert min(cluster_ids) in kept
    assert {distinct.id, other_question.id} <= kept
    assert outcome.kept.height == 3


def test_kept_row_is_smallest_id_whatever_the_input_order() -> None:
    variants = [
        ANSWER,
        ANSWER_REWORDED,
        ANSWER.replace("medical", "doctorly"),
        ANSWER.replace("gentleman", "fellow"),
        ANSWER.upper(),
    ]
    samples = [_sample(QUESTION, v) for v in variants] + [
        _sample(QUESTION, OTHER_ANSWER),
        _sample("你是谁？", ZH_ANSWER, language="zh"),
    ]
    smallest = min(s.id for s in samples[:5])
    results = []
    for seed in range(6):
        shuffled = samples[:]
        random.Random(seed).shuffle(shuffled)
        frame = _frame(shuffled)
        outcome = deduplicate(frame, DedupConfig())
        kept = outcome.kept["id"].to_list()
        # Input order is preserved among the kept rows.
        assert kept == [i for i in frame["id"].to_list() if i in set(kept)]
        results.append((sorted(kept), outcome.clusters, outcome.exact_dropped))

    assert all(result == results[0] for result in results)
    kept, clusters, exact = results[0]
    assert smallest in kept
    assert len(kept) == 3
    assert exact == 1
    assert clusters == [[smallest, *sorted(s.id for s in samples[:5] if s.id != smallest)]]


def test_chinese_near_duplicates_are_caught() -> None:
    base = _sample(ZH_QUESTION, ZH_ANSWER, role="tang-sanzang", language="zh")
    reworded = _sample(ZH_QUESTION, ZH_ANSWER_REWORDED, role="tang-sanzang", language="zh")
    distinct = _sample("八戒去哪儿了？", ZH_OTHER_ANSWER, role="tang-sanzang", language="zh")

    outcome = deduplicate(_frame([base, reworded, distinct]), DedupConfig())

    assert outcome.near_dropped == 1
    assert outcome.clusters == [sorted([base.id, reworded.id])]
    assert set(outcome.kept["id"]) == {min(base.id, reworded.id), distinct.id}


def test_disabled_stages_and_empty_text_rows_are_kept() -> None:
    base = _sample(QUESTION, ANSWER)
    reworded = _sample(QUESTION, ANSWER_REWORDED)
    empty_a = _sample("...", "!!!")
    empty_b = _sample("?", "…", task="context_instruct/other")
    frame = _frame([base, reworded, empty_a, empty_b])

    outcome = deduplicate(frame, DedupConfig(exact=True, near=False))
    assert outcome.kept.height == 4
    assert outcome.clusters == []

    outcome = deduplicate(frame, DedupConfig())
    assert outcome.near_dropped == 1
    assert {empty_a.id, empty_b.id} <= set(outcome.kept["id"])


def test_identical_texts_are_caught_by_near_stage_alone() -> None:
    samples = [_sample(QUESTION, ANSWER), _sample(QUESTION.lower(), ANSWER.lower(), task="t2")]
    for threshold in (0.8, 1.0):
        config = DedupConfig(exact=False, threshold=threshold, num_perm=16)
        outcome = deduplicate(_frame(samples), config)
        assert (outcome.exact_dropped, outcome.near_dropped) == (0, 1)


def test_empty_frame_and_missing_columns() -> None:
    empty = _frame([_sample(QUESTION, ANSWER)]).clear()
    outcome = deduplicate(empty, DedupConfig())
    assert outcome.kept.height == 0
    assert outcome.kept.schema == empty.schema
    assert (outcome.exact_dropped, outcome.near_dropped, outcome.clusters) == (0, 0, [])

    with pytest.raises(ValueError, match=r"lacks columns \['messages'\]"):
        deduplicate(pl.DataFrame({"id": ["a"]}), DedupConfig())


def test_config_bounds() -> None:
    with pytest.raises(ValueError, match="threshold"):
        DedupConfig(threshold=0)
    with pytest.raises(ValueError, match="num_perm"):
        DedupConfig(num_perm=8)
    with pytest.raises(ValueError, match="extra"):
        DedupConfig.model_validate({"treshold": 0.9})


# --- datasketch compatibility -------------------------------------------------------

COMPAT_TEXTS = [
    dedup_text([{"role": "user", "content": QUESTION}, {"role": "assistant", "content": ANSWER}]),
    dedup_text(
        [{"role": "user", "content": ZH_QUESTION}, {"role": "assistant", "content": ZH_ANSWER}]
    ),
    "mixed 中文 text カタカナ 한국어 éè 𠀀 end",
    "one",
    "a b a b a b",
    "",  # no shingle: every value stays at datasketch's maximum
]


@pytest.mark.parametrize(
    ("unit", "size", "num_perm", "seed"),
    [("word", 2, 128, 1), ("word", 1, 64, 7), ("word", 5, 16, 0), ("char", 5, 128, 1)],
)
def test_signatures_equal_datasketch_minhash_bit_for_bit(
    unit: str, size: int, num_perm: int, seed: int
) -> None:
    from datasketch import MinHash

    signatures = compute_signatures(
        pl.Series(COMPAT_TEXTS),
        size=size,
        unit=unit,
        num_perm=num_perm,
        seed=seed,  # type: ignore[arg-type]
    )
    assert signatures.values.dtype == np.uint32
    for row, text in enumerate(COMPAT_TEXTS):
        reference = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash)
        for gram in shingles(text, size, unit):  # type: ignore[arg-type]
            reference.update(gram)
        assert reference.hashvalues.dtype == np.uint32
        assert np.array_equal(reference.hashvalues, signatures.values[row]), text
        assert set(signatures.shingle_set(row).tolist()) == {
            shingle_hash(gram)
            for gram in shingles(text, size, unit)  # type: ignore[arg-type]
        }


def test_lean_minhash_from_our_signatures_works_in_datasketch_lsh() -> None:
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    texts = [ANSWER, ANSWER_REWORDED, OTHER_ANSWER, ZH_ANSWER, ZH_ANSWER_REWORDED]
    normalised = [dedup_text([{"role": "assistant", "content": t}]) for t in texts]
    config = DedupConfig()
    signatures = compute_signatures(
        pl.Series(normalised), size=2, unit="word", num_perm=config.num_perm, seed=config.seed
    )
    lean = [
        LeanMinHash(seed=config.seed, hashvalues=row, scheme="affine32")
        for row in signatures.values
    ]
    for params in (None, band_params(config)):
        lsh = (
            MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
            if params is None
            else MinHashLSH(num_perm=config.num_perm, params=params)
        )
        for key, sketch in enumerate(lean):
            lsh.insert(key, sketch)
        assert set(lsh.query(lean[0])) == {0, 1}
        assert set(lsh.query(lean[3])) == {3, 4}
    # Our sketches and datasketch's own compare as one.
    theirs = MinHash(num_perm=config.num_perm, seed=config.seed, hashfunc=shingle_hash)
    theirs.update_batch(shingles(normalised[1], 2))
    assert lean[0].jaccard(theirs) == lean[0].jaccard(lean[1]) >= 0.8


def test_pair_jaccard_equals_shingle_sets_and_datasketch() -> None:
    from datasketch import MinHash

    rng = random.Random(3)
    vocabulary = ["tea", "fog", "lamp", "cab", "pipe", "violin", "雾", "茶", "灯"]
    texts = [" ".join(rng.choices(vocabulary, k=rng.randint(1, 40))) for _ in range(60)]
    texts += ["", "tea"]  # no shingle at all, and one whole-text shingle
    config = DedupConfig()
    signatures = compute_signatures(
        pl.Series(texts), size=2, unit="word", num_perm=config.num_perm, seed=config.seed
    )
    left = np.array([rng.randrange(len(texts)) for _ in range(300)] + [60, 60, 61])
    right = np.array([rng.randrange(len(texts)) for _ in range(300)] + [60, 61, 61])
    sets = [{shingle_hash(gram) for gram in shingles(text, 2)} for text in texts]
    sketches = [MinHash(config.num_perm, config.seed, hashfunc=shingle_hash) for _ in texts]
    for sketch, text in zip(sketches, texts, strict=True):
        sketch.update_batch(shingles(text, 2))

    exact = exact_jaccard(signatures, left, right)
    estimate = estimated_jaccard(signatures.values, left, right)
    for k, (i, j) in enumerate(zip(left.tolist(), right.tolist(), strict=True)):
        union = sets[i] | sets[j]
        assert exact[k] == (len(sets[i] & sets[j]) / len(union) if union else 1.0), (i, j)
        assert estimate[k] == sketches[i].jaccard(sketches[j]), (i, j)


def test_clusters_are_made_on_access_in_order_of_kept_row() -> None:
    ids = pl.Series(["a", "b", "c", "d", "e", "f"])
    # rows 1 and 4 duplicate row 0, row 5 duplicates row 3
    clusters = Clusters(ids, np.array([-1, 0, -1, -1, 0, 3]))
    assert len(clusters) == 2
    assert clusters[0] == ["a", "b", "e"]
    assert clusters[-1] == ["d", "f"]
    assert clusters[:1] == [["a", "b", "e"]]
    assert clusters == [["a", "b", "e"], ["d", "f"]]
    assert clusters != [["a", "b", "e"]]
    with pytest.raises(IndexError):
        clusters[2]
    assert list(Clusters(ids, np.full(6, -1))) == []


def test_band_params_derive_from_threshold_or_are_set() -> None:
    bands, rows = band_params(DedupConfig())
    assert bands * rows <= 128
    # A pair exactly at the threshold becomes a candidate with probability >= 0.995.
    assert 1 - (1 - 0.8**rows) ** bands >= 0.995
    assert band_params(DedupConfig(threshold=0.5)) != (bands, rows)
    assert band_params(DedupConfig(bands=16, rows=8)) == (16, 8)
    with pytest.raises(ValueError, match="together"):
        DedupConfig(bands=16)
    with pytest.raises(ValueError, match="exceeds num_perm"):
        DedupConfig(bands=16, rows=9)


# --- a labelled set with realistic overlap ---------------------------------------------

SYNONYMS = {
    "quickly": "swiftly",
    "big": "large",
    "said": "remarked",
    "small": "little",
    "begin": "start",
    "help": "assist",
    "answer": "reply",
    "think": "believe",
    "friend": "companion",
    "city": "town",
    "house": "home",
    "road": "street",
    "always": "ever",
    "happy": "glad",
    "old": "ancient",
    "strange": "odd",
}
FILLERS = ["indeed", "really", "well", "perhaps", "truly", "of course", "you see"]
QUESTIONS = [
    "What do you think about the {noun} in the {place}?",
    "Can you help me find the {noun} near the {place}?",
    "Why did you go to the {place} with your {person}?",
    "How would you answer a {person} who asks about the {noun}?",
]
OPENINGS = [
    "Well, my {person}, I think the {noun} is the key to this whole affair.",
    "I always begin with the {noun}, because the {place} tells its own story.",
    "You ask a fair question, and I shall answer it as plainly as I can.",
    "Nothing in the {place} is what it seems, least of all the {noun}.",
]
MIDDLES = [
    "When I walked along the old road to the {place}, I saw a strange mark on the {noun}, "
    "and my {person} said it was nothing, but I knew better than that.",
    "A small detail, such as the dust on a {noun} or the mud on a boot, can help more than "
    "a hundred witnesses who saw everything in the {place} and understood none of it.",
    "The house by the {place} was quiet, yet the {noun} had been moved twice since "
    "morning, which only a careful {person} would ever notice.",
    "I went quickly to the city, spoke with an old friend about the {noun}, and came back "
    "to the {place} before my {person} had finished breakfast.",
]
CLOSINGS = [
    "So the answer is simple once you see it, and I am happy to explain it again.",
    "Come, my {person}, the game is afoot and the {place} will not wait for us.",
    "That is all I can say for now; the rest must wait until morning.",
    "Think on it, and you will find the {noun} has told us everything already.",
]
SLOTS = {
    "noun": ["letter", "candle", "watch", "map", "key", "painting", "ledger", "glove"],
    "place": ["station", "harbour", "garden", "library", "market", "chapel"],
    "person": ["friend", "doctor", "brother", "client", "landlady", "inspector"],
}


def _fill(template: str, rng: random.Random) -> str:
    return template.format(**{slot: rng.choice(options) for slot, options in SLOTS.items()})


def _paraphrase(text: str, edits: int, rng: random.Random) -> str:
    """Word-level edits a rewording model makes: synonyms, swaps, insertions, deletions,
    punctuation and case (the last two vanish in normalisation)."""
    words = text.split()
    for _ in range(edits):
        kind = rng.choice(["synonym", "swap", "insert", "delete", "punctuation", "case"])
        at = rng.randrange(len(words))
        if kind == "synonym":
            plain = words[at].strip(".,;?!").lower()
            replacement = SYNONYMS.get(plain) or {v: k for k, v in SYNONYMS.items()}.get(plain)
            words[at] = replacement or rng.choice(list(SYNONYMS.values()))
        elif kind == "swap" and at + 1 < len(words):
            words[at], words[at + 1] = words[at + 1], words[at]
        elif kind == "insert":
            words.insert(at, rng.choice(FILLERS))
        elif kind == "delete" and len(words) > 5:
            del words[at]
        elif kind == "punctuation":
            words[at] = words[at] + rng.choice([",", ";", "!", " -"])
        else:
            words[at] = words[at].upper()
    return " ".join(words)


def _labelled_frame(seed: int = 0, bases: int = 300) -> pl.DataFrame:
    """Templated dialogues, paraphrase-edited copies (0-12 edits) and exact copies."""
    rng = random.Random(seed)
    rows: list[tuple[str, str, str]] = []  # (role, question, answer)
    for _ in range(bases):
        question = _fill(rng.choice(QUESTIONS), rng)
        answer = " ".join(
            _fill(rng.choice(part), rng) for part in (OPENINGS, MIDDLES, MIDDLES, CLOSINGS)
        )
        rows.append((rng.choice(["holmes", "watson"]), question, answer))
    for _ in range(bases):
        role, question, answer = rng.choice(rows[:bases])
        edits = rng.randrange(13)
        rows.append((role, _paraphrase(question, edits // 4, rng), _paraphrase(answer, edits, rng)))
    for _ in range(bases // 6):
        role, question, answer = rng.choice(rows)
        rows.append((role, question.upper(), answer.replace(",", " ,") + "!"))
    order = list(range(len(rows)))
    rng.shuffle(order)
    return pl.DataFrame(
        {
            "id": [f"s{rng.getrandbits(48):012x}" for _ in rows],
            "role_id": [rows[i][0] for i in order],
            "messages": [
                [
                    {"role": "user", "content": rows[i][1]},
                    {"role": "assistant", "content": rows[i][2]},
                ]
                for i in order
            ],
        },
        schema={"id": pl.String, "role_id": pl.String, "messages": MESSAGES_DTYPE},
    )


def _true_jaccard(frame: pl.DataFrame) -> tuple[list[str], dict[tuple[int, int], float]]:
    """The exact Jaccard similarity of every same-role pair sharing a shingle."""
    texts = frame.select(dedup_text_expr()).to_series().to_list()
    sets = [frozenset(shingles(text, 2)) for text in texts]
    roles = frame["role_id"].to_list()
    similarity = {}
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            if roles[i] == roles[j]:
                union = len(sets[i] | sets[j])
                similarity[(i, j)] = len(sets[i] & sets[j]) / union if union else 1.0
    return texts, similarity


def test_labelled_set_recall_and_precision_at_jaccard_0_8() -> None:
    frame = _labelled_frame()
    texts, similarity = _true_jaccard(frame)
    truth = {pair for pair, value in similarity.items() if value >= 0.8}
    # The set is realistic only if it has pairs on both sides of the threshold, close to it.
    assert len(truth) >= 200
    assert sum(0.7 <= value < 0.8 for value in similarity.values()) >= 50
    assert sum(0.8 <= value < 0.9 for value in similarity.values()) >= 50

    # Pair level: the candidates LSH proposes and verification confirms.
    config = DedupConfig()
    bands, rows = band_params(config)
    signatures = compute_signatures(
        pl.Series(texts),
        size=2,
        unit="word",
        num_perm=config.num_perm,
        seed=config.seed,
        bands=bands,
        rows=rows,
        groups=frame["role_id"].rank("dense").to_numpy(),
    )
    left, right = candidate_pairs(signatures.keys)
    ok = verify(signatures, left, right, config.threshold)
    found = set(zip(left[ok].tolist(), right[ok].tolist(), strict=True))
    hits = len(found & truth)
    assert hits / len(truth) >= 0.98, (hits, len(truth))
    assert hits / len(found) >= 0.99, (hits, len(found))

    # Outcome level: no two kept rows are near-duplicates; every dropped row is a
    # near-duplicate (or an exact one) of its cluster's kept row.
    outcome = deduplicate_per_role(frame, config)
    row_of = {sample_id: row for row, sample_id in enumerate(frame["id"].to_list())}
    kept_rows = sorted(row_of[i] for i in outcome.kept["id"].to_list())
    kept = set(kept_rows)
    missed = [pair for pair in truth if pair[0] in kept and pair[1] in kept]
    assert len(missed) <= 0.02 * len(truth), missed
    drops = [(row_of[c[0]], row_of[m]) for c in outcome.clusters for m in c[1:]]
    wrong = [d for d in drops if similarity[(min(d), max(d))] < 0.8]
    assert len(wrong) <= 0.01 * len(drops), wrong
    assert outcome.dropped == len(drops) == frame.height - len(kept)


def test_exact_duplicates_are_always_caught_and_keep_rule_ignores_input_order() -> None:
    frame = _labelled_frame(seed=1, bases=120)
    texts = frame.select(dedup_text_expr()).to_series().to_list()
    roles = frame["role_id"].to_list()
    outcomes = [
        deduplicate_per_role(frame.sample(fraction=1.0, shuffle=True, seed=seed), DedupConfig())
        for seed in range(4)
    ]
    first = outcomes[0]
    for outcome in outcomes[1:]:
        assert sorted(outcome.kept["id"].to_list()) == sorted(first.kept["id"].to_list())
        assert outcome.clusters == first.clusters
        assert (outcome.exact_dropped, outcome.near_dropped) == (
            first.exact_dropped,
            first.near_dropped,
        )
    kept = set(first.kept["id"].to_list())
    ids = frame["id"].to_list()
    distinct = {(roles[i], texts[i]) for i in range(frame.height)}
    kept_keys = [(roles[i], texts[i]) for i in range(frame.height) if ids[i] in kept]
    assert len(kept_keys) == len(set(kept_keys))  # no exact duplicate survives
    assert first.exact_dropped == frame.height - len(distinct)
    for cluster in first.clusters:
        assert cluster[0] == min(cluster)


def test_text_choice_per_config() -> None:
    question_a = _sample("Who are you?", ANSWER, task="t1")
    question_b = _sample("Where do you live?", ANSWER, task="t2")
    frame = _frame([question_a, question_b])
    assert deduplicate(frame, DedupConfig(near=False)).dropped == 0
    outcome = deduplicate(frame, DedupConfig(text="final"))
    assert (outcome.exact_dropped, outcome.near_dropped) == (1, 0)
    by_config = DedupConfig(near=False, text_by_config={"context_instruct": "final"})
    assert deduplicate(frame, by_config).exact_dropped == 1
    other_config = DedupConfig(near=False, text_by_config={"mrc": "final"})
    assert deduplicate(frame, other_config).dropped == 0
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
        {"role": "assistant", "content": "A2"},
    ]
    assert dedup_text(messages, "user") == "q1 q2"
    assert dedup_text(messages, "final") == "a2"
    assert dedup_text(messages, "dialogue") == "q1 a1 q2 a2"


def test_same_text_in_two_roles_is_kept_twice() -> None:
    holmes = _sample(QUESTION, ANSWER)
    watson = _sample(QUESTION, ANSWER, role="john-watson")
    holmes_reworded = _sample(QUESTION, ANSWER_REWORDED)
    outcome = deduplicate_per_role(_frame([holmes, watson, holmes_reworded]), DedupConfig())
    assert outcome.near_dropped == 1
    assert {holmes.id, watson.id} <= set(outcome.kept["id"])


def test_signatures_do_not_depend_on_batching_or_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    from rolemill.tasks import minhash

    texts = pl.Series(COMPAT_TEXTS * 3)
    groups = np.arange(len(texts)) // len(COMPAT_TEXTS) % 2  # the copies in groups 0, 1, 0

    def run(threads: int) -> minhash.Signatures:
        return compute_signatures(
            texts,
            size=2,
            unit="word",
            num_perm=32,
            seed=1,
            threads=threads,
            bands=4,
            rows=8,
            groups=groups,
        )

    whole = run(1)
    monkeypatch.setattr(minhash, "BATCH_DOCS", 2)
    for threads in (1, 2):
        batched = run(threads)
        assert np.array_equal(batched.values, whole.values)
        assert np.array_equal(batched.keys, whole.keys)
        assert np.array_equal(batched.hashes, whole.hashes)
        assert np.array_equal(batched.offsets, whole.offsets)
    # Equal texts in one group share every band key; in different groups, none.
    same, other = 2 * len(COMPAT_TEXTS), len(COMPAT_TEXTS)
    assert np.array_equal(whole.keys[:, 0], whole.keys[:, same])
    assert not np.any(whole.keys[:, 0] == whole.keys[:, other])
