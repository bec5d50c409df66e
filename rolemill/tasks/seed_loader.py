"""Load a recipe's seeds: characters (our YAML or Character Card V2 JSON), instructions
and passages (JSONL). Every problem is an InputError naming the file, line and field."""

from __future__ import annotations

import glob
import hashlib
import json
import re
import unicodedata
from pathlib import Path

from pydantic import ValidationError

from rolemill.schemas.input_error import InputError
from rolemill.schemas.recipe import LoadedRecipe
from rolemill.schemas.seeds import (
    CharacterCardV2,
    CharacterSeed,
    Instruction,
    Passage,
    SeedSet,
    SourceText,
)
from rolemill.schemas.source_files import (
    input_error_from_validation,
    iter_jsonl,
    line_of,
    load_yaml,
    load_yaml_model,
    read_text,
)

CHARACTER_SUFFIXES = {".yaml", ".yml", ".json"}


def _recipe_line(loaded: LoadedRecipe, *loc: str | int) -> int | None:
    try:
        return line_of(load_yaml(loaded.path)[1], loc)
    except InputError:
        return None


def _missing(loaded: LoadedRecipe, pattern: str, loc: tuple[str | int, ...]) -> InputError:
    return InputError(
        loaded.path,
        f"no seed file matches '{pattern}' (looked in {loaded.folder})",
        line=_recipe_line(loaded, *loc),
        field=".".join(str(part) for part in loc),
        hint="paths are relative to the recipe's folder",
    )


def character_files(loaded: LoadedRecipe) -> list[Path]:
    files: list[Path] = []
    for index, pattern in enumerate(loaded.recipe.seeds.characters):
        if any(char in pattern for char in "*?["):
            found = glob.glob(str(loaded.resolve(pattern)), recursive=True)
            matches = sorted(Path(p) for p in found if Path(p).suffix.lower() in CHARACTER_SUFFIXES)
        else:
            path = loaded.resolve(pattern)
            matches = [path] if path.is_file() else []
        if not matches:
            raise _missing(loaded, pattern, ("seeds", "characters", index))
        files.extend(m.resolve() for m in matches if m.resolve() not in files)
    return files


def slug(name: str) -> str:
    """A role id from a name: ASCII letters and digits joined by '-'; a hash of the name
    for other scripts (诸葛亮 -> role-<16 hex>)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return text[:64] or "role-" + hashlib.sha256(name.encode()).hexdigest()[:16]


def guess_language(text: str) -> str:
    """zh when CJK ideographs make up a good part of the letters, else en."""
    letters = [char for char in text if char.isalpha()]
    cjk = sum("\u4e00" <= char <= "\u9fff" for char in letters)
    return "zh" if letters and cjk / len(letters) > 0.3 else "en"


def _fill(template: str, name: str) -> str:
    text = re.sub(r"\{\{\s*char\s*\}\}", lambda _: name, template, flags=re.I)
    text = re.sub(r"\{\{\s*user\s*\}\}", "User", text, flags=re.I)
    return re.sub(r"<START>\s*", "", text).strip()


def load_character_card(path: Path) -> CharacterSeed:
    """A Character Card V2 (`chara_card_v2`) as a CharacterSeed."""
    try:
        raw = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(
            path, f"invalid character card: malformed JSON: {exc.msg}", line=exc.lineno
        ) from None
    if not isinstance(raw, dict) or raw.get("spec") != "chara_card_v2":
        raise InputError(
            path,
            'invalid character card: expected "spec": "chara_card_v2"',
            field="spec",
            hint="rolemill reads Character Card V2 JSON; V1 cards can be re-saved as V2",
        )
    try:
        card = CharacterCardV2.model_validate(raw)
    except ValidationError as exc:
        error = input_error_from_validation(path, exc)
        raise InputError(
            path, f"invalid character card: {error.problem}", field=error.field
        ) from None
    data = card.data
    own = data.extensions.get("rolemill")
    if own is None:
        own = {}
    elif not isinstance(own, dict):
        raise InputError(
            path,
            'invalid character card: expected an object such as {"language": "zh"}',
            field="data.extensions.rolemill",
        )
    parts = [data.description, f"Personality: {data.personality}" if data.personality else ""]
    parts.append(f"Scenario: {data.scenario}" if data.scenario else "")
    description = _fill("\n\n".join(p for p in parts if p.strip()), data.name)
    scene = _fill(
        "\n\n".join(p for p in (data.first_mes, data.mes_example) if p.strip()), data.name
    )
    for field, text in (("data.description", description), ("data.first_mes", scene)):
        if len(text) < 20:
            raise InputError(
                path,
                "invalid character card: too little text to build a profile from",
                field=field,
                hint="fill description/personality and first_mes/mes_example",
            )
    try:
        return CharacterSeed(
            id=own.get("id") or slug(data.name),
            name=data.name,
            language=own.get("language") or guess_language(data.name + description),
            work=own.get("work", ""),
            source=SourceText(description=description, scene=scene),
        )
    except ValidationError as exc:
        error = input_error_from_validation(path, exc)
        field = error.field or ""
        own_field = field in ("id", "language", "work") and field in own
        raise InputError(
            path,
            f"invalid character card: {error.problem}",
            field=f"data.extensions.rolemill.{field}" if own_field else f"data.{field}",
        ) from None


def load_character(path: Path) -> CharacterSeed:
    if path.suffix.lower() == ".json":
        return load_character_card(path)
    return load_yaml_model(path, CharacterSeed)


def _refuse_repeated_id(path: Path, kind: str, item_id: str, first_use: object) -> None:
    if first_use is not None:
        raise InputError(
            path,
            f"{kind} id '{item_id}' is also used by {first_use}",
            field="id",
            hint=f"give each {kind} its own id",
        )


def load_seeds(loaded: LoadedRecipe) -> SeedSet:
    seeds = loaded.recipe.seeds
    characters: dict[str, CharacterSeed] = {}
    origin: dict[str, Path] = {}
    for path in character_files(loaded):
        character = load_character(path)
        _refuse_repeated_id(path, "role", character.id, origin.get(character.id))
        characters[character.id] = character
        origin[character.id] = path
    if seeds.only_roles is not None:
        unknown = sorted(set(seeds.only_roles) - set(characters))
        if unknown:
            raise InputError(
                loaded.path,
                f"unknown role ids {unknown}",
                line=_recipe_line(loaded, "seeds", "only_roles"),
                field="seeds.only_roles",
                hint=f"known: {sorted(characters)}",
            )
        characters = {rid: characters[rid] for rid in seeds.only_roles}
    result = SeedSet(characters=sorted(characters.values(), key=lambda c: c.id))
    for field, model in (("instructions", Instruction), ("passages", Passage)):
        pattern = getattr(seeds, field)
        if pattern is None:
            continue
        path = loaded.resolve(pattern)
        if not path.is_file():
            raise _missing(loaded, pattern, ("seeds", field))
        rows = list(iter_jsonl(path, model))
        if field == "passages" and not rows and loaded.recipe.generators.mrc.enabled:
            # found here, not later inside a build task, so no work starts on bad input
            raise InputError(
                path,
                "holds no passage, but generators.mrc is enabled and needs them",
                hint="add passages, one JSON object per line (see data/seeds/passages.jsonl), "
                "or set generators.mrc.enabled: false",
            )
        seen: dict[str, str] = {}
        for number, row in enumerate(rows, start=1):
            _refuse_repeated_id(path, field[:-1], row.id, seen.get(row.id))
            seen[row.id] = f"row {number}"
        setattr(result, field, rows)
    return result
