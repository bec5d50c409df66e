"""The near-duplicate index of published rows: storage, settings, dropping copies across
versions, the shared index, and an index carried by a version on a git-LFS hub."""

from __future__ import annotations

import threading
from pathlib import Path

import datasets
import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from rolemill.schemas.manifest import ManifestFile
from rolemill.schemas.quality import DedupConfig
from rolemill.schemas.sample import Provenance, Sample
from rolemill.tasks.dedup import dedup_texts, signatures_for
from rolemill.tasks.dedup_index import (
    INDEX_PATH,
    DedupIndex,
    IndexSettingsError,
    add_to_shared_index,
    build_index,
    drop_published_copies,
    load_index,
    read_settings,
    save_index,
)
from rolemill.tasks.minhash import exact_jaccard
from rolemill.tasks.publish.dataset_tree import file_sha256, read_manifest, write_manifest
from rolemill.tasks.publish.git_lfs_hub import GitLfsHub
from rolemill.tasks.publish.versioning import Version, content_hash
from tests.flows.conftest import clone_version
from tests.tasks.publish import sample_table
from tests.tasks.publish.test_git_lfs_hub import git_config, make_tree  # noqa: F401 (fixture)
from tests.tasks.test_dedup import ANSWER, ANSWER_REWORDED, OTHER_ANSWER, QUESTION

CONFIG = DedupConfig()
SECOND_QUESTION = "What do you make of the walking stick our visitor left behind last night?"
SECOND_ANSWER = (
    "It belonged to a country doctor, young and amiable, who owns a favourite dog larger than "
    "a terrier and smaller than a mastiff; the marks of its teeth are plain on the wood, and "
    "the initials of a hospital are cut into the band below the handle."
)


def sample(question: str, answer: str, role: str = "sherlock-holmes", system: str = "") -> Sample:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return Sample.build(
        config="context_instruct",
        task="context_instruct/qa",
        role_id=role,
        role_name=role.replace("-", " ").title(),
        language="en",
        messages=messages,
        provenance=Provenance(model="m", provider="local", prompt_hash="abc"),
    )


def frame(samples: list[Sample]) -> pl.DataFrame:
    return pl.DataFrame([s.model_dump(exclude={"fields"}) for s in samples])


PUBLISHED = [
    sample(QUESTION, ANSWER),
    sample(SECOND_QUESTION, SECOND_ANSWER),
    sample(QUESTION, OTHER_ANSWER, role="john-watson"),
]


def published_index() -> DedupIndex:
    return build_index({"context_instruct": frame(PUBLISHED)}, CONFIG)


def test_index_round_trips_through_parquet_with_its_settings(tmp_path: Path) -> None:
    index = build_index(
        {"context_instruct": frame(PUBLISHED), "style_transfer": frame(PUBLISHED[:1])}, CONFIG
    )
    assert len(index) == 4 and index.signatures.shape == (4, CONFIG.num_perm)
    # The stored signatures are the ones dedup computes (datasketch-compatible values).
    texts = dedup_texts(frame(PUBLISHED), CONFIG)
    expected = signatures_for(texts, CONFIG, banded=False).values
    mine = index.rows["config"] == "context_instruct"
    order = np.argsort(index.rows.filter(mine)["id"].to_numpy())
    by_id = np.argsort(frame(PUBLISHED)["id"].to_numpy())
    assert (index.signatures[mine.to_numpy()][order] == expected[by_id]).all()

    path = save_index(index, tmp_path / "sub" / "index.parquet")
    assert [p.name for p in path.parent.iterdir()] == ["index.parquet"]  # no temp file left
    back = load_index(path)
    assert back.settings == index.settings == read_settings(path)
    original = dict(zip(index.rows["id"] + index.rows["config"], index.signatures, strict=True))
    for key, values in zip(back.rows["id"] + back.rows["config"], back.signatures, strict=True):
        assert (original[key] == values).all()
    assert back.rows.sort(["config", "id"]).equals(index.rows.sort(["config", "id"]))
    schema = pq.read_schema(path)
    assert str(schema.field("signature").type) == f"fixed_size_binary[{4 * CONFIG.num_perm}]"

    only = load_index(path, configs=["style_transfer"])
    assert only.rows["config"].to_list() == ["style_transfer"]
    assert (only.signatures[0] == original[PUBLISHED[0].id + "style_transfer"]).all()


