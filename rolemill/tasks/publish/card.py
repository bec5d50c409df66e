"""The dataset card (README.md): YAML metadata for `datasets` and the Hub, then a body
with provenance, per-config statistics, plots, a changelog, limitations and loading.

The card is written after the version is decided, so it names the version it is
published as; the content hash covers the tables only (see `versioning`), so the card,
its plots and the version in it never change whether a version is new.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import yaml

from rolemill.schemas.manifest import Manifest
from rolemill.tasks.publish.card_plots import write_plots
from rolemill.tasks.publish.card_stats import LENGTH_UNIT, ConfigStats, config_stats
from rolemill.tasks.publish.changelog import Changelog

if TYPE_CHECKING:
    from rolemill.schemas.recipe import LoadedRecipe, SplitsConfig

CARD_FILENAME = "README.md"
CARD_TAGS = ["role-playing", "synthetic"]
# Configs holding reading-comprehension rows: the card adds question-answering.
QA_CONFIGS = {"mrc", "rolemrc_sft", "rolemrc_test", "preference"}
HF_PREFIX = "hf://datasets/"
MAX_LABEL_ROWS = 30  # per config table; the rest are summed in one row
_SPLIT_OF_FILE = re.compile(r"^(?P<split>[A-Za-z0-9_.]+)-\d+-of-\d+\.parquet$")


@dataclass(frozen=True)
class CardSource:
    """Where a dataset comes from and where it is published, as the card tells it."""

    name: str
    description: str
    license: str
    recipe_file: str
    recipe_hash: str
    provider: str
    model: str
    target: str  # hf://datasets/<org>/<name>, a git URL, a path or a local hub name
    splits: str = ""  # how rows are held out for `test`, e.g. "10% of roles"

    @classmethod
    def from_recipe(cls, loaded: LoadedRecipe, target: str) -> CardSource:
        recipe = loaded.recipe
        return cls(
            name=recipe.name,
            description=recipe.description.strip(),
            license=recipe.license,
            recipe_file=loaded.path.name,
            recipe_hash=recipe.content_hash(),
            provider=recipe.llm.provider,
            model=recipe.llm.model_name,
            target=target,
            splits=_split_rule(recipe.publish.splits),
        )


def _split_rule(splits: SplitsConfig) -> str:
    if not splits.test_share:
        return ""
    unit = "roles" if splits.by == "role" else "instructions"
    return f"{splits.test_share:.0%} of {unit} (a salted hash of each, stable across versions)"


def write_card(
    tree: Path,
    manifest: Manifest,
    tables: dict[str, pa.Table],
    source: CardSource,
    changelog: Changelog | None,
) -> Path:
    """Write README.md and its plots under `tree` for `manifest.version`; return the card."""
    if not manifest.version:
        raise ValueError(
            "the card names the version it is published as: decide the version and set "
            "manifest.version before write_card"
        )
    stats = [config_stats(config, tables[config]) for config in sorted(tables)]
    plots = write_plots(tree, stats)
    languages = sorted({lang for s in stats for lang in s.languages})
    front_matter = card_front_matter(
        manifest, license=source.license, languages=languages, pretty_name=source.name
    )
    body = card_body(manifest, source, stats, plots, changelog)
    path = tree / CARD_FILENAME
    path.write_text(render_card(front_matter, body), encoding="utf-8")
    return path


def render_card(front_matter: dict[str, Any], body: str) -> str:
    header = yaml.safe_dump(front_matter, sort_keys=False, allow_unicode=True)
    return f"---\n{header}---\n\n{body.strip()}\n"


def card_front_matter(
    manifest: Manifest,
    *,
    license: str,
    languages: list[str] | None = None,
    pretty_name: str | None = None,
) -> dict[str, Any]:
    """The YAML metadata: configs with their splits' files, license, categories, tags."""
    largest = max((config.rows for config in manifest.configs.values()), default=0)
    task_categories = ["text-generation"]
    if QA_CONFIGS & set(manifest.configs):
        task_categories.append("question-answering")
    front_matter: dict[str, Any] = {"pretty_name": pretty_name or manifest.name}
    front_matter["license"] = license
    if languages:
        front_matter["language"] = languages
    front_matter |= {
        "task_categories": task_categories,
        "tags": CARD_TAGS,
        "annotations_creators": ["machine-generated"],
        "size_categories": [size_category(largest)],
        "configs": [
            {"config_name": name, "data_files": split_globs(name, manifest)}
            for name in manifest.configs
        ],
    }
    return front_matter


