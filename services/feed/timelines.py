"""Home timelines: what fan-out writes and what a read starts from.

The CQL store is the truth (every follower of an ordinary author gets a row); Redis holds
the newest `cache_cap` entries of active users (see cache.py). Every write goes to the CQL
store first and to Redis after, so an acknowledged event always has its rows stored, and a
cache rebuild that races a write still sees it (the rebuild marks the key active before
it reads the CQL store).

Celebrities (authors with more followers than the threshold) are not fanned out: their
recent posts are kept per author and merged into each follower's feed at read time
(`FollowedCelebrities`). An author who drops below the threshold is merged until their
last merged post is older than the timeline TTL, so crossing it either way loses nothing
and needs no migration.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from services.feed.cache import TimelineCache
from services.feed.live import LiveUpdates
from services.feed.store import TimelineStore
from services.runtime import metrics, telemetry
from services.runtime.ids import id_time_ms, min_id_at

log = logging.getLogger(__name__)

PURGE_SCAN = 1000  # an author's posts looked at when unfollowing (within the TTL)


class Timelines:
    def __init__(self, store: TimelineStore, cache: TimelineCache,
                 live: LiveUpdates | None, *, cache_cap: int, author_cap: int,
                 backfill_posts: int) -> None:
        self._store = store
        self._cache = cache
        self._live = live
        self._cache_cap = cache_cap
        self._author_cap = author_cap
        self._backfill_posts = backfill_posts

    def _ttl_for(self, post_id: int) -> int:
        """Rows of one post expire together, `ttl_seconds` after the post was made."""
        age = max(0, int(time.time() - id_time_ms(post_id) / 1000))
        return max(1, self._store.ttl_seconds - age)

    # --- fan-out writes -----------------------------------------------------------------

    async def deliver(self, post_id: int, author_id: str, recipients: Sequence[str]) -> int:
        """Put one post into `recipients`' timelines; returns the CQL rows written."""
        with telemetry.span("feed.timelines.write", attributes={
                "feed.post_id": str(post_id), "feed.recipients": len(recipients)}):
            ttl = self._ttl_for(post_id)
            await self._store.insert_rows([(u, post_id, author_id, ttl) for u in recipients])
            active = await self._cache.add_to_active(recipients, [post_id])
            if self._live is not None:
                await self._live.delivered(active, post_id, author_id)
        return len(recipients)

    async def remove(self, post_id: int, recipients: Sequence[str]) -> None:
        with telemetry.span("feed.timelines.remove", attributes={
                "feed.post_id": str(post_id), "feed.recipients": len(recipients)}):
            await self._store.delete_posts(recipients, [post_id])
            await self._cache.remove(recipients, [post_id])

    async def drop_missing(self, user_id: str, post_ids: Sequence[int]) -> None:
        """Forget ids the post service no longer has (deleted, hidden) from one timeline."""
        if post_ids:
            await self._store.delete_posts([user_id], post_ids)
            await self._cache.remove([user_id], post_ids)

    async def backfill(self, follower_id: str, author_id: str) -> int:
        """A new follow: the followee's recent posts join the follower's timeline."""
        posts = await self._store.author_posts(author_id, self._backfill_posts)
        with telemetry.span("feed.timelines.backfill", attributes={
                "feed.posts": len(posts)}):
            await self._store.insert_rows([(follower_id, p, author_id, self._ttl_for(p))
                                          for p in posts])
            await self._cache.add_to_active([follower_id], posts)
        return len(posts)

    async def purge(self, follower_id: str, author_id: str) -> None:
        """Unfollow or block: every post of `author_id` leaves the follower's timeline."""
        posts = await self._store.author_posts(author_id, PURGE_SCAN)
        with telemetry.span("feed.timelines.purge", attributes={
                "feed.posts": len(posts)}):
            await self._store.delete_posts([follower_id], posts)
            await self._cache.remove([follower_id], posts)
            await self._cache.forget_followed_celebrities(follower_id)

    # --- authors and celebrities --------------------------------------------------------

    async def record_author_post(self, author_id: str, post_id: int) -> None:
        await self._store.add_author_post(author_id, post_id, self._ttl_for(post_id))
        await self._cache.add_author_post(author_id, post_id)

    async def forget_author_post(self, author_id: str, post_id: int) -> None:
        await self._store.remove_author_post(author_id, post_id)
        await self._cache.remove_author_post(author_id, post_id)

    async def mark_celebrity(self, author_id: str, post_id: int) -> None:
        await self._store.mark_celebrity(author_id, post_id)
        await self._cache.mark_celebrity(author_id, post_id)

    async def celebrities(self) -> tuple[set[str], int]:
        """Authors whose posts are merged at read time, and the celebrity-set version."""
        found, version = await self._cache.celebrities()
        if found is None:
            found = await self._store.celebrities()
            await self._cache.fill_celebrities(found)
            _, version = await self._cache.celebrities()
        horizon = min_id_at(int(time.time() * 1000) - self._store.ttl_seconds * 1000)
        return {a for a, last in found.items() if last >= horizon}, version

    async def author_posts(self, author_ids: Sequence[str], before: int | None, limit: int
                           ) -> list[int]:
        """Recent posts of `author_ids` older than `before`, newest first (cache, loaded
        from the CQL store where cold)."""
        if not author_ids:
            return []
        cached = await self._cache.author_posts(author_ids, before, limit)
        found: list[int] = []
        for author_id, posts in cached.items():
            if posts is None:
                await self._cache.mark_author(author_id)
                loaded = await self._store.author_posts(author_id, self._author_cap)
                await self._cache.fill_author(author_id, loaded)
                posts = [p for p in loaded if before is None or p < before][:limit]
            found.extend(posts)
        return sorted(set(found), reverse=True)[:limit]

    # --- reading ------------------------------------------------------------------------

    async def rebuild(self, user_id: str) -> None:
        """Load a cold user's cached timeline from the CQL store."""
        with telemetry.span("feed.timelines.rebuild"):
            await self._cache.mark_active(user_id)
            rows = await self._store.timeline(user_id, before=None, limit=self._cache_cap)
            await self._cache.fill(user_id, rows, complete=len(rows) < self._cache_cap)

    async def page(self, user_id: str, before: int | None, limit: int) -> list[int]:
        """Up to `limit` timeline ids older than `before`, newest first: from Redis, and
        past its end from the CQL store. Rebuilds the cache of a cold user first."""
        cached, ids, complete = await self._cache.read(user_id, before, limit)
        metrics.cache_lookups("feed_timeline", int(cached), int(not cached))
        if not cached:
            await self.rebuild(user_id)
            cached, ids, complete = await self._cache.read(user_id, before, limit)
        if len(ids) < limit and not complete:
            start = ids[-1] if ids else before
            ids += await self._store.timeline(user_id, before=start, limit=limit - len(ids))
        return ids

    async def trim_older_than(self, user_id: str, post_id: int) -> None:
        """A timeline served as deep as it may be: what lies beyond `post_id` goes."""
        await self._store.trim_older_than(user_id, post_id)

    # --- per viewer: followed celebrities, affinity, ranked snapshots (Redis) -----------

    async def followed_celebrities(self, user_id: str, version: int) -> list[str] | None:
        return await self._cache.followed_celebrities(user_id, version)

    async def set_followed_celebrities(self, user_id: str, version: int,
                                       authors: Sequence[str], ttl_seconds: int) -> None:
        await self._cache.set_followed_celebrities(user_id, version, authors, ttl_seconds)

    async def forget_followed_celebrities(self, user_id: str) -> None:
        await self._cache.forget_followed_celebrities(user_id)

    async def add_affinity(self, event_id: str, viewer_id: str, author_id: str,
                           weight: float, ttl_seconds: int) -> bool:
        return await self._cache.add_affinity(event_id, viewer_id, author_id, weight,
                                              ttl_seconds)

    async def affinity(self, viewer_id: str, author_ids: Sequence[str]) -> dict[str, float]:
        return await self._cache.affinity(viewer_id, author_ids)

    async def save_snapshot(self, viewer_id: str, ranked: Sequence[tuple[int, float]],
                            ttl_seconds: int) -> str:
        return await self._cache.save_snapshot(viewer_id, ranked, ttl_seconds)

    async def snapshot(self, viewer_id: str, snapshot: str, offset: int, limit: int
                       ) -> tuple[bool, list[tuple[int, float]]]:
        return await self._cache.snapshot(viewer_id, snapshot, offset, limit)
