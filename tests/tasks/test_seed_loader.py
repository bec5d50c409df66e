"""Seed loading: the shipped seeds, Character Card V2, and located errors for bad seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolemill.schemas.input_error import InputError
from rolemill.schemas.recipe import load_recipe
from rolemill.tasks.seed_loader import load_character_card, load_seeds, slug

ROOT = Path(__file__).parents[2]
CARD = ROOT / "data" / "seeds" / "cards" / "the-cheshire-cat.json"

CHARACTER = """\
id: {id}
name: {name}
language: en
work: A Test Novel
source:
  description: A careful clerk who counts everything twice and trusts nothing.
  scene: |
    Clerk: "Two and two, and two again. One can never be too sure."
"""


def make_project(tmp_path: Path, *, cards: bool = False) -> Path:
    chars = tmp_path / "chars"
    chars.mkdir()
    (chars / "clerk.yaml").write_text(CHARACTER.format(id="clerk", name="The Clerk"))
    (tmp_path / "instructions.jsonl").write_text(
        '{"id": "i1", "language": "en", "instruction": "Describe your morning."}\n'
    )
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "name: tiny\nseeds:\n  characters: [chars/*.yaml"
        + (", cards/*.json" if cards else "")
        + "]\n  instructions: instructions.jsonl\n"
    )
    (tmp_path / "cards").mkdir()
    return recipe


def test_shipped_seeds_are_complete() -> None:
    seeds = load_seeds(load_recipe(ROOT / "recipes" / "demo.yaml"))
    languages = [c.language for c in seeds.characters]
    assert languages.count("en") >= 8 and languages.count("zh") >= 2
    assert len(seeds.instructions) >= 50
    assert len(seeds.passages) >= 30
    assert all(p.questions for p in seeds.passages)
    assert "the-cheshire-cat" in {c.id for c in seeds.characters}


def test_character_card_v2_becomes_a_character() -> None:
    character = load_character_card(CARD)
    card = json.loads(CARD.read_text())["data"]
    assert character.name == card["name"] == "The Cheshire Cat"
    assert character.id == "the-cheshire-cat"
    assert "{{char}}" not in character.source.description
    assert card["description"][9:49] in character.source.description
    assert "{{char}}" not in character.source.scene and "{{user}}" not in character.source.scene


@pytest.mark.parametrize(
    ("card", "field"),
    [
        ({"spec": "chara_card_v1", "data": {"name": "X"}}, "spec"),
        ({"spec": "chara_card_v2", "data": {"description": "no name here"}}, "data.name"),
        (
            {"spec": "chara_card_v2", "data": {"name": "X", "description": "short"}},
            "data.description",
        ),
    ],
)
def test_invalid_character_card_names_the_field(tmp_path: Path, card: dict, field: str) -> None:
    recipe = make_project(tmp_path, cards=True)
    (tmp_path / "cards" / "bad.json").write_text(json.dumps(card))
    with pytest.raises(InputError) as caught:
        load_seeds(load_recipe(recipe))
    assert caught.value.field == field
    assert caught.value.path.endswith("bad.json") and "invalid character card" in str(caught.value)


@pytest.mark.parametrize(
    ("lines", "line", "field", "problem"),
    [
        (
            '{"id": "i2", "instruction": "Say hi."}\n{"id": "i3", "instruction": \n',
            3,
            None,
            "malformed JSON",
        ),
        (
            '{"id": "i2", "language": "fr", "instruction": "Dis bonjour."}\n',
            2,
            "language",
            "Input should be",
        ),
    ],
)
def test_bad_jsonl_line_is_named(
    tmp_path: Path, lines: str, line: int, field: str | None, problem: str
) -> None:
    recipe = make_project(tmp_path)
    with (tmp_path / "instructions.jsonl").open("a") as out:
        out.write(lines)
    with pytest.raises(InputError) as caught:
        load_seeds(load_recipe(recipe))
    assert (caught.value.line, caught.value.field) == (line, field)
    assert problem in str(caught.value)


def test_missing_seed_file_names_the_recipe_line(tmp_path: Path) -> None:
    recipe = make_project(tmp_path)
    recipe.write_text(recipe.read_text().replace("instructions.jsonl", "instructons.jsonl"))
    with pytest.raises(InputError) as caught:
        load_seeds(load_recipe(recipe))
    error = caught.value
    assert (error.path, error.line, error.field) == (str(recipe.resolve()), 4, "seeds.instructions")
    assert "instructons.jsonl" in str(error)


def test_invalid_character_yaml_names_file_line_and_field(tmp_path: Path) -> None:
    recipe = make_project(tmp_path)
    (tmp_path / "chars" / "bad.yaml").write_text(CHARACTER.format(id="Bad Id", name="Someone"))
    with pytest.raises(InputError) as caught:
        load_seeds(load_recipe(recipe))
    assert caught.value.path.endswith("bad.yaml")
    assert (caught.value.line, caught.value.field) == (1, "id")


def test_duplicate_role_ids_are_refused(tmp_path: Path) -> None:
    recipe = make_project(tmp_path)
    (tmp_path / "chars" / "twin.yaml").write_text(CHARACTER.format(id="clerk", name="Twin"))
    with pytest.raises(InputError, match="also used by"):
        load_seeds(load_recipe(recipe))


def test_card_names_are_taken_literally_and_chinese_cards_are_zh(tmp_path: Path) -> None:
    card = {
        "spec": "chara_card_v2",
        "data": {
            "name": r"Agent \d 诸葛亮",
            "description": "{{char}} 是三国时期蜀汉的丞相，足智多谋，善于用兵，常以羽扇纶巾示人。",
            "first_mes": "{{char}}：亮受先帝托孤之重，夙夜忧叹，恐托付不效。{{user}}有何见教？",
        },
    }
    path = tmp_path / "card.json"
    path.write_text(json.dumps(card, ensure_ascii=False))
    character = load_character_card(path)
    assert character.source.description.startswith(r"Agent \d 诸葛亮 是")
    assert character.language == "zh"
    assert character.id == "agent-d"


def test_chinese_only_names_get_distinct_ids() -> None:
    assert slug("诸葛亮") != slug("诸葛亮（少年）")
    assert slug("诸葛亮").startswith("role-")


def test_jsonl_strings_may_hold_unicode_line_separators(tmp_path: Path) -> None:
    recipe = make_project(tmp_path)
    (tmp_path / "instructions.jsonl").write_text(
        "\ufeff"
        + json.dumps(
            {"id": "a", "language": "zh", "instruction": "第一行\u2028第二行"}, ensure_ascii=False
        )
        + "\n"
        + json.dumps({"id": "b", "instruction": "Say hello."})
        + "\r\n",
        encoding="utf-8",
    )
    seeds = load_seeds(load_recipe(recipe))
    assert [i.id for i in seeds.instructions] == ["a", "b"]
    assert "\u2028" in seeds.instructions[0].instruction


def test_absolute_character_globs_work(tmp_path: Path) -> None:
    recipe = make_project(tmp_path)
    recipe.write_text(recipe.read_text().replace("chars/*.yaml", f"{tmp_path}/chars/*.yaml"))
    assert [c.id for c in load_seeds(load_recipe(recipe)).characters] == ["clerk"]


def test_repeated_instruction_ids_are_refused(tmp_path: Path) -> None:
    recipe = make_project(tmp_path)
    with (tmp_path / "instructions.jsonl").open("a") as out:
        out.write('{"id": "i1", "instruction": "Describe your evening."}\n')
    with pytest.raises(InputError, match="instruction id 'i1' is also used by row 1"):
        load_seeds(load_recipe(recipe))


def test_an_empty_passages_file_with_mrc_enabled_is_an_input_error(tmp_path: Path) -> None:
    recipe = make_project(tmp_path)
    (tmp_path / "passages.jsonl").write_text("\n")
    recipe.write_text(
        recipe.read_text() + "  passages: passages.jsonl\ngenerators:\n  mrc:\n    enabled: true\n"
    )
    with pytest.raises(InputError) as caught:
        load_seeds(load_recipe(recipe))
    assert caught.value.path.endswith("passages.jsonl")
    assert "no passage" in caught.value.problem and "mrc" in caught.value.problem
    assert caught.value.hint and "generators.mrc.enabled: false" in caught.value.hint
    # with mrc off an empty passages file is no problem
    recipe.write_text(recipe.read_text().replace("enabled: true", "enabled: false"))
    assert load_seeds(load_recipe(recipe)).passages == []