def test_an_index_made_with_other_settings_is_refused_with_what_to_do(tmp_path: Path) -> None:
    index = published_index()
    other = DedupConfig(num_perm=64)
    with pytest.raises(IndexSettingsError, match=r"num_perm=128.*num_perm=64.*across_versions"):
        drop_published_copies(frame(PUBLISHED), "context_instruct", index, other)
    with pytest.raises(IndexSettingsError, match=r"shingle=word.*shingle=char"):
        index.check(DedupConfig(shingle="char"), "at x")
    # another dedup text hashes other words: those signatures are not comparable either
    with pytest.raises(IndexSettingsError, match=r"text=user_and_final, but.*text=final"):
        index.check(DedupConfig(text="final"), "at x")
    by_config = DedupConfig(text_by_config={"mrc": "final"})
    with pytest.raises(IndexSettingsError, match=r"text_by_config\.mrc=final"):
        index.check(by_config, "at x")
    saved = save_index(build_index({"mrc": frame(PUBLISHED)}, by_config), tmp_path / "by.parquet")
    load_index(saved).check(by_config, "at x")  # the choice per config survives the file
    shared = tmp_path / "shared.parquet"
    add_to_shared_index(shared, index)
    with pytest.raises(IndexSettingsError, match=f"{shared}.*another file"):
        add_to_shared_index(shared, build_index({"c": frame(PUBLISHED)}, DedupConfig(seed=7)))
    (tmp_path / "plain.parquet").write_bytes(pq.read_table(shared).to_pandas().to_parquet())
    with pytest.raises(ValueError, match="not a rolemill dedup index"):
        load_index(tmp_path / "plain.parquet")


def test_drops_exact_and_near_copies_of_published_rows() -> None:
    new = [
        # new ids (another system prompt) with the same question and answer up to case
        sample(QUESTION.upper(), ANSWER + "!", system="You are Holmes."),
        # two words changed: a near copy
        sample(QUESTION, ANSWER_REWORDED, system="You are Holmes."),
        # a new answer: kept
        sample(SECOND_QUESTION, OTHER_ANSWER),
    ]
    outcome = drop_published_copies(frame(new), "context_instruct", published_index(), CONFIG)
    assert outcome.kept["id"].to_list() == [new[2].id]
    assert outcome.dropped == 2
    assert sorted(outcome.examples) == sorted((s.id, PUBLISHED[0].id) for s in new[:2])


def test_never_drops_rows_already_published_nor_other_roles_or_configs() -> None:
    index = published_index()
    # A rebuild from the cache: the published rows again, plus a copy of one of them in
    # another role and the same rows under another config.
    rebuilt = [*PUBLISHED, sample(QUESTION, ANSWER_REWORDED, role="mycroft-holmes")]
    outcome = drop_published_copies(frame(rebuilt), "context_instruct", index, CONFIG)
    assert outcome.dropped == 0
    assert outcome.kept.equals(frame(rebuilt))
    copies = [sample(QUESTION, ANSWER_REWORDED)]
    assert drop_published_copies(frame(copies), "style_transfer", index, CONFIG).dropped == 0
    assert drop_published_copies(frame(copies), "context_instruct", index, CONFIG).dropped == 1
    off = DedupConfig(exact=False, near=False)
    assert drop_published_copies(frame(copies), "context_instruct", index, off).dropped == 0


