"""The persona pool's draws: pure functions of (seed, index), balanced over the grid;
and the checks on its recipe section and files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from rolemill.schemas.input_error import InputError
from rolemill.schemas.persona import BIG_FIVE, PersonaAttributes, PersonaLine
from rolemill.schemas.recipe import PersonasConfig, load_recipe
from rolemill.schemas.source_files import iter_jsonl, load_yaml_model
from rolemill.tasks.persona_pool import (
    SHIPPED_ATTRIBUTES,
    PersonaPool,
    load_persona_pool,
    persona_table,
)
from rolemill.tasks.seed_loader import load_seeds

ROOT = Path(__file__).parents[2]
LINES = ROOT / "data" / "seeds" / "personas" / "persona-lines.jsonl"
ATTRIBUTES = load_yaml_model(SHIPPED_ATTRIBUTES, PersonaAttributes)


def pool(**settings: object) -> PersonaPool:
    return PersonaPool(PersonasConfig.model_validate({"count": 100, **settings}), ATTRIBUTES)


def test_a_role_is_a_pure_function_of_seed_and_index() -> None:
    small, large = pool(count=100), pool(count=5000)
    assert small.draws(range(100)) == large.draws(range(100))  # raising count keeps them
    assert pool().draw(42) == pool().draw(42)
    assert pool(seed=1).draw(42) != pool(seed=2).draw(42)
    draw = large.draw(4321)
    assert draw.role_id == "persona-004321" and draw.index == 4321 and draw.source == "grid"


def test_the_grid_is_dealt_evenly_in_blocks() -> None:
    draws = pool(count=480).draws(range(480))
    careers = Counter(d.career for d in draws[: len(ATTRIBUTES.careers)])
    assert set(careers) == set(ATTRIBUTES.careers) and set(careers.values()) == {1}
    assert Counter(d.mbti for d in draws[:160]) == {t: 10 for t in ATTRIBUTES.mbti}
    traits = Counter(t for d in draws[:40] for t in d.traits)
    assert traits == {t: 2 for t in ATTRIBUTES.traits}  # 2 per role, each twice per 40
    assert all(len(set(d.traits)) == 2 for d in draws)
    for dim in BIG_FIVE:
        levels = Counter(d.big_five[dim] for d in draws[: 3 * 100])
        assert set(levels.values()) == {100}
    pairs = {(d.career, d.mbti) for d in draws}
    assert len(pairs) > 0.5 * len(draws)  # attributes are not locked together


def test_languages_and_lines_keep_their_shares_and_names_are_unique() -> None:
    lines = tuple(iter_jsonl(LINES, PersonaLine))
    settings = PersonasConfig(
        count=5000, languages={"en": 0.7, "zh": 0.3}, lines="x.jsonl", line_share=0.25
    )
    draws = PersonaPool(settings, ATTRIBUTES, lines).draws(range(5000))
    languages = Counter(d.language for d in draws)
    assert abs(languages["zh"] - 1500) <= 2
    by_line = [d for d in draws if d.source == "line"]
    assert abs(len(by_line) - 1250) <= 2
    assert all(d.line and not d.career for d in by_line)
    assert len({d.line_id for d in by_line}) == len(lines)
    assert len({d.name for d in draws}) == 5000
    assert all("\u4e00" <= d.name[0] <= "\u9fff" for d in draws if d.language == "zh")


def test_the_personas_table_holds_the_draws_of_profiled_roles() -> None:
    table = persona_table(pool(), ["alice", "persona-000007", "persona-000002"])
    assert table.column("role_id").to_pylist() == ["persona-000002", "persona-000007"]
    assert table.column("mbti").to_pylist()[0] == pool().draw(2).mbti
    assert set(table.column("big_five").to_pylist()[0]) == set(BIG_FIVE)


RECIPE = """\
name: tiny
seeds:
  characters: {characters}
  personas:
{personas}
"""


def write_recipe(tmp_path: Path, personas: str, characters: str = "[]") -> Path:
    path = tmp_path / "recipe.yaml"
    body = "\n".join("    " + line for line in personas.strip().splitlines())
    path.write_text(RECIPE.format(characters=characters, personas=body))
    return path


@pytest.mark.parametrize(
    ("personas", "message"),
    [
        ("count: 30000", r"recipe\.yaml:5: field 'seeds\.personas\.count': 30000 personas need"),
        ("count: 3\ntraits_per_role: 5\nattributes: few.yaml", r"lists 4 \(lower it"),
        ("count: 3\nattributes: nowhere.yaml", r"field 'seeds\.personas\.attributes': no file"),
        ("count: 3\nlines: lines.jsonl\nline_share: 0.5", r"lines\.jsonl:2: field 'id'.*twice"),
        ("count: 3\nlanguages: {zh: 1}\nattributes: few.yaml", r"few\.yaml: field 'names\.zh'"),
    ],
)
def test_bad_persona_settings_name_the_file_and_field(
    tmp_path: Path, personas: str, message: str
) -> None:
    few = ATTRIBUTES.model_dump(mode="json")
    few |= {"traits": ["shy", "brave", "loyal", "proud"], "names": {"en": few["names"]["en"]}}
    (tmp_path / "few.yaml").write_text(yaml.safe_dump(few))
    (tmp_path / "lines.jsonl").write_text(
        '{"id": "a", "text": "A shy lighthouse keeper."}\n{"id": "a", "text": "A loud baker."}\n'
    )
    loaded = load_recipe(write_recipe(tmp_path, personas))
    with pytest.raises(InputError, match=message):
        load_persona_pool(loaded, load_seeds(loaded))


@pytest.mark.parametrize(
    ("personas", "characters", "message"),
    [
        ("count: 0", "[]", r"field 'seeds': .*no roles"),
        ("count: 2\nline_share: 0.2", "[]", r"line_share needs `lines`"),
        ("count: 2\nlines: l.jsonl", "[]", r"line_share is 0"),
        ("count: 2\nlanguages: {en: 0}", "[]", r"languages: give shares"),
    ],
)
def test_inconsistent_persona_sections_are_recipe_errors(
    tmp_path: Path, personas: str, characters: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        load_recipe(write_recipe(tmp_path, personas, characters))


def test_a_seeded_character_may_not_take_a_persona_id(tmp_path: Path) -> None:
    (tmp_path / "chars").mkdir()
    (tmp_path / "chars" / "p.yaml").write_text(
        "id: persona-000001\nname: Impostor\nsource:\n"
        "  description: A character who borrowed somebody's id.\n"
        '  scene: "Impostor: I am definitely the first persona."\n'
    )
    loaded = load_recipe(write_recipe(tmp_path, "count: 2", "[chars/*.yaml]"))
    with pytest.raises(InputError, match=r"use ids reserved for personas"):
        load_persona_pool(loaded, load_seeds(loaded))
    loaded = load_recipe(write_recipe(tmp_path, "count: 0", "[chars/*.yaml]"))
    assert load_persona_pool(loaded, load_seeds(loaded)) is None  # no personas, no clash
