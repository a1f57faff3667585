"""CQL storage of the feed: home timelines, authors' recent posts, celebrities.

Every timeline row is keyed (user_id, post_id) and written with ``USING TTL``, so replays
and redeliveries overwrite the same cells (nothing is written twice) and old rows expire.
Fan-out writes go in unlogged batches of `batch_rows` rows: each row is a different
partition, and one batch per request is what makes one worker process write thousands of
rows a second (on a multi-node ScyllaDB cluster keep batches small, the coordinator
forwards each row to its replica).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence

from cassandra.query import BatchStatement, BatchType

from services.runtime.cql import CqlStore

CELEBRITY_BUCKET = 0  # the one partition of feed_celebrities
IN_CHUNK = 100  # ids per "post_id IN (...)" delete


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class TimelineStore:
    def __init__(self, cql: CqlStore, *, ttl_seconds: int, batch_rows: int) -> None:
        self._cql = cql
        self.ttl_seconds = ttl_seconds
        self._batch_rows = batch_rows

    # --- home timelines -----------------------------------------------------------------

    async def insert_rows(self, rows: Sequence[tuple[str, int, str, int]]) -> None:
        """Write (user_id, post_id, author_user_id, ttl_seconds) rows, batched, concurrently;
        returns when every row is stored (raises if any batch failed)."""
        if not rows:
            return
        stmt = await self._cql.prepare(
            "INSERT INTO feed_timelines (user_id, post_id, author_user_id) VALUES (?, ?, ?) "
            "USING TTL ?")
        futures = []
        authors: dict[str, uuid.UUID] = {}  # a fan-out batch has one author: parse it once
        for chunk in _chunks(rows, self._batch_rows):
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for user_id, post_id, author_id, ttl in chunk:
                author = authors.get(author_id) or authors.setdefault(author_id,
                                                                      uuid.UUID(author_id))
                batch.add(stmt, (uuid.UUID(user_id), post_id, author, ttl))
            futures.append(self._cql.execute(batch))
        await asyncio.gather(*futures)

    async def delete_posts(self, user_ids: Sequence[str], post_ids: Sequence[int]) -> None:
        """Remove `post_ids` from each of `user_ids`' timelines."""
        if not user_ids or not post_ids:
            return
        stmt = await self._cql.prepare(
            "DELETE FROM feed_timelines WHERE user_id = ? AND post_id IN ?")
        await asyncio.gather(*(self._cql.execute(stmt, (uuid.UUID(u), list(chunk)))
                               for u in user_ids for chunk in _chunks(post_ids, IN_CHUNK)))

    async def timeline(self, user_id: str, *, before: int | None, limit: int) -> list[int]:
        """Post ids of a timeline, newest first, older than `before` when given."""
        if before is None:
            rows = await self._cql.execute(
                "SELECT post_id FROM feed_timelines WHERE user_id = ? LIMIT ?",
                (uuid.UUID(user_id), limit))
        else:
            rows = await self._cql.execute(
                "SELECT post_id FROM feed_timelines WHERE user_id = ? AND post_id < ? LIMIT ?",
                (uuid.UUID(user_id), before, limit))
        return [r["post_id"] for r in rows]

    async def trim_older_than(self, user_id: str, post_id: int) -> None:
        """Drop every row older than `post_id` (one range tombstone)."""
        await self._cql.execute("DELETE FROM feed_timelines WHERE user_id = ? AND post_id < ?",
                                (uuid.UUID(user_id), post_id))

    # --- authors' recent posts ----------------------------------------------------------

    async def add_author_post(self, author_id: str, post_id: int, ttl: int) -> None:
        await self._cql.execute(
            "INSERT INTO feed_author_posts (author_user_id, post_id) VALUES (?, ?) USING TTL ?",
            (uuid.UUID(author_id), post_id, ttl))

    async def remove_author_post(self, author_id: str, post_id: int) -> None:
        await self._cql.execute(
            "DELETE FROM feed_author_posts WHERE author_user_id = ? AND post_id = ?",
            (uuid.UUID(author_id), post_id))

    async def author_posts(self, author_id: str, limit: int) -> list[int]:
        rows = await self._cql.execute(
            "SELECT post_id FROM feed_author_posts WHERE author_user_id = ? LIMIT ?",
            (uuid.UUID(author_id), limit))
        return [r["post_id"] for r in rows]

    # --- celebrities --------------------------------------------------------------------

    async def mark_celebrity(self, author_id: str, post_id: int) -> None:
        await self._cql.execute(
            "INSERT INTO feed_celebrities (bucket, author_user_id, last_merged_post_id) "
            "VALUES (?, ?, ?) USING TTL ?",
            (CELEBRITY_BUCKET, uuid.UUID(author_id), post_id, self.ttl_seconds))

    async def celebrities(self) -> dict[str, int]:
        """author id -> id of their last post that was not fanned out."""
        rows = await self._cql.execute(
            "SELECT author_user_id, last_merged_post_id FROM feed_celebrities WHERE bucket = ?",
            (CELEBRITY_BUCKET,))
        return {str(r["author_user_id"]): r["last_merged_post_id"] for r in rows}
