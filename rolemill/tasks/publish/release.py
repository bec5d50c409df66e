"""Release a build: stage the dataset tree, decide its version, publish it to the hub.

A new version only when the content hash differs from the latest published version;
otherwise nothing is pushed and the summary says which version already holds it.
`publish.version` (`rolemill build --version X.Y.Z`) names the version instead of
`next_version`; it must be above the hub's latest (versions are immutable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from rolemill.schemas.dataset_configs import DATASET_CONFIGS
from rolemill.tasks.parquet import to_plain_arrow
from rolemill.tasks.publish.card import CardSource, write_card
from rolemill.tasks.publish.changelog import changelog_against, write_id_lists
from rolemill.tasks.publish.dataset_tree import write_dataset_tree, write_manifest
from rolemill.tasks.publish.hub import Hub, check_new_version
from rolemill.tasks.publish.splits import held_out_ids
from rolemill.tasks.publish.targets import hub_for
from rolemill.tasks.publish.versioning import Version, next_version

if TYPE_CHECKING:
    from rolemill.flows.summary import BuildSummary
    from rolemill.flows.workspace import RunWorkspace
    from rolemill.schemas.recipe import LoadedRecipe
    from rolemill.tasks.publish.published_index import PublishedIndex


def publish_release(
    loaded: LoadedRecipe,
    frames: dict[str, pl.DataFrame],
    workspace: RunWorkspace,
    summary: BuildSummary,
    published: PublishedIndex | None = None,
) -> None:
    """Publish `frames` as a new version if they differ from the latest; with `published`,
    the version carries the near-duplicate index and the shared index gets its rows."""
    recipe = loaded.recipe
    target = recipe.publish.target or recipe.name
    hub = _hub(loaded, workspace)
    tables = {
        name: to_plain_arrow(frame, DATASET_CONFIGS[name].arrow_schema)
        for name, frame in frames.items()
    }
    manifest = write_dataset_tree(
        workspace.dataset,
        recipe.name,
        tables,
        card_body="",  # the card is written once the version is known
        license=recipe.license,
        recipe_hash=recipe.content_hash(),
        held_out={
            name: ids.to_arrow()
            for name, ids in held_out_ids(frames, recipe.publish.splits).items()
        },
    )
    if published is not None:
        manifest.dedup_index = published.stage(frames, workspace.dataset)
        write_manifest(workspace.dataset, manifest)
    hub.ensure_remote()
    previous = hub.latest_manifest()
    summary.previous_version = f"v{previous.version}" if previous else None
    version = next_version(previous, manifest)
    if version is None:
        summary.publish_note = (
            f"no new version: the content equals {summary.previous_version} at {hub.remote}"
        )
        if recipe.publish.version:
            summary.publish_note += f"; publish.version {recipe.publish.version} was not used"
        if published is not None:
            published.share()  # its rows are published: the latest version holds them
        return
    if recipe.publish.version:  # asked for: still only above the latest, never reused
        version = Version.parse(recipe.publish.version)
        check_new_version(version, hub.versions(), hub.remote)
    manifest.version = str(version)
    write_manifest(workspace.dataset, manifest)
    write_id_lists(workspace.dataset, tables)
    changelog = changelog_against(hub, previous, tables)
    write_card(
        workspace.dataset, manifest, tables, CardSource.from_recipe(loaded, target), changelog
    )
    released = hub.publish(workspace.dataset, version, f"{recipe.name} {version.tag}")
    if published is not None:
        published.share()
    summary.version = released.tag
    summary.published_to = str(released.remote)
    summary.publish_note = f"published {released.tag} to {released.remote}"


def check_requested_version(loaded: LoadedRecipe, workspace: RunWorkspace) -> None:
    """Refuse a `publish.version` the hub already has, or one not above its latest, before
    the build spends anything (publish checks again: the hub may move meanwhile)."""
    requested = loaded.recipe.publish.version
    if requested and loaded.recipe.publish.enabled:
        hub = _hub(loaded, workspace)
        check_new_version(Version.parse(requested), hub.versions(), hub.remote)


def _hub(loaded: LoadedRecipe, workspace: RunWorkspace) -> Hub:
    publish = loaded.recipe.publish
    return hub_for(
        publish.target or loaded.recipe.name,
        workspace.hub_scratch,
        private=publish.private,
        token_secret=publish.token_secret,
    )
