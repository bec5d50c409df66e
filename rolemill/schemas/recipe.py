"""The recipe: what to build, from which seeds, with which model, and where to publish.

A recipe is a YAML file (see recipes/ and docs/recipes.md). Unknown keys are errors,
relative paths resolve against the recipe's own folder, and `--set key=value`
overrides are applied before validation so they are checked like the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rolemill.schemas.filters import QualityFilterConfig
from rolemill.schemas.input_error import InputError
from rolemill.schemas.llm import LLMConfig
from rolemill.schemas.quality import DedupConfig, ValidationConfig
from rolemill.schemas.seeds import Language
from rolemill.schemas.source_files import (
    dotted,
    input_error_from_validation,
    load_yaml,
    validate_yaml,
)

SegmentKind = Literal["description", "personality", "knowledge", "scene"]
ALL_SEGMENTS: tuple[SegmentKind, ...] = ("description", "personality", "knowledge", "scene")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonasConfig(_Section):
    """Synthetic roles (RoleMRC's profile meta-pool): each drawn from an attribute grid
    (career, aspiration, traits, skill; MBTI; Big Five) or a short persona line. Persona
    i's draw is a pure function of (seed, i), so raising `count` keeps every earlier draw."""

    count: int = Field(default=0, ge=0, le=1_000_000, description="synthetic roles to make")
    seed: int = Field(default=0, ge=0, description="seed of the draws")
    languages: dict[Language, float] = Field(
        default_factory=lambda: {"en": 1.0}, description="relative share of roles per language"
    )
    attributes: str | None = Field(
        default=None,
        description="attribute lists and names (YAML); default data/seeds/personas/attributes.yaml",
    )
    lines: str | None = Field(default=None, description="short persona lines (JSONL: id, text)")
    line_share: float = Field(
        default=0.0, ge=0, le=1, description="share of roles made from a persona line"
    )
    traits_per_role: int = Field(default=2, ge=1, le=5)

    @model_validator(mode="after")
    def _consistent(self) -> PersonasConfig:
        if any(share < 0 for share in self.languages.values()) or not any(
            share > 0 for share in self.languages.values()
        ):
            raise ValueError("languages: give shares >= 0 with at least one above 0")
        if self.line_share > 0 and self.lines is None:
            raise ValueError("line_share needs `lines`, a JSONL file of persona lines")
        if self.lines is not None and self.line_share == 0:
            raise ValueError("`lines` is set but line_share is 0: set line_share (e.g. 0.3)")
        return self


class SeedsConfig(_Section):
    characters: list[str] = Field(
        default_factory=list,
        description="character files or globs: our YAML, or Character Card V2 JSON",
    )
    personas: PersonasConfig = Field(default_factory=PersonasConfig)
    instructions: str | None = Field(default=None, description="general instructions (JSONL)")
    passages: str | None = Field(default=None, description="reading passages (JSONL)")
    only_roles: list[str] | None = Field(
        default=None, min_length=1, description="build only these role ids"
    )

    @model_validator(mode="after")
    def _some_roles(self) -> SeedsConfig:
        if not self.characters and self.personas.count == 0:
            raise ValueError(
                "no roles: list character files in `characters` "
                "or ask for synthetic roles with `personas.count`"
            )
        return self


class ProfilesConfig(_Section):
    max_tokens: int = Field(default=1000, ge=64, description="reply budget per profile")


class ContextInstructConfig(_Section):
    enabled: bool = True
    questions_per_segment: int = Field(default=2, ge=1, le=10, description="per request")
    rounds: int = Field(
        default=1, ge=1, le=1000, description="requests per segment, each with its own seed"
    )
    min_confidence: int = Field(
        default=6, ge=0, le=10, description="keep questions the model rated at least this (0-10)"
    )
    segments: list[SegmentKind] = Field(default_factory=lambda: list(ALL_SEGMENTS), min_length=1)

    @field_validator("segments")
    @classmethod
    def _distinct(cls, segments: list[SegmentKind]) -> list[SegmentKind]:
        if len(set(segments)) != len(segments):
            raise ValueError("each segment kind at most once (a repeat would pay twice)")
        return segments

    max_tokens: int = Field(default=1000, ge=64, description="reply budget per segment")


class StyleTransferConfig(_Section):
    """RoleGPT: general instructions answered in character (RoleBench's `general` part)."""

    enabled: bool = False
    instructions_per_role: int = Field(
        default=10, ge=1, le=10_000, description="general instructions answered by each role"
    )
    max_tokens: int = Field(default=400, ge=16, description="reply budget per answer")


class SelfAlignmentConfig(_Section):
    """Ditto: the model asks the role questions of three kinds and answers them in
    character with the profile as reading material, refusing what the role cannot know."""

    enabled: bool = False
    dialogues_per_role: int = Field(default=4, ge=1, le=10_000)
    turns: int = Field(default=1, ge=1, le=8, description="user turns per dialogue")
    general_share: float = Field(
        default=0.3, ge=0, le=1, description="share of general questions (not about the role)"
    )
    out_of_knowledge_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="share of questions outside the role's knowledge or era (refused)",
    )
    max_tokens: int = Field(default=400, ge=16, description="reply budget per request")

    @model_validator(mode="after")
    def _shares_fit(self) -> SelfAlignmentConfig:
        if self.general_share + self.out_of_knowledge_share > 1:
            raise ValueError("general_share + out_of_knowledge_share must be at most 1")
        return self


