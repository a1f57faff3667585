"""Suggested users: friends of friends, with a bounded cost.

The candidates are the users followed by the `followings_read` users the viewer followed
most recently, `per_following` newest follows of each (at most 50 x 100 = 5,000 edges, read
as 51 single-partition pages at once). Each candidate's *mutual count* is how many of those
followings follow them. The viewer, users the viewer follows or asked to follow, and
blocks in either direction are left out (one read of the viewer's relation partition for
the best `ranked` candidates by mutual count); the rest are ordered by mutual count, then
follower count, then user id, and served by offset (a sealed token).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

from photomesh.common.v1.page_token_pb2 import PageTokenPayload

from services.graph.listing import Listing
from services.graph.store import FOLLOWING, GraphStore, ProfileRow
from services.runtime.pagination import PageTokens, page_size

FOLLOWINGS_READ = 50
PER_FOLLOWING = 100
RANKED = 200
MAX_PAGE = 50
SCOPE = "graph.ListSuggestedUsers"


@dataclass(frozen=True)
class Suggestion:
    profile: ProfileRow
    mutual_count: int
    follower_count: int


class Suggestions:
    def __init__(self, store: GraphStore, listing: Listing, tokens: PageTokens) -> None:
        self._store = store
        self._listing = listing
        self._tokens = tokens

    async def _followed(self, user_id: str, limit: int) -> list[str]:
        entries, _ = await self._store.list_page(FOLLOWING, user_id, limit, None)
        return [e.other_id for e in entries]

    async def ranked(self, viewer: str) -> list[tuple[str, int, int]]:
        """(user id, mutual count, follower count) of every suggestion, best first."""
        followings = await self._followed(viewer, FOLLOWINGS_READ)
        if not followings:
            return []
        theirs = await asyncio.gather(*(self._followed(f, PER_FOLLOWING) for f in followings))
        mutual = Counter(u for ids in theirs for u in set(ids) if u != viewer)
        for f in followings:
            mutual.pop(f, None)
        best = [u for u, _ in sorted(mutual.items(), key=lambda kv: (-kv[1], kv[0]))[:RANKED]]
        relations = await self._store.relations(viewer, best)
        kept = [u for u in best
                if relations[u].following_since is None and relations[u].requested_at is None
                and relations[u].blocking_since is None
                and relations[u].blocked_by_since is None]
        counts = await self._listing.counts(kept)
        return sorted(((u, mutual[u], counts[u][0]) for u in kept),
                      key=lambda t: (-t[1], -t[2], t[0]))

    async def page(self, viewer: str, requested: int, token: str
                   ) -> tuple[list[Suggestion], str]:
        size = page_size(requested, maximum=MAX_PAGE)
        cursor = self._tokens.open(token, scope=SCOPE, viewer=viewer)
        offset = int(cursor.offset) if cursor else 0
        ranked = await self.ranked(viewer)
        chosen = ranked[offset:offset + size]
        profiles = await self._store.profiles([u for u, _, _ in chosen])
        shown = [Suggestion(profiles[u], m, n) for u, m, n in chosen if u in profiles]
        end = offset + size
        next_token = (self._tokens.seal(PageTokenPayload(offset=end), scope=SCOPE,
                                        viewer=viewer) if end < len(ranked) else "")
        return shown, next_token