def split_globs(config: str, manifest: Manifest) -> list[dict[str, str]]:
    """`data_files` of a config: one glob per split, the splits read from its file names."""
    globs: dict[str, str] = {}
    for file in manifest.configs[config].files:
        path = PurePosixPath(file.path)
        match = _SPLIT_OF_FILE.match(path.name)
        if not match:
            raise ValueError(
                f"{file.path} of config {config!r} is not named <split>-NNNNN-of-NNNNN.parquet; "
                "write the tree with write_dataset_tree"
            )
        split = match["split"]
        globs.setdefault(split, f"{path.parent}/{split}-*.parquet")
    return [{"split": split, "path": glob} for split, glob in globs.items()]


def size_category(rows: int) -> str:
    """The hub's `size_categories` bucket for a row count."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")]
    bounds += [(1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]
    for bound, label in bounds:
        if rows < bound:
            return label
    return "100M<n<1B"


def card_body(
    manifest: Manifest,
    source: CardSource,
    stats: list[ConfigStats],
    plots: dict[str, str],
    changelog: Changelog | None,
) -> str:
    sections = [
        _about(manifest, source),
        _provenance(manifest, source, stats),
        _configs(stats),
        _splits(manifest, source),
        _plots(plots),
        _changelog(manifest, changelog),
        _limitations(source),
        _loading(manifest, source),
    ]
    return "\n\n".join(section.strip() for section in sections if section)


def _about(manifest: Manifest, source: CardSource) -> str:
    description = source.description or "A synthetic role-play dataset built by rolemill."
    return (
        f"# {source.name}\n\n{description}\n\n"
        f"This card describes version **v{manifest.version}** "
        f"(content hash `{manifest.content_hash[:16]}`)."
    )


def _provenance(manifest: Manifest, source: CardSource, stats: list[ConfigStats]) -> str:
    lines = [
        "## How it was built",
        "",
        f"- Recipe: `{source.recipe_file}` (hash `{source.recipe_hash}`)",
        f"- Model: `{source.model}` through the `{source.provider}` provider",
        f"- rolemill {manifest.rolemill_version}",
    ]
    prompts = [(s.config, key, rows) for s in stats for key, rows in s.prompt_hashes.items()]
    if prompts:
        lines += [
            "",
            "Prompt templates used (`provenance.prompt_hash` of the samples):",
            "",
            "| config | task | prompt hash | rows |",
            "|---|---|---|---:|",
            *(f"| {c} | {task or '–'} | `{h}` | {rows} |" for c, (task, h), rows in prompts),
        ]
    return "\n".join(lines)


def _configs(stats: list[ConfigStats]) -> str:
    lines = [
        "## Configs",
        "",
        "| config | rows | roles | languages | columns |",
        "|---|---:|---:|---|---|",
    ]
    for s in stats:
        roles = str(s.roles) if s.role_column else "–"
        languages = _shares_text(s.languages) or "–"
        lines.append(f"| {s.config} | {s.rows} | {roles} | {languages} | {', '.join(s.columns)} |")
    lines += _titled_table(
        f"Reply lengths, in {LENGTH_UNIT}:",
        "| config | measured on | mean | p50 | p95 |\n|---|---|---:|---:|---:|",
        [
            f"| {s.config} | {s.lengths.source} | {s.lengths.mean:.1f} | {s.lengths.p50} | "
            f"{s.lengths.p95} |"
            for s in stats
            if s.lengths
        ],
    )
    lines += _titled_table(
        "Tokens per sample, as the model counted them (`provenance`; the tokens of a "
        "request that made several samples are shared among them):",
        "| config | prompt, mean | completion, mean | completion, p95 |\n|---|---:|---:|---:|",
        [
            f"| {s.config} | {s.tokens.prompt_mean:.1f} | {s.tokens.completion_mean:.1f} | "
            f"{s.tokens.completion_p95} |"
            for s in stats
            if s.tokens
        ],
    )
    for s in stats:
        if s.label_shares:
            shown = list(s.label_shares.items())[:MAX_LABEL_ROWS]
            rest = dict(list(s.label_shares.items())[MAX_LABEL_ROWS:])
            lines += [
                "",
                f"### {s.config}: `{s.label_column}` shares",
                "",
                f"| {s.label_column} | share |",
                "|---|---:|",
                *(f"| {label} | {share:.1%} |" for label, share in shown),
            ]
            if rest:
                lines.append(f"| {len(rest)} other labels | {sum(rest.values()):.1%} |")
    return "\n".join(lines)


def _titled_table(title: str, header: str, rows: list[str]) -> list[str]:
    """A blank line, the title, the header and the rows; nothing when there are no rows."""
    return ["", title, "", *header.split("\n"), *rows] if rows else []


def _shares_text(shares: dict[str, float]) -> str:
    return ", ".join(f"{key} {share:.0%}" for key, share in shares.items())


def _plots(plots: dict[str, str]) -> str:
    if not plots:
        return ""
    return "## Plots\n\n" + "\n\n".join(f"![{title}]({path})" for title, path in plots.items())


def _changelog(manifest: Manifest, changelog: Changelog | None) -> str:
    if changelog is None:
        return f"## Changelog\n\nv{manifest.version} is the first version."
    lines = [
        "## Changelog",
        "",
        f"v{manifest.version} against v{changelog.previous_version} (rows compared by id):",
        "",
        "| config | rows before | rows now | added | removed |",
        "|---|---:|---:|---:|---:|",
    ]
    for change in changelog.changes:
        added = "?" if change.added is None else f"+{change.added}"
        removed = "?" if change.removed is None else f"-{change.removed}"
        lines.append(
            f"| {change.config} | {change.rows_before} | {change.rows_now} | {added} | {removed} |"
        )
    if any(change.added is None for change in changelog.changes):
        lines += ["", f"`?`: v{changelog.previous_version} has no id list for that config."]
    return "\n".join(lines)


def _limitations(source: CardSource) -> str:
    return f"""## Limitations

