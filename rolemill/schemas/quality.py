"""The recipe's `dedup` and `validation` sections: how samples are deduplicated and gated."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
        description="Jaccard similarity of character shingles at which two samples are near-duplicates",
    )
    num_perm: int = Field(
        default=128,
        ge=16,
        le=1024,
        description="MinHash permutations: more is more accurate and slower",
    )
    shingle_size: int = Field(
        default=5,
        ge=1,
        le=64,
        description="characters per shingle over the normalised text (works for Chinese too)",
    )
    seed: int = Field(default=1, ge=0, lt=2**32, description="seed of the MinHash permutations")


class ValidationConfig(BaseModel):
    """The Great Expectations gate run before publishing."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True, description="validate every config; a failure stops the publish"
    )
