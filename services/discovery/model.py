"""Domain types of the discovery service."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IndexedPost:
    """A post as the index holds it (discovery_posts)."""

    post_id: int
    author_id: str
    hashtags: tuple[str, ...]  # folded, in order of appearance
    terms: frozenset[str]  # every index term: "#tag" and word stems
    card: bytes  # serialized Post without author and counts
    deleted: bool


@dataclass(frozen=True)
class Hit:
    """One row of a term's posting list."""

    post_id: int
    author_id: str


@dataclass(frozen=True)
class Counts:
    """A post's engagement as the discovery service has counted it from events."""

    likes: int = 0
    comments: int = 0
    views: int = 0
