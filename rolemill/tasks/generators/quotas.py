"""Per-role quotas: labels dealt to a role's slots so that the recipe's shares hold.

Each role's counts are within one of its shares (exact where the shares of its slots are
whole numbers), and where they cannot be exact the rounding differs from role to role, so
summed over many roles every label keeps its share even with one or two slots per role.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rolemill.tasks.generators.prompt_template import stable_seed


def quotas(total: int, shares: dict[str, float], offset: float = 0.0) -> dict[str, int]:
    """Counts that sum to `total`, each within 1 of its share (systematic rounding).

    Key k gets floor(C_k + offset) - floor(C_{k-1} + offset), C_k being `total` times the
    cumulative share up to k. Where shares of `total` are whole numbers the counts are
    exact; otherwise the leftover slots fall where `offset` (in [0, 1)) puts them, so with
    an offset drawn per role every key's count averages its share over many roles.
    """
    weight = math.fsum(shares.values())
    if weight <= 0:  # no share given: split evenly rather than lose the slots
        shares, weight = dict.fromkeys(shares, 1.0), float(len(shares))
    counts: dict[str, int] = {}
    cumulative, previous = 0.0, 0
    for number, (key, share) in enumerate(shares.items(), start=1):
        cumulative += share
        # rounded so that float noise (0.34 * 100 = 34.000000000000004) cannot move an edge
        edge = total if number == len(shares) else round(total * cumulative / weight, 9)
        bound = math.floor(edge + offset)
        counts[key], previous = bound - previous, bound
    return counts


def deal(slots: Sequence[int], shares: dict[str, float], *key: object) -> dict[int, str]:
    """Labels for `slots` in quotas, spread over them by a stable ranking; the rounding
    offset is drawn from `key` (the generator and the role), so it differs between roles."""
    ranked = sorted(slots, key=lambda slot: stable_seed(*key, slot))
    offset = stable_seed(*key, "offset") / 2**31
    counts = quotas(len(ranked), shares, offset)
    labels = [label for label, count in counts.items() for _ in range(count)]
    return dict(zip(ranked, labels, strict=True))
