"""The story tray: per followed author with live stories the viewer may see, those stories.

Served from Redis (per-author live-story sets, the viewer's seen set, close friends sets);
any cold set is rebuilt from CQL on the way. Order: the viewer's own entry, then authors
with unseen stories, then the rest; within each group the most recent story first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from photomesh.common.v1.page_token_pb2 import PageTokenPayload
from photomesh.common.v1.user_pb2 import UserSummary

from services.peers.social_view import SocialView
from services.runtime import metrics
from services.runtime.pagination import PageTokens, page_size
from services.story.cache import StoryCache
from services.story.clock import Clock
from services.story.close_friends import CloseFriends
from services.story.model import CLOSE_FRIENDS, StoryRecord, StoryRef
from services.story.store import StoryStore
from services.story.views import Views

REBUILD_CONCURRENCY = 64
TRAY = "story.GetStoryTray"


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
    def __init__(self, store: StoryStore, cache: StoryCache, graph: SocialView, views: Views,
                 close_friends: CloseFriends, tokens: PageTokens, max_following: int,
                 clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._tokens = tokens
        self._cache = cache
        self._graph = graph
        self._views = views
        self._close_friends = close_friends
        self._max_following = max_following

    async def _rebuild(self, authors: Sequence[str], now_ms: int
                       ) -> dict[str, list[StoryRecord]]:
        """Live stories of cold authors from CQL (oldest first), put back into Redis (all
        authors in one round trip)."""
        if not authors:
            return {}
        limit = asyncio.Semaphore(REBUILD_CONCURRENCY)

        async def read(author: str) -> list[StoryRecord]:
            async with limit:
                return await self._store.live_by_author(author, now_ms)

        found = dict(zip(authors, await asyncio.gather(*(read(a) for a in authors)),
                         strict=True))
        await self._cache.rebuild_authors(found, now_ms)
        return {a: sorted(stories, key=lambda s: s.story_id) for a, stories in found.items()}

    async def ranked(self, viewer_id: str, now_ms: int
                     ) -> list[tuple[str, list[StoryRef], set[int]]]:
        """The whole tray in order as (author, visible stories oldest first, seen ids),
        from the story sets alone (no story bodies)."""
        followees = await self._graph.following_ids(viewer_id, self._max_following)
        authors = [viewer_id, *(a for a in dict.fromkeys(followees) if a != viewer_id)]
        live, cold, seen_live = await self._cache.tray_state(viewer_id, authors, now_ms)
        for author, stories in (await self._rebuild(cold, now_ms)).items():
            live[author] = [StoryRef.of(s) for s in stories]
        with_close = [a for a, refs in live.items()
                      if a != viewer_id and any(r.audience == CLOSE_FRIENDS for r in refs)]
        close_to = await self._close_friends.owners_including(with_close, viewer_id)
        visible = {a: shown for a, refs in live.items()
                   if (shown := [r for r in refs if a == viewer_id
                                 or r.audience != CLOSE_FRIENDS or a in close_to])}
        if seen_live is not None and not cold:
            seen = seen_live  # (may also hold hidden stories' ids: never looked up)
        else:  # the seen set or some author sets were cold
            seen = await self._views.seen(viewer_id, [r.story_id for a, refs in visible.items()
                                                      if a != viewer_id for r in refs])

        def rank(author: str) -> tuple[int, int]:
            refs = visible[author]
            unseen = any(r.story_id not in seen for r in refs)
            group = 0 if author == viewer_id else (1 if unseen else 2)
            return group, -refs[-1].create_ms

        return [(a, visible[a], seen if a != viewer_id else {r.story_id for r in visible[a]})
                for a in sorted(visible, key=rank)]

    async def page(self, viewer_id: str, requested_size: int, token: str
                   ) -> tuple[list[TrayEntry], str]:
        """One page of the tray and the next page's token ("" at the end). Pages are cut by
        position in the ranking at the time of the read."""
        size = page_size(requested_size)
        cursor = self._tokens.open(token, scope=TRAY, viewer=viewer_id)
        offset = cursor.offset if cursor else 0
        entries, more = await self._window(viewer_id, offset, size, self._clock.now_ms())
        next_token = self._tokens.seal(PageTokenPayload(offset=offset + size), scope=TRAY,
                                       viewer=viewer_id) if more else ""
        return entries, next_token

    async def _window(self, viewer_id: str, offset: int, page_size: int, now_ms: int
                      ) -> tuple[list[TrayEntry], bool]:
        ordered = await self.ranked(viewer_id, now_ms)
        window = ordered[offset:offset + page_size]
        wanted = [r.story_id for _, refs, _ in window for r in refs]
        bodies = await self._cache.bodies(wanted)
        missing = [a for a, refs, _ in window if any(r.story_id not in bodies for r in refs)]
        metrics.cache_lookups("story_tray_authors", len(window) - len(missing), len(missing))
        for stories in (await self._rebuild(missing, now_ms)).values():
            bodies.update((s.story_id, s) for s in stories)
        summaries = await self._graph.summaries(a for a, _, _ in window)
        entries = []
        for author, refs, seen in window:
            stories = [bodies[r.story_id] for r in refs
                       if r.story_id in bodies and bodies[r.story_id].live_at(now_ms)]
            if stories:
                entries.append(TrayEntry(summaries.get(author) or UserSummary(user_id=author),
                                         stories, seen))
        return entries, offset + page_size < len(ordered)