class ReadingComprehensionConfig(_Section):
    """RoleMRC: a passage in the system prompt, a question about it; the role answers (a
    passage of its world), refuses (no answer in it, or a passage outside its world) or
    attempts (the user insists). Variant shares are shares of the outcome they belong to."""

    enabled: bool = False
    samples_per_role: int = Field(default=12, ge=1, le=10_000)
    answer_share: float = Field(default=0.4, ge=0, le=1, description="answered from the passage")
    refusal_share: float = Field(default=0.4, ge=0, le=1, description="refused in character")
    attempt_share: float = Field(
        default=0.2, ge=0, le=1, description="passage outside the role's world, the user insists"
    )
    narration_share: float = Field(
        default=0.5, ge=0, le=1, description="of all samples: replies with an *action* narration"
    )
    nested_share: float = Field(
        default=0.3, ge=0, le=1, description="of answers: a system requirement (format, content)"
    )
    priority_share: float = Field(
        default=0.2, ge=0, le=1, description="of refusals: a system rule overrides the user"
    )
    flip_share: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="of refusals and of attempts: two turns, the user insists after a refusal",
    )
    max_tokens: int = Field(default=400, ge=16, description="reply budget per request")

    @model_validator(mode="after")
    def _shares_fit(self) -> ReadingComprehensionConfig:
        total = self.answer_share + self.refusal_share + self.attempt_share
        if abs(total - 1) > 1e-6:
            raise ValueError(
                f"answer_share + refusal_share + attempt_share must sum to 1 (got {total:g}): "
                "every sample has one outcome"
            )
        if self.priority_share + self.flip_share > 1 + 1e-9:
            raise ValueError(
                "priority_share + flip_share must be at most 1: both are shares of the refusals"
            )
        return self


class GeneratorsConfig(_Section):
    profiles: ProfilesConfig = Field(default_factory=ProfilesConfig)
    context_instruct: ContextInstructConfig = Field(default_factory=ContextInstructConfig)
    style_transfer: StyleTransferConfig = Field(default_factory=StyleTransferConfig)
    self_alignment: SelfAlignmentConfig = Field(default_factory=SelfAlignmentConfig)
    mrc: ReadingComprehensionConfig = Field(default_factory=ReadingComprehensionConfig)


SplitUnit = Literal["role", "instruction"]


class SplitsConfig(_Section):
    """Train/test split of every published config (docs/publishing.md#splits)."""

    test_share: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="share of units held out as `test`; 0 publishes `train` only",
    )
    by: SplitUnit = Field(
        default="role",
        description="the unit that goes wholly to one side: `role` (whole roles, the same "
        "in every config) or `instruction` (a question, seed instruction or passage+question)",
    )
    salt: str = Field(
        default="rolemill-splits", min_length=1, description="changing it redraws every unit"
    )


class PublishConfig(_Section):
    enabled: bool = True
    splits: SplitsConfig = Field(default_factory=SplitsConfig)
    target: str | None = Field(
        default=None,
        description="hf://datasets/<org>/<name>, git+file|https|ssh://..., a bare git "
        "repository path or git URL; default data/hub/<name>.git (docs/publishing.md)",
    )
    private: bool = Field(
        default=False, description="create the Hugging Face dataset repository as private"
    )
    token_secret: str | None = Field(
        default=None,
        description="Prefect Secret block holding the Hugging Face token (when HF_TOKEN is unset)",
    )
    version: str | None = Field(
        default=None,
        description="publish as this MAJOR.MINOR.PATCH instead of the next one; refused if "
        "the hub has it or a later one (versions are immutable)",
    )

    @field_validator("version", mode="before")
    @classmethod
    def _semver(cls, version: object) -> str | None:
        """`v1.2.3` or `1.2.3` (YAML reads `1.2` as a number: refused as not semver)."""
        from rolemill.tasks.publish.versioning import Version

        return str(Version.parse(str(version))) if version not in (None, "") else None

    @field_validator("target")
    @classmethod
    def _known_target(cls, target: str | None) -> str | None:
        """A target no hub understands is refused when the recipe loads, not after the build."""
        if target is None or not target.strip():
            return None  # the default: the local hub
        from rolemill.tasks.publish.targets import parse_target

        parse_target(target)
        return target


