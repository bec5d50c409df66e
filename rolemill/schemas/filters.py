"""The recipe's `filters` section: which quality checks drop samples, and their bounds.

Every check has a drop reason; a sample is dropped for the first reason it fails, in the
order of `DROP_REASONS` (see docs/quality.md for each reason and why it comes where it
does).

Lengths are measured on the final assistant reply in the unit that suits the role's
language: English in words (whitespace-separated tokens holding a letter or digit, so a
lone dash or `...` is no word), Chinese in characters (letters and digits: each Han
character counts one, punctuation and spaces count nothing). A Chinese sentence carries
about as much as an English one of half to two thirds as many words, so the Chinese
bounds are about twice the English ones.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DropReason = Literal[
    "empty",
    "malformed_turns",
    "breaking_character",
    "wrong_language",
    "too_short",
    "too_long",
    "refusal_quotes_answer",
    "answer_misses_reference",
    "role_name_asked_back",
]
# The order in which checks are tried: a sample counts under the first it fails.
DROP_REASONS: tuple[DropReason, ...] = (
    "empty",
    "malformed_turns",
    "breaking_character",
    "wrong_language",
    "too_short",
    "too_long",
    "refusal_quotes_answer",
    "answer_misses_reference",
    "role_name_asked_back",
)


class QualityFilterConfig(BaseModel):
    """Quality filters run on every canonical sample config before dedup."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="run the quality filters at all")
    checks: list[DropReason] = Field(
        default_factory=lambda: list(DROP_REASONS),
        description="the checks that drop samples (default: all); the order they are tried "
        "in is fixed (see docs/quality.md), not the order listed here",
    )
    min_words_en: int = Field(
        default=3,
        ge=0,
        description="English: fewest words in the final reply (below is `too_short`); a "
        "one- or two-word reply teaches the role nothing about its voice",
    )
    max_words_en: int = Field(
        default=400,
        ge=1,
        description="English: most words in the final reply (above is `too_long`); about "
        "what the default 400-token reply budget allows, far past a conversational turn",
    )
    min_chars_zh: int = Field(
        default=5,
        ge=0,
        description="Chinese: fewest characters (letters and digits, not punctuation) in "
        "the final reply",
    )
    max_chars_zh: int = Field(
        default=800,
        ge=1,
        description="Chinese: most characters (letters and digits, not punctuation) in the "
        "final reply",
    )
    extra_breaking_phrases: list[str] = Field(
        default_factory=list,
        description="more phrases that break character when an assistant turn holds them "
        "(plain text, not regular expressions; matched ignoring case), added to the built-in "
        "English and Chinese ones",
    )
    min_script_share: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="`wrong_language`: least share of the assistant turns in the role's "
        "script (Latin for en, Han for zh), counting a Han character or a word of another "
        "script as one unit each",
    )
    examples_per_reason: int = Field(
        default=3, ge=0, le=100, description="dropped samples kept as examples per reason"
    )

    @field_validator("checks")
    @classmethod
    def _distinct(cls, checks: list[DropReason]) -> list[DropReason]:
        if len(set(checks)) != len(checks):
            raise ValueError("each check at most once")
        return checks

    @field_validator("extra_breaking_phrases")
    @classmethod
    def _not_blank(cls, phrases: list[str]) -> list[str]:
        if any(not phrase.strip() for phrase in phrases):
            raise ValueError("a blank phrase would match every reply: remove it")
        return [phrase.strip() for phrase in phrases]

    @model_validator(mode="after")
    def _bounds(self) -> QualityFilterConfig:
        if self.min_words_en > self.max_words_en:
            raise ValueError("min_words_en is above max_words_en")
        if self.min_chars_zh > self.max_chars_zh:
            raise ValueError("min_chars_zh is above max_chars_zh")
        return self