- Every row is synthetic: written by the model `{source.model}` from character
  profiles and seed instructions, not by people. Replies can be wrong, out of
  character or carry the model's biases; a small model makes this more likely.
- Checks done before publishing: near-duplicates removed (MinHash), quality filters,
  and a validation gate (Great Expectations) on every config's schema, ids and value
  sets. No human has reviewed the rows.
- Role knowledge comes from the profiles the model wrote; it is not verified
  against the source works."""


def _splits(manifest: Manifest, source: CardSource) -> str:
    """Rows per split of each config, when some config has more than `train`."""
    rows = manifest.split_rows()
    if all(set(per_split) == {"train"} for per_split in rows.values()):
        return ""
    lines = ["## Splits", ""]
    if source.splits:
        lines += [f"`test` holds {source.splits}; no unit is on both sides.", ""]
    lines += ["| config | train | test |", "|---|---:|---:|"]
    lines += [f"| {c} | {n.get('train', 0)} | {n.get('test', 0)} |" for c, n in rows.items()]
    return "\n".join(lines)


def _loading(manifest: Manifest, source: CardSource) -> str:
    config = next(iter(manifest.configs))
    tag = f"v{manifest.version}"
    if source.target.startswith(HF_PREFIX):
        repo_id = source.target.removeprefix(HF_PREFIX).strip("/")
        code = (
            "from datasets import load_dataset\n\n"
            f'rows = load_dataset("{repo_id}", "{config}", revision="{tag}")'
        )
    else:
        clone = (
            source.target.removeprefix("git+") if "://" in source.target else "<this repository>"
        )
        code = (
            f"# git clone --branch {tag} {clone} {source.name}   (needs git-lfs)\n"
            "from datasets import load_dataset\n\n"
            f'rows = load_dataset("{source.name}", "{config}")'
        )
    configs = ", ".join(f"`{name}`" for name in manifest.configs)
    return f"## How to load\n\n```python\n{code}\n```\n\nConfigs: {configs}."
