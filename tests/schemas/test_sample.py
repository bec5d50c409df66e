from pathlib import Path

import datasets
import polars as pl
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from rolemill.schemas.sample import Message, Provenance, Sample, sample_arrow_schema
from rolemill.tasks.parquet import write_parquet


def _sample(question: str) -> Sample:
    return Sample.build(
        config="context_instruct",
        task="context_instruct/qa",
        role_id="sherlock-holmes",
        role_name="Sherlock Holmes",
        language="en",
        messages=[
            Message(role="user", content=question),
            Message(role="assistant", content="Elementary."),
        ],
        provenance=Provenance(model="m", provider="local", prompt_hash="abc"),
    )


def test_id_hashes_content_not_provenance() -> None:
    a, b = _sample("Who are you?"), _sample("Who are you?")
    b.provenance.run_id = "another-run"
    assert a.id == b.id
    assert _sample("Where do you live?").id != a.id


def test_sample_rejects_unknown_language_and_empty_messages() -> None:
    with pytest.raises(ValidationError, match="language"):
        Sample.build(
            config="c",
            task="t",
            role_id="r",
            role_name="R",
            language="fr",
            messages=[{"role": "user", "content": "x"}],
            provenance=Provenance(model="m", provider="p", prompt_hash="h"),
        )
    with pytest.raises(ValidationError, match="messages"):
        Sample(
            id="x",
            config="c",
            task="t",
            role_id="r",
            role_name="R",
            language="en",
            messages=[],
            provenance=Provenance(model="m", provider="p", prompt_hash="h"),
        )


def test_polars_parquet_datasets_round_trip(tmp_path: Path) -> None:
    rows = [_sample(q).model_dump(exclude={"fields"}) for q in ("Who are you?", "Your pipe?")]
    frame = pl.DataFrame(rows)
    assert frame.schema["messages"] == pl.List(pl.Struct({"role": pl.String, "content": pl.String}))
    path = write_parquet(
        frame, tmp_path / "data" / "train-00000-of-00001.parquet", sample_arrow_schema()
    )

    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    loaded = datasets.load_dataset("parquet", data_files=str(path), split="train")
    messages = loaded.features["messages"]
    assert isinstance(messages, datasets.List)
    assert messages.feature == {
        "role": datasets.Value("string"),
        "content": datasets.Value("string"),
    }
    assert loaded.features["id"] == datasets.Value("string")
    assert loaded[0]["messages"] == [
        {"role": "user", "content": "Who are you?"},
        {"role": "assistant", "content": "Elementary."},
    ]
    assert loaded[1]["provenance"]["prompt_hash"] == "abc"
