"""Per-config statistics for the dataset card, computed with polars over whole columns.

Configs differ (samples, profiles, views such as rolebench or preference), so each
statistic reads the first column a config has among a few known names and is left
out when it has none.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

ROLE_COLUMNS = ("role_id", "role")
LANGUAGE_COLUMNS = ("language", "lang")
LABEL_COLUMNS = ("task",)  # not ditto's `label`: it names the role
# Where the reply is: chats (last assistant turn), preference pairs, references, lists.
CHAT_COLUMNS = ("messages", "conversations")
TEXT_COLUMNS = ("chosen", "reference")
LIST_COLUMNS = ("generated",)

# Length unit: whitespace-separated words, each CJK character counting as one word.
_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"
LENGTH_UNIT = "words (whitespace-separated; each CJK character counts as one)"


@dataclass(frozen=True)
class LengthStats:
    source: str  # e.g. "last assistant turn of `messages`"
    mean: float
    p50: int
    p95: int
    values: pl.Series  # one length per row, for the histogram


@dataclass(frozen=True)
class TokenStats:
    """Tokens per sample as the model counted them (`provenance`; a request's tokens are
    shared among the samples it made)."""

    prompt_mean: float
    completion_mean: float
    completion_p95: int


@dataclass(frozen=True)
class ConfigStats:
    config: str
    rows: int
    columns: list[str]
    role_column: str | None
    rows_per_role: dict[str, int]  # role -> rows, most rows first, ties by name
    languages: dict[str, float]  # language -> share of rows
    label_column: str | None
    label_shares: dict[str, float]  # label -> share of rows, largest first
    lengths: LengthStats | None
    tokens: TokenStats | None
    prompt_hashes: dict[tuple[str, str], int]  # (task, prompt_hash) -> rows

    @property
    def roles(self) -> int:
        return len(self.rows_per_role)


def config_stats(config: str, table: pa.Table) -> ConfigStats:
    """What the card says about one config."""
    columns = table.column_names
    role = _first(columns, ROLE_COLUMNS)
    language = _first(columns, LANGUAGE_COLUMNS)
    label = _first(columns, LABEL_COLUMNS)
    wanted = {role, language, label, *CHAT_COLUMNS, *TEXT_COLUMNS, *LIST_COLUMNS, "provenance"}
    frame = pl.from_arrow(table.select([c for c in columns if c in wanted]))
    assert isinstance(frame, pl.DataFrame)
    return ConfigStats(
        config=config,
        rows=table.num_rows,
        columns=columns,
        role_column=role,
        rows_per_role=_counts(frame, role),
        languages=_shares(frame, language),
        label_column=label,
        label_shares=_shares(frame, label),
        lengths=_lengths(frame),
        tokens=_tokens(frame),
        prompt_hashes=_prompt_hashes(frame, label),
    )


def word_counts(texts: pl.Expr) -> pl.Expr:
    """Words per text: runs of non-space, non-CJK characters plus CJK characters."""
    return texts.str.count_matches(f"[{_CJK}]") + texts.str.count_matches(rf"[^\s{_CJK}]+")


def _first(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if c in columns), None)


def _counts(frame: pl.DataFrame, column: str | None) -> dict[str, int]:
    if column is None or frame.is_empty():
        return {}
    counts = frame.group_by(column).len().sort(["len", column], descending=[True, False])
    return dict(zip(counts[column].to_list(), counts["len"].to_list(), strict=True))


def _shares(frame: pl.DataFrame, column: str | None) -> dict[str, float]:
    counts = _counts(frame, column)
    return {key: count / frame.height for key, count in counts.items()}


def _reply_text(frame: pl.DataFrame) -> tuple[str, pl.Expr] | None:
    """The reply each row holds, and where it comes from."""
    columns = frame.columns
    if chat := _first(columns, CHAT_COLUMNS):
        turns = pl.col(chat).list.eval(
            pl.element().filter(pl.element().struct.field("role") == "assistant")
        )
        text = turns.list.last().struct.field("content")
        return f"last assistant turn of `{chat}`", text
    if text_column := _first(columns, TEXT_COLUMNS):
        return f"`{text_column}`", pl.col(text_column)
    if list_column := _first(columns, LIST_COLUMNS):
        return f"first item of `{list_column}`", pl.col(list_column).list.first()
    return None


def _lengths(frame: pl.DataFrame) -> LengthStats | None:
    reply = _reply_text(frame)
    if reply is None or frame.is_empty():
        return None
    source, text = reply
    values = frame.select(word_counts(text.fill_null("")).alias("words")).get_column("words")
    return LengthStats(
        source=source,
        mean=float(values.mean() or 0.0),
        p50=int(values.quantile(0.5, "nearest") or 0),
        p95=int(values.quantile(0.95, "nearest") or 0),
        values=values,
    )


def _tokens(frame: pl.DataFrame) -> TokenStats | None:
    """None for views (no provenance) and for samples whose tokens were not recorded."""
    if "provenance" not in frame.columns or frame.is_empty():
        return None
    counts = frame.select(
        prompt=pl.col("provenance").struct.field("prompt_tokens").fill_null(0),
        completion=pl.col("provenance").struct.field("completion_tokens").fill_null(0),
    )
    if counts["prompt"].sum() == 0 and counts["completion"].sum() == 0:
        return None
    return TokenStats(
        prompt_mean=float(counts["prompt"].mean() or 0.0),
        completion_mean=float(counts["completion"].mean() or 0.0),
        completion_p95=int(counts["completion"].quantile(0.95, "nearest") or 0),
    )


def _prompt_hashes(frame: pl.DataFrame, label: str | None) -> dict[tuple[str, str], int]:
    if "provenance" not in frame.columns or frame.is_empty():
        return {}
    task = pl.col(label) if label else pl.lit("")
    hashes = (
        frame.select(
            task.alias("task"),
            pl.col("provenance").struct.field("prompt_hash").fill_null("").alias("hash"),
        )
        .filter(pl.col("hash") != "")
        .group_by("task", "hash")
        .len()
        .sort("task", "hash")
    )
    return {(t, h): n for t, h, n in hashes.iter_rows()}
