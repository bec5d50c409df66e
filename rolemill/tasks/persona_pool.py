"""The persona pool: a recipe's synthetic roles, drawn from an attribute grid and persona lines.

Persona i's draw is a pure function of (seed, i) and the pool's files, so a rebuild makes
the same requests (the response cache answers them) and raising `count` keeps every
earlier role. Values are dealt in blocks: within each run of len(values) consecutive
roles every value is used equally often, in an order shuffled per block. Languages and
grid-vs-line follow low-discrepancy sequences, so their shares hold for any count. Names
are an affine permutation of the (given x family) grid, hence unique per language.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from rolemill.schemas.input_error import InputError
from rolemill.schemas.persona import (
    BIG_FIVE,
    PERSONA_ID_PREFIX,
    PersonaAttributes,
    PersonaDraw,
    PersonaLine,
    persona_arrow_schema,
    persona_id,
    persona_row,
)
from rolemill.schemas.recipe import LoadedRecipe, PersonasConfig
from rolemill.schemas.seeds import Language, SeedSet
from rolemill.schemas.source_files import iter_jsonl, line_of, load_yaml, load_yaml_model

SHIPPED_ATTRIBUTES = Path(__file__).parents[2] / "data" / "seeds" / "personas" / "attributes.yaml"
# Weyl sequence steps: irrational and independent, so language and source do not correlate.
STEPS = {"language": (math.sqrt(5) - 1) / 2, "source": math.sqrt(2) - 1}


@functools.lru_cache(maxsize=4096)
def _block_order(seed: int, name: str, size: int, block: int) -> tuple[int, ...]:
    """A shuffle of range(size) for one block, from sha256 (the same on every machine)."""
    return tuple(sorted(range(size), key=lambda k: _hash(seed, name, block, k)))


def _hash(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()


def dealt(seed: int, name: str, size: int, index: int, k: int = 1) -> list[int]:
    """`k` distinct positions in range(size) for role `index`; each position is dealt
    k times per block of `size` consecutive roles."""
    block, position = divmod(index, size)
    order = _block_order(seed, name, size, block)
    return [order[(position * k + step) % size] for step in range(k)]


def unit(seed: int, name: str, index: int) -> float:
    """Role `index`'s point in [0, 1) of a Weyl sequence with a seeded offset."""
    offset = int.from_bytes(_hash(seed, name)[:8], "big") / 2**64
    return (offset + index * STEPS[name]) % 1.0


@functools.lru_cache(maxsize=64)
def _name_map(seed: int, language: str, size: int) -> tuple[int, int]:
    """(a, b) of k = (a * index + b) mod size, with a coprime to size: a permutation."""
    a = int.from_bytes(_hash(seed, "names", language)[:8], "big") % size or 1
    while math.gcd(a, size) != 1:
        a = a % size + 1
    return a, int.from_bytes(_hash(seed, "names-offset", language)[:8], "big") % size


@dataclass(frozen=True)
class PersonaPool:
    settings: PersonasConfig
    attributes: PersonaAttributes
    lines: tuple[PersonaLine, ...] = ()

    @property
    def count(self) -> int:
        return self.settings.count

    def shards(self, size: int) -> list[range]:
        """Shard descriptors: index ranges, never the roles themselves."""
        return [range(start, min(start + size, self.count)) for start in range(0, self.count, size)]

    def language(self, index: int) -> Language:
        shares = {lang: s for lang, s in sorted(self.settings.languages.items()) if s > 0}
        point, total = unit(self.settings.seed, "language", index), sum(shares.values())
        for language, share in shares.items():
            point -= share / total
            if point < 0:
                return language
        return language

    def name(self, index: int, language: Language) -> str:
        parts = self.attributes.names[language]
        a, b = _name_map(self.settings.seed, language, parts.size)
        return parts.name((a * index + b) % parts.size)

    def draw(self, index: int) -> PersonaDraw:
        seed, attrs = self.settings.seed, self.attributes
        language = self.language(index)
        by_line = bool(self.lines) and unit(seed, "source", index) < self.settings.line_share

        def one(name: str, values: list[str]) -> str:
            return values[dealt(seed, name, len(values), index)[0]]

        made: dict[str, Any] = {}
        if by_line:
            line = self.lines[dealt(seed, "line", len(self.lines), index)[0]]
            made = {"line_id": line.id, "line": line.text}
        else:
            traits = dealt(seed, "traits", len(attrs.traits), index, self.settings.traits_per_role)
            made = {
                "career": one("career", attrs.careers),
                "aspiration": one("aspiration", attrs.aspirations),
                "traits": [attrs.traits[k] for k in traits],
                "skill": one("skill", attrs.skills),
            }
        return PersonaDraw(
            index=index,
            role_id=persona_id(index),
            name=self.name(index, language),
            language=language,
            source="line" if by_line else "grid",
            mbti=one("mbti", attrs.mbti),
            big_five={dim: one(f"big_five.{dim}", attrs.big_five_levels) for dim in BIG_FIVE},
            **made,
        )

    def draws(self, indexes: range) -> list[PersonaDraw]:
        return [self.draw(index) for index in indexes]


