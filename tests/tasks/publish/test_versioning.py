from __future__ import annotations

import pyarrow as pa
import pytest

from rolemill.schemas.manifest import Manifest, ManifestConfig
from rolemill.tasks.publish.versioning import Version, content_hash, next_version
from tests.tasks.publish import sample_table


def manifest(version: str, digest: str, **configs: tuple[int, list[str]]) -> Manifest:
    return Manifest(
        name="demo",
        version=version,
        content_hash=digest,
        created="2025-01-01T00:00:00Z",
        rolemill_version="0.1.0",
        configs={
            name: ManifestConfig(rows=rows, columns=columns, files=[])
            for name, (rows, columns) in configs.items()
        },
    )


COLUMNS = ["id", "messages"]


def test_parse_tag_order_and_bump() -> None:
    assert Version.parse("v1.2.3") == Version.parse("1.2.3") == Version(1, 2, 3)
    assert Version(1, 2, 3).tag == "v1.2.3"
    assert str(Version(1, 2, 3)) == "1.2.3"
    assert sorted([Version(1, 10, 0), Version(1, 2, 0), Version(0, 9, 9)]) == [
        Version(0, 9, 9),
        Version(1, 2, 0),
        Version(1, 10, 0),
    ]
    assert Version(1, 2, 3).bump("major") == Version(2, 0, 0)
    assert Version(1, 2, 3).bump("minor") == Version(1, 3, 0)
    assert Version(1, 2, 3).bump("patch") == Version(1, 2, 4)


@pytest.mark.parametrize("text", ["1.2", "v1.2.3-rc1", "latest", "01.2.3", ""])
def test_parse_rejects_non_semver_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a dataset version.*MAJOR\.MINOR\.PATCH"):
        Version.parse(text)


def test_first_version_is_0_1_0() -> None:
    assert next_version(None, manifest("", "h1", a=(3, COLUMNS))) == Version(0, 1, 0)


def test_same_content_makes_no_version() -> None:
    previous = manifest("0.3.0", "h1", a=(3, COLUMNS))
    assert next_version(previous, manifest("", "h1", a=(3, COLUMNS))) is None


def test_rows_added_or_removed_or_config_added_is_minor() -> None:
    previous = manifest("0.3.1", "h1", a=(3, COLUMNS))
    assert next_version(previous, manifest("", "h2", a=(5, COLUMNS))) == Version(0, 4, 0)
    assert next_version(previous, manifest("", "h2", a=(2, COLUMNS))) == Version(0, 4, 0)
    grown = manifest("", "h2", a=(3, COLUMNS), b=(1, COLUMNS))
    assert next_version(previous, grown) == Version(0, 4, 0)


def test_column_change_or_dropped_config_is_major() -> None:
    previous = manifest("0.3.1", "h1", a=(3, COLUMNS), b=(1, COLUMNS))
    changed = manifest("", "h2", a=(3, [*COLUMNS, "fields"]), b=(1, COLUMNS))
    assert next_version(previous, changed) == Version(1, 0, 0)
    dropped = manifest("", "h2", a=(3, COLUMNS))
    assert next_version(previous, dropped) == Version(1, 0, 0)


def test_content_hash_ignores_row_order_but_not_rows_or_types() -> None:
    table = sample_table("a", range(6))
    shuffled = table.take([3, 0, 5, 1, 4, 2])
    assert content_hash({"a": table}) == content_hash({"a": shuffled})
    assert content_hash({"a": table, "b": table}) == content_hash({"b": table, "a": table})

    assert content_hash({"a": table}) != content_hash({"a": table.slice(0, 5)})
    assert content_hash({"a": table}) != content_hash({"renamed": table})
    retyped = pa.table({"id": table.column("id"), "n": pa.array(range(6), pa.int32())})
    wider = pa.table({"id": table.column("id"), "n": pa.array(range(6), pa.int64())})
    assert content_hash({"a": retyped}) != content_hash({"a": wider})


def test_content_hash_needs_an_id_column() -> None:
    with pytest.raises(ValueError, match="no 'id' column"):
        content_hash({"a": pa.table({"text": ["x"]})})
