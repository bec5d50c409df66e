"""The recipe's `dedup` and `validation` sections: how samples are deduplicated and gated."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DedupText = Literal["user_and_final", "final", "user", "dialogue"]
DEDUPLICATED_CONFIGS = ("context_instruct", "style_transfer", "self_alignment", "mrc")
"""the sample generators' configs (recipe.GeneratorsConfig less profiles)"""


class DedupConfig(BaseModel):
    """Exact then near-duplicate (MinHash LSH) removal over each sample's user turns and final answer."""

    model_config = ConfigDict(extra="forbid")

    exact: bool = Field(
        default=True, description="drop samples whose normalised text is identical to another's"
    )
    near: bool = Field(
        default=True,
        description="drop samples whose estimated Jaccard similarity reaches `threshold`",
    )
    threshold: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Jaccard similarity of shingle sets at which two samples are near-duplicates",
    )
    num_perm: int = Field(
        default=128,
        ge=16,
        le=1024,
        description="MinHash permutations: more is more accurate and slower",
    )
    shingle: Literal["word", "char"] = Field(
        default="word",
        description="shingle unit: words (each Chinese or Japanese character is a word) or characters",
    )
    shingle_size: int = Field(
        default=2,
        ge=1,
        le=64,
        description="units per shingle over the normalised text (word 2-grams are about as "
        "sensitive to an edit as character 5-grams)",
    )
    seed: int = Field(default=1, ge=0, lt=2**32, description="seed of the MinHash permutations")
    bands: int | None = Field(
        default=None, ge=1, description="LSH bands; default: derived from threshold and num_perm"
    )
    rows: int | None = Field(
        default=None, ge=1, description="signature rows per LSH band (set with `bands`)"
    )
    text: DedupText = Field(
        default="user_and_final",
        description="what is compared: user_and_final (the user turns and the final answer), "
        "final, user, or dialogue (every user and assistant turn)",
    )
    text_by_config: dict[str, DedupText] = Field(
        default_factory=dict,
        description="`text` per dataset config (e.g. {mrc: final}); others use `text`",
    )

    @field_validator("text_by_config")
    @classmethod
    def _names_deduplicated_configs(cls, texts: dict[str, DedupText]) -> dict[str, DedupText]:
        for name in texts:
            if name not in DEDUPLICATED_CONFIGS:
                raise ValueError(
                    f"{name!r} is not a deduplicated config: use one of "
                    + ", ".join(DEDUPLICATED_CONFIGS)
                )
        return texts

    across_versions: bool = Field(
        default=True,
        description="also drop new rows that copy rows published in earlier versions (the "
        "index the latest version carries, and `index` if set)",
    )
    index: Path | None = Field(
        default=None,
        description="a shared near-duplicate index file (Parquet), read with the hub's and "
        "updated after each publish; relative to the recipe's folder",
    )

    @model_validator(mode="after")
    def _banding(self) -> DedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("dedup: set `bands` and `rows` together, or neither")
        if (
            self.bands is not None
            and self.rows is not None
            and self.bands * self.rows > self.num_perm
        ):
            raise ValueError(
                f"dedup: bands x rows ({self.bands} x {self.rows}) exceeds num_perm "
                f"({self.num_perm})"
            )
        return self


class ValidationConfig(BaseModel):
    """The Great Expectations gate run before publishing."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True, description="validate every config; a failure stops the publish"
    )
    min_messages: int = Field(
        default=2, ge=1, description="fewest chat messages a sample may have (system included)"
    )
    max_messages: int = Field(
        default=64, ge=1, description="most chat messages a sample may have (system included)"
    )
    min_reply_chars: int = Field(
        default=1, ge=0, description="fewest characters of a sample's shortest assistant turn"
    )
    max_reply_chars: int = Field(
        default=8000, ge=1, description="most characters of a sample's longest assistant turn"
    )
    share_tolerance: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="how far a label's share in a config may be from the recipe's share "
        "(absolute, e.g. 0.05: a refusal_share of 0.4 accepts 0.35 to 0.45)",
    )
    min_rows_for_shares: int = Field(
        default=200,
        ge=1,
        description="shares are checked only in configs with at least this many rows "
        "(a handful of samples cannot hold a share)",
    )

    @model_validator(mode="after")
    def _bounds_ordered(self) -> ValidationConfig:
        if self.min_messages > self.max_messages:
            raise ValueError("validation: min_messages is above max_messages")
        if self.min_reply_chars > self.max_reply_chars:
            raise ValueError("validation: min_reply_chars is above max_reply_chars")
        return self