def _error(loaded: LoadedRecipe, key: str, problem: str, hint: str) -> InputError:
    loc = ("seeds", "personas", key)
    line = line_of(load_yaml(loaded.path)[1], loc)
    return InputError(loaded.path, problem, line=line, field=".".join(loc), hint=hint)


def _file(loaded: LoadedRecipe, key: str, relative: str) -> Path:
    path = loaded.resolve(relative)
    if not path.is_file():
        raise _error(
            loaded,
            key,
            f"no file at '{relative}' (looked in {loaded.folder})",
            "paths are relative to the recipe's folder",
        )
    return path


def load_persona_pool(loaded: LoadedRecipe, seeds: SeedSet | None = None) -> PersonaPool | None:
    """The recipe's persona pool (None without personas), every file and limit checked."""
    settings = loaded.recipe.seeds.personas
    if settings.count == 0:
        return None
    path = SHIPPED_ATTRIBUTES
    if settings.attributes is not None:
        path = _file(loaded, "attributes", settings.attributes)
    attributes = load_yaml_model(path, PersonaAttributes)
    for language in sorted(lang for lang, share in settings.languages.items() if share > 0):
        parts = attributes.names.get(language)  # type: ignore[call-overload]
        if parts is None:
            raise InputError(
                path,
                f"no names for language '{language}'",
                field=f"names.{language}",
                hint=f"add given and family names for {language}, or drop it from "
                "seeds.personas.languages",
            )
        if settings.count > parts.size:
            raise _error(
                loaded,
                "count",
                f"{settings.count} personas need as many distinct {language} names, but "
                f"{path.name} makes {parts.size} (given x family)",
                f"add names to {path} or lower the count",
            )
    if settings.traits_per_role > len(attributes.traits):
        raise _error(
            loaded,
            "traits_per_role",
            f"{settings.traits_per_role} traits per role, but {path.name} lists "
            f"{len(attributes.traits)}",
            "lower it or add traits",
        )
    lines: tuple[PersonaLine, ...] = ()
    if settings.lines is not None:
        lines_path = _file(loaded, "lines", settings.lines)
        lines = tuple(iter_jsonl(lines_path, PersonaLine))
        seen: set[str] = set()
        for number, line in enumerate(lines, start=1):
            if line.id in seen:
                raise InputError(
                    lines_path,
                    f"persona line id '{line.id}' is used twice",
                    line=number,
                    field="id",
                    hint="give each line its own id",
                )
            seen.add(line.id)
        if not lines:
            raise _error(
                loaded,
                "lines",
                f"{lines_path.name} holds no persona lines",
                "add lines or set line_share to 0 and drop `lines`",
            )
    taken = [
        c.id for c in (seeds.characters if seeds else []) if c.id.startswith(PERSONA_ID_PREFIX)
    ]
    if taken:
        raise _error(
            loaded,
            "count",
            f"seeded characters {taken[:3]} use ids reserved for personas",
            f"rename them: '{PERSONA_ID_PREFIX}NNNNNN' ids belong to synthetic roles",
        )
    return PersonaPool(settings, attributes, lines)


def persona_table(pool: PersonaPool, role_ids: list[str]) -> pa.Table:
    """The `personas` config: the draw of every synthetic role among `role_ids` (those
    whose profile was made), recomputed from the pool rather than carried through the run."""
    indexes = sorted(
        int(role_id.removeprefix(PERSONA_ID_PREFIX))
        for role_id in role_ids
        if role_id.startswith(PERSONA_ID_PREFIX)
    )
    rows = [persona_row(pool.draw(index)) for index in indexes]
    return pa.Table.from_pylist(rows, schema=persona_arrow_schema())