def test_drops_copies_among_many_published_rows() -> None:
    """20,000 published dialogues of 60 words in 50 roles; 1,000 new rows of which 300
    reword a published row (2 words changed) and 100 copy one into another role."""
    rng = np.random.default_rng(5)
    vocabulary = np.array([f"w{i}" for i in range(3000)])
    words = vocabulary[rng.integers(0, len(vocabulary), size=(20_000, 60))]
    roles = [f"role-{i % 50}" for i in range(20_000)]
    texts = [" ".join(row) for row in words]
    published = dialogues(texts, roles, "p")
    index = build_index({"chat": published}, CONFIG)

    source = rng.choice(20_000, size=400, replace=False)
    reworded = words[source[:300]].copy()
    reworded[:, [10, 40]] = "changed"
    new_texts = [" ".join(row) for row in reworded]
    new_roles = [roles[i] for i in source[:300]]
    new_texts += [texts[i] for i in source[300:]]
    new_roles += [f"role-{(int(i) + 1) % 50}" for i in source[300:]]  # other roles: kept
    fresh = vocabulary[rng.integers(0, len(vocabulary), size=(600, 60))]
    new_texts += [" ".join(row) for row in fresh]
    new_roles += [f"role-{i % 50}" for i in range(600)]
    new = dialogues(new_texts, new_roles, "n")

    outcome = drop_published_copies(new, "chat", index, CONFIG)
    # Exactly the reworded rows whose signatures' estimate reaches the threshold are dropped
    # (the estimate decides: at a true Jaccard of about 0.88 it misses ~0.4% of pairs).
    new_values = signatures_for(dedup_texts(new.head(300), CONFIG), CONFIG, banded=False).values
    position = {row_id: i for i, row_id in enumerate(index.rows["id"].to_list())}
    old_values = index.signatures[[position[f"p{i:05d}"] for i in source[:300]]]
    reaching = (new_values == old_values).mean(axis=1) >= CONFIG.threshold
    assert reaching.sum() >= 294  # recall >= 0.98 at this similarity
    dropped = {f"n{i:05d}" for i in np.flatnonzero(reaching)}
    assert outcome.dropped == len(dropped)
    assert set(outcome.kept["id"].to_list()) == {f"n{i:05d}" for i in range(1000)} - dropped
    # each example pairs a dropped row with the row it reworded
    for new_id, published_id in outcome.examples:
        assert published_id == f"p{source[int(new_id[1:])]:05d}"
    first = int(np.flatnonzero(reaching)[0])
    both = pl.concat([new[first], published.filter(pl.col("id") == f"p{source[first]:05d}")])
    pair = signatures_for(dedup_texts(both, CONFIG), CONFIG, banded=False)
    assert exact_jaccard(pair, np.array([0]), np.array([1]))[0] > 0.85


def dialogues(texts: list[str], roles: list[str], prefix: str) -> pl.DataFrame:
    messages = [
        [{"role": "user", "content": "tell me"}, {"role": "assistant", "content": t}] for t in texts
    ]
    return pl.DataFrame(
        {
            "id": [f"{prefix}{i:05d}" for i in range(len(texts))],
            "role_id": roles,
            "messages": messages,
        }
    )


def test_shared_index_keeps_the_rows_of_concurrent_builds(tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "index.parquet"
    parts = [
        build_index({"chat": dialogues([f"dialogue of build {b}"], ["r"], f"b{b}-")}, CONFIG)
        for b in range(6)
    ]
    threads = [threading.Thread(target=add_to_shared_index, args=(shared, part)) for part in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(load_index(shared).rows["id"].to_list()) == [f"b{b}-00000" for b in range(6)]
    add_to_shared_index(shared, parts[0])  # adding the same rows again changes nothing
    assert len(load_index(shared)) == 6
    assert not list(shared.parent.glob("*.partial"))


def test_a_version_carries_its_index_and_the_hub_reads_it_alone(tmp_path: Path) -> None:
    hub = GitLfsHub(tmp_path / "hub.git", tmp_path / "work")
    tables = {"chat": sample_table("chat", range(5))}
    plain = make_tree(tmp_path / "plain", tables)
    hub.publish(plain, Version(0, 1, 0), "v0.1.0 without an index")
    assert hub.read_file("0.1.0", INDEX_PATH, tmp_path / "none.parquet") is None

    tree = make_tree(tmp_path / "tree", {"chat": sample_table("chat", range(8))})
    index = published_index()
    path = save_index(index, tree / INDEX_PATH)
    manifest = read_manifest(tree)
    manifest.dedup_index = ManifestFile(
        path=INDEX_PATH, sha256=file_sha256(path), rows=len(index), bytes=path.stat().st_size
    )
    write_manifest(tree, manifest)
    hub.publish(tree, Version(0, 2, 0), "v0.2.0")

    copy = hub.read_file("0.2.0", INDEX_PATH, tmp_path / "fetched.parquet")
    assert copy is not None and copy.read_bytes() == path.read_bytes()
    assert hub.manifest("0.2.0").dedup_index is not None
    # Only that LFS object came down: not the version's data file.
    cached = [p for p in (tmp_path / "work").rglob("lfs/objects/*/*/*") if p.is_file()]
    assert [p.name for p in cached] == [file_sha256(path)]

    # The index is stored through LFS, and `datasets` still loads the config alone.
    checkout = clone_version(tmp_path / "hub.git", "v0.2.0", tmp_path / "clone")
    assert (checkout / INDEX_PATH).read_bytes() == path.read_bytes()
    assert datasets.load_dataset(str(checkout), "chat", split="train").num_rows == 8
    assert manifest.content_hash == content_hash({"chat": sample_table("chat", range(8))})
