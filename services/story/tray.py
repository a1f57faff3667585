"""The story tray: per followed author with live stories the viewer may see, those stories.

Served from Redis (per-author live-story sets, the viewer's seen set, close friends sets);
any cold set is rebuilt from CQL on the way. Order: the viewer's own entry, then authors
with unseen stories, then the rest; within each group the most recent story first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from photomesh.common.v1.user_pb2 import UserSummary

from services.story.cache import StoryCache
from services.story.close_friends import CloseFriends
from services.story.model import CLOSE_FRIENDS, StoryRecord
from services.story.peers import GraphPeer
from services.story.store import StoryStore
from services.story.views import Views

REBUILD_CONCURRENCY = 16


@dataclass(frozen=True)
class TrayEntry:
    author: UserSummary
    stories: list[StoryRecord]  # oldest first (play order)
    seen: set[int]

    @property
    def has_unseen(self) -> bool:
        return any(s.story_id not in self.seen for s in self.stories)

    @property
    def latest_ms(self) -> int:
        return self.stories[-1].create_ms


class Tray:
    def __init__(self, store: StoryStore, cache: StoryCache, graph: GraphPeer, views: Views,
                 close_friends: CloseFriends, max_following: int) -> None:
        self._store = store
        self._cache = cache
        self._graph = graph
        self._views = views
        self._close_friends = close_friends
        self._max_following = max_following

    async def live_by_author(self, author_ids: Sequence[str], now_ms: int
                             ) -> dict[str, list[StoryRecord]]:
        """Live stories of each author, oldest first, from Redis (cold authors rebuilt)."""
        found, cold = await self._cache.live_stories(author_ids, now_ms)
        limit = asyncio.Semaphore(REBUILD_CONCURRENCY)

        async def rebuild(author: str) -> None:
            async with limit:
                stories = await self._store.live_by_author(author, now_ms)
                await self._cache.rebuild_author(author, stories, now_ms)
                found[author] = sorted(stories, key=lambda s: s.story_id)

        await asyncio.gather(*(rebuild(a) for a in cold))
        return found

    async def entries(self, viewer_id: str, now_ms: int) -> list[tuple[str, list[StoryRecord],
                                                                       set[int]]]:
        """The whole tray in order, without user summaries: (author, stories, seen)."""
        followees = await self._graph.following_ids(viewer_id, self._max_following)
        authors = [viewer_id, *(a for a in dict.fromkeys(followees) if a != viewer_id)]
        live = await self.live_by_author(authors, now_ms)
        with_close = [a for a, stories in live.items()
                      if a != viewer_id and any(s.audience == CLOSE_FRIENDS for s in stories)]
        close_to = await self._close_friends.owners_including(with_close, viewer_id)
        visible: dict[str, list[StoryRecord]] = {}
        for author, stories in live.items():
            shown = [s for s in stories if author == viewer_id or s.audience != CLOSE_FRIENDS
                     or author in close_to]
            if shown:
                visible[author] = shown
        seen = await self._views.seen(viewer_id, [s.story_id for a, stories in visible.items()
                                                  if a != viewer_id for s in stories])

        def rank(author: str) -> tuple[int, int]:
            stories = visible[author]
            unseen = any(s.story_id not in seen for s in stories)
            group = 0 if author == viewer_id else (1 if unseen else 2)
            return group, -stories[-1].create_ms

        return [(a, visible[a], seen) for a in sorted(visible, key=rank)]

    async def page(self, viewer_id: str, offset: int, page_size: int, now_ms: int
                   ) -> tuple[list[TrayEntry], bool]:
        """One page of the tray and whether more follow."""
        ordered = await self.entries(viewer_id, now_ms)
        window = ordered[offset:offset + page_size]
        summaries = await self._graph.summaries(a for a, _, _ in window)
        entries = [TrayEntry(summaries.get(a) or UserSummary(user_id=a), stories,
                             seen if a != viewer_id else {s.story_id for s in stories})
                   for a, stories, seen in window]
        return entries, offset + page_size < len(ordered)
