"""Pages of posts, the two ways the discovery service lists them (skeleton, then
cards.py for hydration and rules):

* `scan_term` — a term's posting list newest first, bucket after bucket (store.py), cut
  by the last post id scanned: posts that arrive meanwhile never shift a later page.
* `snapshot_page` — a slice of a stored snapshot (snapshots.py), cut by offset.

Both read a little more than a page (hidden posts are skipped) for at most `rounds` reads;
a page may then come back short, with a token to go on.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from photomesh.post.v1 import post_service_pb2 as post_pb

from services.discovery.cards import Cards
from services.discovery.snapshots import Snapshots
from services.discovery.store import IndexStore
from services.runtime.ids import min_id_at

SLACK = 5
FUTURE_MS = 60_000  # ids from a clock slightly ahead still land in the newest bucket


@dataclass(frozen=True)
class Scanned:
    posts: list[post_pb.Post]
    cursor: int | None  # the last post id consumed; None at the end


@dataclass(frozen=True)
class Sliced:
    items: list[tuple[post_pb.Post, float]]
    offset: int | None  # where the next page starts; None at the end


Shower = Callable[[Sequence[int]], Awaitable[dict[int, post_pb.Post]]]


async def scan_term(store: IndexStore, cards: Cards, viewer_id: str, term: str, size: int,
                    before: int | None, rounds: int, *, all_terms: Collection[str] = ()
                    ) -> Scanned:
    top = store.bucket_of(before if before else min_id_at(int(time.time() * 1000) + FUTURE_MS))
    shown: list[post_pb.Post] = []
    cursor = before
    used = 0
    for bucket in await store.buckets(term, top):
        while True:
            if used >= rounds:
                return Scanned(shown, cursor)
            used += 1
            want = size - len(shown) + SLACK
            hits = await store.hits(term, bucket, cursor, want)
            found = await cards.show(viewer_id, [h.post_id for h in hits], all_terms=all_terms)
            for hit in hits:
                cursor = hit.post_id
                post = found.get(hit.post_id)
                if post is not None:
                    shown.append(post)
                    if len(shown) == size:
                        return Scanned(shown, cursor)
            if len(hits) < want:
                break
    return Scanned(shown, None)


async def snapshot_page(snapshots: Snapshots, snapshot_id: str, offset: int, size: int,
                        rounds: int, show: Shower) -> Sliced | None:
    """None when the snapshot is gone."""
    items: list[tuple[post_pb.Post, float]] = []
    for _ in range(rounds):
        entries = await snapshots.slice(snapshot_id, offset, size - len(items) + SLACK)
        if entries is None:
            return None
        if not entries:
            return Sliced(items, None)
        found = await show([int(m.partition("/")[0]) for m, _ in entries])
        for m, score in entries:
            offset += 1
            post = found.get(int(m.partition("/")[0]))
            if post is not None:
                items.append((post, score))
                if len(items) == size:
                    return Sliced(items, offset)
    return Sliced(items, offset)
