"""Variety of authors on the explore page (a pure function)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def spread(items: Sequence[tuple[str, T]], spacing: int) -> list[tuple[str, T]]:
    """`items` (author, item) reordered so that an author appears at most once in any
    `spacing` consecutive items while other authors are left: each position takes the
    earliest remaining item whose author has not appeared in the last `spacing - 1`
    positions, or the earliest remaining one when every remaining author has. The order
    among the items of one author, and otherwise the input order, are kept."""
    remaining = list(items)
    out: list[tuple[str, T]] = []
    while remaining:
        recent = {a for a, _ in out[-(spacing - 1):]} if spacing > 1 else set()
        pick = next((i for i, (a, _) in enumerate(remaining) if a not in recent), 0)
        out.append(remaining.pop(pick))
    return out
