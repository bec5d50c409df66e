"""The card's plots as small PNGs: rows per role, label shares, reply lengths.

Deterministic: matplotlib's Agg renderer without pyplot (no display, no global state),
fixed figure size and dpi, and no `Software` or date chunk, so the same statistics
make byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from rolemill.tasks.publish.card_stats import LENGTH_UNIT, ConfigStats

ASSETS_DIR = "assets"
ROWS_PER_ROLE = f"{ASSETS_DIR}/rows_per_role.png"
LABEL_SHARES = f"{ASSETS_DIR}/label_shares.png"
LENGTHS = f"{ASSETS_DIR}/lengths.png"

FIGSIZE = (8.0, 4.5)
DPI = 100
MAX_ROLES = 30  # the roles with most rows; the rest are summed as "other roles"
MAX_LABELS = 12  # per config; the rest are summed as "other"
_PNG_METADATA: dict[str, str | None] = {"Software": None}


def write_plots(tree: Path, stats: list[ConfigStats]) -> dict[str, str]:
    """Write the plots the statistics support; title -> path relative to `tree`."""
    written: dict[str, str] = {}
    plots = (
        ("Rows per role", ROWS_PER_ROLE, _rows_per_role),
        ("Label shares", LABEL_SHARES, _label_shares),
        ("Reply lengths", LENGTHS, _lengths),
    )
    for title, relative, draw in plots:
        figure = Figure(figsize=FIGSIZE, dpi=DPI)
        if draw(figure, stats):
            path = tree / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(path, format="png", dpi=DPI, metadata=_PNG_METADATA)
            written[title] = relative
    return written


def _rows_per_role(figure: Figure, stats: list[ConfigStats]) -> bool:
    """Stacked bars: rows of each config per role (configs keyed by `role_id` only)."""
    with_roles = [s for s in stats if s.role_column == "role_id" and s.rows_per_role]
    if not with_roles:
        return False
    totals: dict[str, int] = {}
    for s in with_roles:
        for role, rows in s.rows_per_role.items():
            totals[role] = totals.get(role, 0) + rows
    ranked = sorted(totals, key=lambda role: (-totals[role], role))
    shown, rest = ranked[:MAX_ROLES], set(ranked[MAX_ROLES:])
    labels = shown + (["other roles"] if rest else [])
    axes = figure.add_subplot()
    bottom = np.zeros(len(labels))
    for s in with_roles:
        heights = [s.rows_per_role.get(role, 0) for role in shown]
        if rest:
            heights.append(sum(s.rows_per_role.get(role, 0) for role in rest))
        axes.bar(labels, heights, bottom=bottom, label=s.config)
        bottom += np.array(heights)
    axes.set_ylabel("rows")
    axes.set_title("Rows per role")
    axes.tick_params(axis="x", labelrotation=60, labelsize=7)
    axes.legend(fontsize=7)
    figure.tight_layout()
    return True


def _label_shares(figure: Figure, stats: list[ConfigStats]) -> bool:
    """One 100% bar per config, split by its `task` labels."""
    labelled = [s for s in stats if s.label_shares]
    if not labelled:
        return False
    names = sorted({label for s in labelled for label in s.label_shares} | {"other"})
    palette = colormaps["tab20"]
    color = {label: palette(i % palette.N) for i, label in enumerate(names)}
    axes = figure.add_subplot()
    for row, s in enumerate(labelled):
        shares = list(s.label_shares.items())
        kept = shares[:MAX_LABELS]
        if len(shares) > MAX_LABELS:
            kept.append(("other", sum(share for _, share in shares[MAX_LABELS:])))
        left = 0.0
        for label, share in kept:
            axes.barh(row, share, left=left, color=color[label], edgecolor="white", linewidth=0.5)
            if share >= 0.08:
                short = label.rsplit("/", 1)[-1][:14]
                axes.text(left + share / 2, row, short, ha="center", va="center", fontsize=6)
            left += share
    axes.set_yticks(range(len(labelled)), [s.config for s in labelled], fontsize=8)
    axes.set_xlim(0, 1)
    axes.set_xlabel("share of rows")
    axes.set_title("Label shares per config (`task`)")
    figure.tight_layout()
    return True


def _lengths(figure: Figure, stats: list[ConfigStats]) -> bool:
    """Histograms of reply lengths, one step line per config, shared bins."""
    measured = [s for s in stats if s.lengths is not None and len(s.lengths.values)]
    if not measured:
        return False
    top = max(int(s.lengths.values.quantile(0.99, "nearest") or 0) for s in measured if s.lengths)
    bins = np.linspace(0, max(top, 1), 41)
    axes = figure.add_subplot()
    for s in measured:
        assert s.lengths is not None
        values = np.clip(s.lengths.values.to_numpy(), 0, bins[-1])
        axes.hist(values, bins=bins, histtype="step", label=s.config)
    axes.set_xlabel(f"reply length in {LENGTH_UNIT.split(' (')[0]} (clipped at p99)")
    axes.set_ylabel("rows")
    axes.set_title("Reply lengths")
    axes.legend(fontsize=7)
    figure.tight_layout()
    return True
