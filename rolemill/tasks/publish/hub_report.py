"""What `rolemill hub show` and `rolemill hub diff` print about a hub's versions.

Both read manifests and small plain files only (no Parquet download), on any hub.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from rolemill.schemas.manifest import Manifest
from rolemill.tasks.publish.changelog import changelog_between
from rolemill.tasks.publish.hub import Hub, HubError, unknown_version
from rolemill.tasks.publish.versioning import Version

CARD = "README.md"
CARD_LINES = 4


def resolve_version(hub: Hub, text: str | None) -> Version:
    """`text` (v1.2.3 or 1.2.3) as a published version of `hub`; its latest when None."""
    published = hub.versions()
    if text is None:
        if not published:
            raise HubError(f"no versions published at {hub.remote}; publish one first")
        return published[-1]
    try:
        version = Version.parse(text)
    except ValueError as error:
        raise HubError(str(error)) from error
    if version not in published:
        raise unknown_version(hub.remote, version, published)
    return version


def show_lines(hub: Hub, version: Version) -> list[str]:
    """A version's date, provenance, rows per config and split, files, and the card's start."""
    manifest = hub.manifest(version)
    dates = {info.version: info.date for info in hub.list_versions()}
    lines = [
        f"hub       {hub.remote}",
        f"version   {version.tag}  {dates.get(version, manifest.created)}",
        f"dataset   {manifest.name}",
        f"recipe    {manifest.recipe_hash or '(unknown)'}",
        f"rolemill  {manifest.rolemill_version}",
        f"content   {manifest.content_hash}",
        "rows",
    ]
    for config, rows in split_rows(manifest).items():
        splits = ", ".join(f"{split} {count}" for split, count in rows.items())
        lines.append(f"  {config:<22} {manifest.configs[config].rows:>9}  ({splits})")
    lines.append("files")
    for file in manifest.files():
        lines.append(f"  {file.path:<52} {_size(file.bytes):>10}  {file.rows} rows")
    card = hub.read_texts(version, [CARD]).get(CARD)
    if card is None:
        lines.append(f"card      (none: {version.tag} has no {CARD})")
    else:
        lines.append(f"card      {CARD}:")
        lines.extend(f"  {line}" for line in card_opening(card))
    return lines


def diff_lines(hub: Hub, old: Version, new: Version) -> list[str]:
    """Rows per config in each version, and rows added and removed per config by id."""
    changelog = changelog_between(hub, hub.manifest(old), hub.manifest(new))
    lines = [
        f"hub {hub.remote}: {old.tag} -> {new.tag}",
        f"  {'config':<22} {old.tag:>9} {new.tag:>9} {'added':>9} {'removed':>9}",
    ]
    for change in changelog.changes:
        added = "?" if change.added is None else f"+{change.added}"
        removed = "?" if change.removed is None else f"-{change.removed}"
        lines.append(
            f"  {change.config:<22} {change.rows_before:>9} {change.rows_now:>9} "
            f"{added:>9} {removed:>9}"
        )
    if any(change.added is None for change in changelog.changes):
        lines.append("  ?: a version published before id lists (ids/<config>.txt) existed")
    return lines


def split_rows(manifest: Manifest) -> dict[str, dict[str, int]]:
    """Config -> split -> rows, from the file names `data/<config>/<split>-NNNNN-of-NNNNN`."""
    result: dict[str, dict[str, int]] = {}
    for config, entry in manifest.configs.items():
        splits = result.setdefault(config, {})
        for file in entry.files:
            split = PurePosixPath(file.path).name.split("-", 1)[0]
            splits[split] = splits.get(split, 0) + file.rows
    return result


def card_opening(card: str, count: int = CARD_LINES) -> list[str]:
    """The first non-empty lines of a card's body (after its YAML front matter)."""
    body = card
    if card.startswith("---"):
        _, _, rest = card[3:].partition("\n---")
        body = rest.partition("\n")[2]
    return [line for line in body.splitlines() if line.strip()][:count]


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    size = count / 1024
    for unit in ("KiB", "MiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
