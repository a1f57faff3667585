"""Reading feeds: the home feed (chronological and ranked), a user's profile feed, and the
live stream.

A home-feed page is served from what the feed service owns (Bluesky's four stages):
*skeleton* — the ids, from the cached timeline (celebrities merged); *hydration* — one
read of the post cards, counts, the viewer's likes, relations and author summaries
(post_cards.py, services/peers/social_view.py); *rules* — the one visibility rule and
deletes drop what the viewer may not see (and those ids leave the timeline);
*presentation* — each item is its stored card plus the viewer's fields, as bytes
(wire.py). Only what the read model lacks is asked of the post service (cards older than
it, the viewer's likes of such posts), and the answers are kept.

Chronological pages are cut by the last post id returned (a sealed page token), so posts
that arrive meanwhile (larger ids) never shift a later page; a page that runs past the
cached entries continues in the CQL store. A timeline is served up to `timeline_max_items`
entries deep; the read that gets there trims what lies beyond (the length bound of the CQL
timelines, besides their TTL).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from photomesh.common.v1.page_token_pb2 import PageTokenPayload

from services.feed import ranking, wire
from services.feed.live import LiveUpdates
from services.feed.post_cards import PostCards, Shown
from services.feed.settings import FeedSettings
from services.feed.timelines import Timelines
from services.peers.post import PostPeer
from services.peers.social_view import SocialView
from services.runtime import metrics
from services.runtime.errors import FieldViolation, InvalidArgument, Unauthenticated
from services.runtime.ids import id_time_ms
from services.runtime.pagination import PageTokens, page_size
from services.runtime.validation import require_uuid

SLACK = 5  # extra candidates per round, for posts the caller cannot see
MAX_ROUNDS = 4
FOLLOWING_LIMIT = 20_000
CHRONOLOGICAL = "feed.GetHomeFeed/chronological"
RANKED = "feed.GetHomeFeed/ranked"


@dataclass(frozen=True)
class Page:
    """Serialized FeedItems and the next page's token."""

    items: list[bytes]
    next_page_token: str

    def response(self) -> bytes:
        """The serialized GetHomeFeedResponse."""
        return wire.home_feed_response(self.items, self.next_page_token)