class RunnerConfig(_Section):
    """Where shard tasks run: threads of the flow's process, or a Dask cluster."""

    kind: Literal["threads", "dask"] = "threads"
    address: str | None = Field(
        default=None,
        description="Dask scheduler address (tcp://host:8786); none: a LocalCluster",
    )
    workers: int = Field(default=2, ge=1, description="LocalCluster worker processes")
    threads_per_worker: int = Field(default=4, ge=1, description="shards at once per worker")


class Recipe(_Section):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="the dataset's name")
    description: str = ""
    license: str = "cc-by-4.0"
    seeds: SeedsConfig
    generators: GeneratorsConfig = Field(default_factory=GeneratorsConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    filters: QualityFilterConfig = Field(default_factory=QualityFilterConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    shard_size: int = Field(default=8, ge=1, le=10_000, description="roles per Prefect task")
    runner: RunnerConfig = Field(default_factory=RunnerConfig)

    @model_validator(mode="after")
    def _mrc_has_passages(self) -> Recipe:
        if self.generators.mrc.enabled and self.seeds.passages is None:
            raise ValueError(
                "generators.mrc is enabled but seeds.passages is not set: add "
                "`passages: <file>.jsonl` under seeds (e.g. data/seeds/passages.jsonl)"
            )
        return self

    def content_hash(self) -> str:
        """Hash of what shapes the data: not where it is published, nor how fast or
        through which endpoint and key the LLM is reached."""
        payload = self.model_dump(
            mode="json",
            exclude={
                "publish": True,
                "shard_size": True,
                "runner": True,
                "dedup": {"index"},
                "llm": {
                    "base_url",
                    "api_key_env",
                    "api_key_block",
                    "timeout_s",
                    "limits",
                    "retry",
                    "prices",
                    "cache_dir",
                    "refresh_cache",
                    "local_parallel",
                    "local_context",
                },
            },
        )
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class LoadedRecipe:
    recipe: Recipe
    path: Path

    @property
    def folder(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        """A path named in the recipe, relative to the recipe's folder."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.folder / candidate


def parse_override(text: str) -> tuple[list[str], Any]:
    """`llm.model=gpt-4o-mini` -> (['llm', 'model'], 'gpt-4o-mini'); values are YAML scalars."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InputError("--set", f"'{text}' is not key=value", hint="e.g. --set llm.model=gpt-4o")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for text in overrides:
        keys, value = parse_override(text)
        target = data
        for key in keys[:-1]:
            child = target.setdefault(key, {})
            if not isinstance(child, dict):
                raise InputError("--set", f"'{key}' is not a section", field=".".join(keys))
            target = child
        target[keys[-1]] = value
    return data


def _with_paths_resolved(recipe: Recipe, folder: Path) -> Recipe:
    """Relative paths in a recipe (hub target, cache folder, shared dedup index) mean: from
    the recipe's folder."""
    target = recipe.publish.target
    if target and "://" not in target and ("/" in target or target.endswith(".git")):
        path = Path(target).expanduser()
        target = str(path if path.is_absolute() else (folder / path).resolve())
    cache_dir = recipe.llm.cache_dir
    if cache_dir is not None and not cache_dir.expanduser().is_absolute():
        cache_dir = (folder / cache_dir).resolve()
    index = recipe.dedup.index.expanduser() if recipe.dedup.index is not None else None
    if index is not None and not index.is_absolute():
        index = (folder / index).resolve()
    return recipe.model_copy(
        update={
            "publish": recipe.publish.model_copy(update={"target": target}),
            "llm": recipe.llm.model_copy(update={"cache_dir": cache_dir}),
            "dedup": recipe.dedup.model_copy(update={"index": index}),
        }
    )


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> LoadedRecipe:
    """Read and validate a recipe; raise InputError naming the file, line and field."""
    path = Path(path)
    data, node = load_yaml(path)
    if not overrides:
        recipe = validate_yaml(path, Recipe, data, node)
        return LoadedRecipe(_with_paths_resolved(recipe, path.resolve().parent), path.resolve())
    if not isinstance(data, dict):
        raise InputError(path, "expected a mapping of keys to values at the top level", line=1)
    override_keys = [parse_override(text)[0] for text in overrides]
    data = apply_overrides(data, overrides)
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        loc = [str(part) for part in exc.errors()[0]["loc"]]
        if any(loc[: len(k)] == k or k[: len(loc)] == loc for k in override_keys):
            error = input_error_from_validation(path, exc, line=0)
            raise InputError(
                "--set", error.problem, field=dotted(tuple(loc)), hint=error.hint
            ) from None
        raise input_error_from_validation(path, exc, node) from None
    return LoadedRecipe(_with_paths_resolved(recipe, path.resolve().parent), path.resolve())
