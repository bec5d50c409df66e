"""Seed-compatible views: published configs in another dataset's own fields, made from
canonical samples (not separate pipelines)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class View:
    """A published config made from the rows of other configs."""

    name: str
    sources: tuple[str, ...]
    make: Callable[[pl.DataFrame], pl.DataFrame]

    def build(self, frames: dict[str, pl.DataFrame]) -> pl.DataFrame | None:
        """The view over whichever of its sources were built; None when none were."""
        parts = [self.make(frames[name]) for name in self.sources if name in frames]
        return pl.concat(parts) if parts else None


def rolebench_view(samples: pl.DataFrame) -> pl.DataFrame:
    """RoleBench's fields: `role`, `question` (the user turn), `generated` (the answers).

    Context-Instruct rows are RoleBench's role-specific part, style-transfer rows its
    general part.

    `id` is the canonical sample's id, so every row traces back to its sample.
    """
    turns = pl.col("messages")
    return samples.select(
        pl.col("id"),
        pl.col("role_name").alias("role"),
        turns.list.eval(pl.element().filter(pl.element().struct.field("role") == "user"))
        .list.first()
        .struct.field("content")
        .alias("question"),
        turns.list.eval(
            pl.element()
            .filter(pl.element().struct.field("role") == "assistant")
            .struct.field("content")
        ).alias("generated"),
    )


def ditto_view(samples: pl.DataFrame) -> pl.DataFrame:
    """Ditto's WikiRoleEval fields: the role's `system` prompt, the user `prompts`, the
    whole conversation as `messages`, a 0/1 `rejection_labels` and an `evidence` text per
    prompt, and `role_consist_cands`: the role's name among up to three other roles of the
    dataset (a stable draw), with the right one in `label`."""
    names = sorted(set(samples["role_name"].to_list())) if samples.height else []
    rows = []
    for row in samples.iter_rows(named=True):
        turns, fields, name = row["messages"], row["fields"], row["role_name"]
        others = sorted(
            (other for other in names if other != name),
            key=lambda other: _rank(row["id"], other),
        )[:3]
        rows.append(
            {
                "id": row["id"],
                "system": turns[0]["content"] if turns[0]["role"] == "system" else "",
                "prompts": [turn["content"] for turn in turns if turn["role"] == "user"],
                "messages": turns,
                "rejection_labels": [int(flag) for flag in fields["rejections"]],
                "evidence": fields["evidence"],
                "role_consist_cands": sorted([name, *others], key=lambda c: _rank(c, row["id"])),
                "label": name,
                "lang": row["language"],
            }
        )
    return pl.DataFrame(rows, schema=DITTO_COLUMNS)


def _rank(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


DITTO_COLUMNS = {
    "id": pl.String,
    "system": pl.String,
    "prompts": pl.List(pl.String),
    "messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String})),
    "rejection_labels": pl.List(pl.Int64),
    "evidence": pl.List(pl.String),
    "role_consist_cands": pl.List(pl.String),
    "label": pl.String,
    "lang": pl.String,
}

MESSAGES = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))
SPEAKERS = {"system": "System", "user": "User", "assistant": "Assistant"}


def _speakers(turns: list[dict[str, str]]) -> list[dict[str, str]]:
    """Messages with RoleMRC's capitalised roles (System / User / Assistant)."""
    return [{"role": SPEAKERS[t["role"]], "content": t["content"]} for t in turns]


def rolemrc_sft_view(samples: pl.DataFrame) -> pl.DataFrame:
    """RoleMRC's SFT fields: `conversations` (capitalised roles, System first) and the
    RoleMRC `task` label, plus the sample `id`."""
    rows = [
        {
            "id": row["id"],
            "task": row["fields"]["rolemrc_task"],
            "conversations": _speakers(row["messages"]),
        }
        for row in samples.iter_rows(named=True)
    ]
    return pl.DataFrame(
        rows, schema={"id": pl.String, "task": pl.String, "conversations": MESSAGES}
    )


def _last_reply_view(
    samples: pl.DataFrame, prompt: str, reply: str, *, rejected: bool = False
) -> pl.DataFrame:
    """Per sample: `id`, its RoleMRC `task`, the conversation up to its last User turn
    (capitalised roles, System first) as `prompt`, the last Assistant turn as `reply` and,
    with `rejected`, the sample's wrong reply for preference pairs."""
    schema = {"id": pl.String, "task": pl.String, prompt: MESSAGES, reply: pl.String}
    if rejected:
        schema["rejected"] = pl.String
    rows = [
        {
            "id": row["id"],
            "task": row["fields"]["rolemrc_task"],
            prompt: _speakers(row["messages"][:-1]),
            reply: row["messages"][-1]["content"],
        }
        | ({"rejected": row["fields"]["rejected"]} if rejected else {})
        for row in samples.iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=schema)


def rolemrc_test_view(samples: pl.DataFrame) -> pl.DataFrame:
    """RoleMRC's test fields: `question` (the conversation up to its last User turn),
    `reference` (the last Assistant turn) and `task`, plus the sample `id`."""
    return _last_reply_view(samples, "question", "reference")


def preference_view(samples: pl.DataFrame) -> pl.DataFrame:
    """RoleMRC's preference (DPO) fields: `prompt` (messages, System first, ending with
    the User turn), `chosen` (the right last reply) and `rejected` (a wrong outcome: a
    refusal where the role should answer, the answer or a made-up one where it should
    refuse), plus the sample `id` and its RoleMRC `task`."""
    return _last_reply_view(samples, "prompt", "chosen", rejected=True)


VIEWS: tuple[View, ...] = (
    View("rolebench", ("context_instruct", "style_transfer"), rolebench_view),
    View("ditto", ("self_alignment",), ditto_view),
    View("rolemrc_sft", ("mrc",), rolemrc_sft_view),
    View("rolemrc_test", ("mrc",), rolemrc_test_view),
    View("preference", ("mrc",), preference_view),
)
