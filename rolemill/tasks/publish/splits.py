"""Train/test splits of a dataset version, without leakage between them.

Every row belongs to a unit that goes wholly to one side (`publish.splits.by`):

- `role`: the row's `role_id`, in every config, profiles and personas included (a
  held-out role is held out everywhere, with the profile that prompts it);
- `instruction`: the normalised first user turn for `context_instruct`, `style_transfer`
  (its seed instruction) and `self_alignment`; the passage id and the normalised question
  for `mrc`. Profiles and personas stay in `train` (every role is on both sides).

A unit is in `test` when a hash of (salt, unit key) falls under `test_share`: a pure
function of the key, so the same role is on the same side in every config and every
version, and adding a role or an instruction never moves another one. Views carry their
source rows' ids, so a view row lands on its source row's side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import polars as pl

from rolemill.schemas.recipe import SplitsConfig, SplitUnit
from rolemill.tasks.dedup import normalised_text
from rolemill.tasks.views import VIEWS

_ROLE_CONFIGS = ("profiles", "personas")


def _first_user_turn() -> pl.Expr:
    role = pl.element().struct.field("role")
    content = pl.element().struct.field("content")
    first = pl.col("messages").list.eval(content.filter(role == "user")).list.first()
    return normalised_text(first.fill_null(""))


def _passage_question() -> pl.Expr:
    fields = pl.col("fields").struct
    question = normalised_text(fields.field("question").fill_null(""))
    return pl.concat_str([fields.field("passage_id").fill_null(""), question], separator="\x1f")


INSTRUCTION_KEYS: dict[str, Callable[[], pl.Expr]] = {
    "context_instruct": _first_user_turn,
    "style_transfer": _first_user_turn,
    "self_alignment": _first_user_turn,
    "mrc": _passage_question,
}


def unit_key(config: str, by: SplitUnit) -> pl.Expr | None:
    """The expression of a config's unit key, or None when all its rows stay in train."""
    if by == "role":
        return pl.col("role_id")
    if config in _ROLE_CONFIGS:
        return None
    if config not in INSTRUCTION_KEYS:
        raise ValueError(
            f"config {config!r} has no instruction key to split by; add it to "
            "rolemill/tasks/publish/splits.py INSTRUCTION_KEYS or split by role"
        )
    return INSTRUCTION_KEYS[config]()


def unit_in_test(key: str, settings: SplitsConfig) -> bool:
    """Whether a unit is held out: its salted hash, read as a fraction, under the share."""
    digest = hashlib.blake2b(f"{settings.salt}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < settings.test_share


def _held_out(config: str, frame: pl.DataFrame, settings: SplitsConfig) -> pl.Series:
    key = unit_key(config, settings.by)
    if key is None or frame.is_empty():
        return pl.Series("id", [], pl.String)
    keys = frame.select(key.alias("key"), pl.col("id"))
    units = keys.get_column("key").unique()  # one hash per unit, not per row
    held = units.filter(pl.Series([unit_in_test(unit, settings) for unit in units]))
    return keys.filter(pl.col("key").is_in(held.implode())).get_column("id")


def held_out_ids(frames: dict[str, pl.DataFrame], settings: SplitsConfig) -> dict[str, pl.Series]:
    """Per config, the ids of its rows in `test` (empty when `test_share` is 0)."""
    if settings.test_share == 0:
        return {name: pl.Series("id", [], pl.String) for name in frames}
    views = {view.name: view for view in VIEWS}
    held = {
        name: _held_out(name, frame, settings)
        for name, frame in frames.items()
        if name not in views
    }
    for name, frame in frames.items():
        if name in views:  # a view row has its source row's id, hence its side
            sources = [held[source] for source in views[name].sources if source in held]
            source_ids = pl.concat(sources) if sources else pl.Series("id", [], pl.String)
            held[name] = frame.get_column("id").filter(frame["id"].is_in(source_ids.implode()))
    return held
