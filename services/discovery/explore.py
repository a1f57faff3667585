"""Explore rules: trending hashtags and posts, the explore page, post views.

Trending lists come from engagement.py (decayed hourly windows, rebuilt at most every
`trending_snapshot_seconds`); every listing's first page stores a snapshot that later
pages read (snapshots.py), with a token bound to the list and the viewer.

The explore page's first page builds the viewer's list once: trending and newest public
posts interleaved (`explore_candidates` at most), without the viewer's own posts, the
authors the viewer follows, private accounts and blocks in either direction, then spread
so an author recurs at most once in `explore_author_spacing` items (variety.py). Every page
applies the visibility rule again when it is served.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

from photomesh.common.v1.page_token_pb2 import PageTokenPayload
from photomesh.post.v1 import post_service_pb2 as post_pb

from services.discovery import listing, scoring
from services.discovery.cards import Cards
from services.discovery.engagement import Engagement, member, parse_member
from services.discovery.settings import DiscoverySettings
from services.discovery.snapshots import Snapshots, expired
from services.discovery.variety import spread
from services.peers.social_view import SocialView
from services.runtime.errors import NotFound
from services.runtime.pagination import PageTokens, page_size
from services.runtime.validation import check, id_violation

FOLLOWING_LIMIT = 20_000
TRENDING_HASHTAGS = "discovery.ListTrendingHashtags"
TRENDING_POSTS = "discovery.ListTrendingPosts"
EXPLORE = "discovery.GetExplorePage"


@dataclass(frozen=True)
class ItemPage:
    items: list[tuple[post_pb.Post, float]]
    next_page_token: str


@dataclass(frozen=True)
class HashtagPage:
    hashtags: list[tuple[str, float, int]]  # tag, score, post count
    next_page_token: str


class Explore:
    def __init__(self, cards: Cards, engagement: Engagement, snapshots: Snapshots,
                 view: SocialView, tokens: PageTokens, settings: DiscoverySettings) -> None:
        self._cards = cards
        self._engagement = engagement
        self._snapshots = snapshots
        self._view = view
        self._tokens = tokens
        self._settings = settings

    def _size(self, requested: int) -> int:
        return page_size(requested, maximum=self._settings.max_page_size)

    def _cursor(self, token: str, scope: str, viewer_id: str) -> PageTokenPayload | None:
        return self._tokens.open(token, scope=scope, viewer=viewer_id)

    def _next(self, snapshot_id: str, offset: int | None, scope: str, viewer_id: str) -> str:
        if offset is None:
            return ""
        return self._tokens.seal(PageTokenPayload(snapshot_id=snapshot_id, offset=offset),
                                 scope=scope, viewer=viewer_id)

    # --- trending hashtags ----------------------------------------------------------------

    async def trending_hashtags(self, viewer_id: str, requested: int, token: str
                                ) -> HashtagPage:
        size = self._size(requested)
        cursor = self._cursor(token, TRENDING_HASHTAGS, viewer_id)
        if cursor is None:
            snapshot_id = await self._snapshots.save(await self._engagement.trending("h"))
            offset = 0
        else:
            snapshot_id, offset = cursor.snapshot_id, int(cursor.offset)
        entries = await self._snapshots.slice(snapshot_id, offset, size + 1)
        if entries is None:
            if cursor is None:  # nothing trends: the snapshot is empty
                return HashtagPage([], "")
            raise expired()
        more = len(entries) > size
        entries = entries[:size]
        counts = await self._engagement.hashtag_counts([t for t, _ in entries])
        return HashtagPage([(t, s, counts[t]) for t, s in entries],
                           self._next(snapshot_id, offset + size if more else None,
                                      TRENDING_HASHTAGS, viewer_id))

    # --- trending posts and the explore page ----------------------------------------------

    async def trending_posts(self, viewer_id: str, requested: int, token: str) -> ItemPage:
        size = self._size(requested)
        cursor = self._cursor(token, TRENDING_POSTS, viewer_id)
        if cursor is None:
            snapshot_id = await self._snapshots.save(await self._engagement.trending("p"))
            return await self._page(viewer_id, TRENDING_POSTS, snapshot_id, 0, size, True)
        return await self._page(viewer_id, TRENDING_POSTS, cursor.snapshot_id,
                                int(cursor.offset), size, False)

    async def explore_page(self, viewer_id: str, requested: int, token: str) -> ItemPage:
        size = self._size(requested)
        cursor = self._cursor(token, EXPLORE, viewer_id)
        if cursor is None:
            snapshot_id = await self._snapshots.save(await self._candidates(viewer_id))
            return await self._page(viewer_id, EXPLORE, snapshot_id, 0, size, True)
        return await self._page(viewer_id, EXPLORE, cursor.snapshot_id, int(cursor.offset),
                                size, False)

    async def _candidates(self, viewer_id: str) -> list[tuple[str, float]]:
        half = self._settings.explore_candidates // 2
        trending, recent = await asyncio.gather(self._engagement.trending("p"),
                                                self._engagement.recent(half))
        trending = trending[:half]
        merged: dict[str, float] = {}
        for pair in itertools.zip_longest(trending, ((m, 0.0) for m in recent)):
            for entry in pair:
                if entry is not None and entry[0] not in merged:
                    merged[entry[0]] = entry[1]
        scores = dict(trending)
        authors = {m: parse_member(m)[1] for m in merged}
        following = set(await self._view.following_ids(viewer_id, FOLLOWING_LIMIT))
        audience = await self._view.audience(viewer_id, set(authors.values()) - {viewer_id})
        kept = [(authors[m], m) for m in merged
                if authors[m] != viewer_id and authors[m] not in following
                and authors[m] in audience.visible and authors[m] not in audience.private]
        return [(m, scores.get(m, 0.0))
                for _, m in spread(kept, self._settings.explore_author_spacing)]

    async def _page(self, viewer_id: str, scope: str, snapshot_id: str, offset: int,
                    size: int, first: bool) -> ItemPage:
        exclude = {viewer_id} if scope == EXPLORE else set()

        async def show(ids: list[int]) -> dict[int, post_pb.Post]:
            return await self._cards.show(viewer_id, ids, public_only=True,
                                          exclude_authors=exclude)

        sliced = await listing.snapshot_page(self._snapshots, snapshot_id, offset, size,
                                             self._settings.scan_rounds, show)
        if sliced is None:
            if first:  # an empty snapshot stores nothing
                return ItemPage([], "")
            raise expired()
        return ItemPage(sliced.items, self._next(snapshot_id, sliced.offset, scope, viewer_id))

    # --- views ----------------------------------------------------------------------------

    async def record_view(self, viewer_id: str, post_id: int, now: float) -> bool:
        """Count the viewer's view of a post they may see, once per hour (False: already
        counted); NOT_FOUND for a post that is unknown, deleted or hidden from them."""
        check([id_violation("post_id", post_id, "a post id")])
        seen = await self._cards.visible(viewer_id, post_id)
        if seen is None:
            raise NotFound(f"post {post_id} not found", reason="POST_NOT_FOUND",
                           metadata={"post_id": str(post_id)})
        author, public, tags = seen
        if author == viewer_id:
            return False  # an author's own views are not engagement
        marker = f"view:{viewer_id}:{post_id}:{scoring.hour_of(now)}"
        return await self._engagement.engage(
            marker, post_id, "v", 1, tags=tags,
            trending_member=member(post_id, author) if public else None,
            weight=scoring.VIEW, at=now)