class Feeds:
    def __init__(self, timelines: Timelines, view: SocialView, cards: PostCards,
                 posts: PostPeer, live: LiveUpdates, settings: FeedSettings,
                 tokens: PageTokens) -> None:
        self._timelines = timelines
        self._view = view
        self._cards = cards
        self._posts = posts
        self._live = live
        self._settings = settings
        self._tokens = tokens

    def _page_size(self, requested: int) -> int:
        return page_size(requested, maximum=self._settings.max_page_size)

    # --- skeleton -----------------------------------------------------------------------

    async def followed_celebrities(self, user_id: str) -> list[str]:
        celebs, version = await self._timelines.celebrities()
        if not celebs:
            return []
        cached = await self._timelines.followed_celebrities(user_id, version)
        if cached is None:
            following = await self._view.following_ids(user_id, FOLLOWING_LIMIT)
            cached = [a for a in following if a in celebs]
            await self._timelines.set_followed_celebrities(user_id, version, cached,
                                                 self._settings.following_cache_seconds)
        return [a for a in cached if a in celebs]

    async def candidates(self, user_id: str, before: int | None, limit: int) -> list[int]:
        """The newest `limit` ids of the home timeline older than `before`: the user's
        timeline merged with the recent posts of the celebrities they follow."""
        own, celebs = await asyncio.gather(self._timelines.page(user_id, before, limit),
                                           self.followed_celebrities(user_id))
        if not celebs:
            return own
        merged = await self._timelines.author_posts(celebs, before, limit)
        return sorted(set(own).union(merged), reverse=True)[:limit]

    # --- hydration and rules ------------------------------------------------------------

    async def _show(self, user_id: str, ids: Sequence[int]) -> dict[int, Shown]:
        """The posts among `ids` the viewer may see, from the read model; what it lacks is
        asked of the post service once and kept. Ids that are gone or hidden leave the
        viewer's timeline."""
        found = await self._cards.hydrate(user_id, ids)
        metrics.cache_lookups("feed_post_cards", len(ids) - len(found.cold), len(found.cold))
        shown, hidden = found.shown, list(found.hidden)
        if found.like_unknown:
            statuses = await self._posts.like_status(found.like_unknown)
            await self._cards.fill_likes(user_id, statuses)
            again = await self._cards.hydrate(user_id, found.like_unknown)
            shown.update(again.shown)
            hidden += again.hidden
        if found.cold:
            posts, missing = await self._posts.batch_get(found.cold)
            await self._cards.fill_cold(user_id, list(posts.values()))
            for post_id, post in posts.items():
                shown[post_id] = Shown(post_id, post.author.user_id, post.like_count,
                                       post.comment_count, post.SerializeToString())
            hidden += missing
        if hidden:
            await self._timelines.drop_missing(user_id, hidden)
        return shown

    # --- home feed ----------------------------------------------------------------------

    async def home(self, user_id: str, requested_size: int, token: str, mode: int) -> Page:
        """`mode`: 0 or 1 chronological, 2 ranked (FeedMode)."""
        if mode not in (0, 1, 2):
            raise InvalidArgument(FieldViolation("mode", "must be FEED_MODE_CHRONOLOGICAL or "
                                                         "FEED_MODE_RANKED"))
        size = self._page_size(requested_size)
        if mode == 2:
            return await self._ranked(user_id, size, token)
        return await self._chronological(user_id, size, token)

    async def _chronological(self, user_id: str, size: int, token: str) -> Page:
        cursor = self._tokens.open(token, scope=CHRONOLOGICAL, viewer=user_id)
        before = cursor.last_id if cursor else None
        served = cursor.offset if cursor else 0
        items: list[bytes] = []
        more = True
        for _ in range(MAX_ROUNDS):
            want = size - len(items) + SLACK
            ids = await self.candidates(user_id, before, want)
            shown = await self._show(user_id, ids)
            taken = 0
            for post_id in ids:
                taken += 1
                before = post_id
                if post_id in shown:
                    items.append(wire.feed_item(shown[post_id].body))
                    if len(items) == size:
                        break
            more = len(ids) == want or taken < len(ids)
            if len(items) == size or not more:
                break
        served += len(items)
        next_token = ""
        if items and more and before is not None:
            if served >= self._settings.timeline_max_items:
                await self._timelines.trim_older_than(user_id, before)
            else:
                next_token = self._tokens.seal(PageTokenPayload(last_id=before, offset=served),
                                               scope=CHRONOLOGICAL, viewer=user_id)
        return Page(items, next_token)

    async def _ranked(self, user_id: str, size: int, token: str) -> Page:
        cursor = self._tokens.open(token, scope=RANKED, viewer=user_id)
        if cursor is None:
            ids = await self.candidates(user_id, None, self._settings.ranked_window)
            shown = await self._show(user_id, ids)
            affinity = await self._timelines.affinity(
                user_id, sorted({s.author_id for s in shown.values()}))
            now = time.time()
            ranked = sorted(
                ((s, ranking.score(id_time_ms(s.post_id) / 1000, s.likes, s.comments,
                                   affinity.get(s.author_id, 0.0), now,
                                   self._settings.ranked_half_life_hours))
                 for s in shown.values()), key=lambda e: (-e[1], -e[0].post_id))
            snapshot = await self._timelines.save_snapshot(
                user_id, [(s.post_id, score) for s, score in ranked],
                self._settings.ranked_snapshot_seconds)
            items = [wire.feed_item(s.body, score) for s, score in ranked[:size]]
            return Page(items, self._ranked_token(user_id, snapshot, size, len(ranked) > size))
        exists, entries = await self._timelines.snapshot(
            user_id, cursor.snapshot_id, int(cursor.offset), size + 1)
        if not exists:
            raise InvalidArgument(FieldViolation(
                "page_token", "the ranked feed this token pages through has expired; start "
                              "again without a page_token"), reason="PAGE_TOKEN_INVALID")
        shown = await self._show(user_id, [p for p, _ in entries[:size]])
        items = [wire.feed_item(shown[p].body, s) for p, s in entries[:size] if p in shown]
        return Page(items, self._ranked_token(user_id, cursor.snapshot_id,
                                              int(cursor.offset) + size, len(entries) > size))

    def _ranked_token(self, user_id: str, snapshot: str, offset: int, more: bool) -> str:
        if not more:
            return ""
        return self._tokens.seal(PageTokenPayload(snapshot_id=snapshot, offset=offset),
                                 scope=RANKED, viewer=user_id)

    # --- profile feed -------------------------------------------------------------------

    async def profile(self, viewer_id: str, user_id: str, requested_size: int, token: str
                      ) -> Page:
        """A user's posts as `viewer_id` may see them (the post service applies privacy
        and blocks with the forwarded token)."""
        user_id = require_uuid("user_id", user_id)
        size = self._page_size(requested_size)
        scope = f"feed.GetProfileFeed/{user_id}"
        cursor = self._tokens.open(token, scope=scope, viewer=viewer_id)
        reply = await self._posts.user_posts(user_id, size, cursor.last_key if cursor else "")
        next_token = ""
        if reply.next_page_token:
            next_token = self._tokens.seal(PageTokenPayload(last_key=reply.next_page_token),
                                           scope=scope, viewer=viewer_id)
        return Page([wire.feed_item(p.SerializeToString()) for p in reply.posts], next_token)

    # --- live ---------------------------------------------------------------------------

    async def stream(self, user_id: str, expires_at: float,
                     on_ready: Callable[[], Awaitable[None]]) -> AsyncIterator[bytes]:
        """New posts delivered to `user_id`'s timeline, as serialized StreamHomeFeedResponse
        messages, until the caller's token expires (UNAUTHENTICATED TOKEN_EXPIRED:
        reconnect with a fresh one). `on_ready` is awaited once the subscription is live."""
        await self._timelines.page(user_id, None, 1)  # an active user: fan-out reaches them
        async with self._live.subscription(user_id) as updates:
            await on_ready()
            while True:
                remaining = expires_at - time.time()
                if remaining <= 0:
                    raise Unauthenticated("the access token has expired; reconnect with a "
                                          "fresh one", reason="TOKEN_EXPIRED")
                try:
                    event = await asyncio.wait_for(updates.next(), remaining)
                except TimeoutError:
                    continue
                shown = await self._show(user_id, [event.post_id])
                if event.post_id in shown:
                    yield wire.stream_response(wire.feed_item(shown[event.post_id].body))
