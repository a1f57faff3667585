"""CQL storage of stories, views, archives and close friends lists."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from cassandra.query import BatchStatement, BatchType

from services.runtime.clock import ms_to_datetime
from services.runtime.cql import CqlStore, applied
from services.story.model import CloseFriendRecord, StoryRecord, Viewer

EXPIRY_INDEX_RETENTION_SECONDS = 7 * 86400


def _ms(value: datetime) -> int:
    return int(value.replace(tzinfo=UTC).timestamp() * 1000)


def ttl_left(expire_ms: int, now_ms: int) -> int:
    """Whole seconds a row written now must live to outlast `expire_ms` (at least 1)."""
    return max(1, -(-(expire_ms - now_ms) // 1000))


class StoryStore:
    def __init__(self, cql: CqlStore, bucket_seconds: int) -> None:
        self._cql = cql
        self._bucket_ms = bucket_seconds * 1000

    def bucket_of(self, expire_ms: int) -> int:
        return expire_ms // self._bucket_ms

    def bucket_end_ms(self, bucket: int) -> int:
        return (bucket + 1) * self._bucket_ms

    async def _batch(self, *statements: tuple[str, tuple]) -> None:
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        for cql, params in statements:
            batch.add(await self._cql.prepare(cql), params)
        await self._cql.execute(batch)

    # --- creating and reading -------------------------------------------------------------

    async def claim_request(self, author_id: str, request_id: str, story_id: int,
                            fingerprint: str) -> tuple[int, str]:
        """The story `request_id` creates: ours if first, the earlier attempt's on a retry
        (with that attempt's request fingerprint)."""
        rows = await self._cql.execute(
            "INSERT INTO story_requests (author_id, request_id, story_id, fingerprint) "
            "VALUES (?, ?, ?, ?) IF NOT EXISTS",
            (uuid.UUID(author_id), request_id, story_id, fingerprint))
        if applied(rows):
            return story_id, fingerprint
        return int(rows[0]["story_id"]), rows[0]["fingerprint"]

    async def save(self, story: StoryRecord, now_ms: int) -> None:
        """All rows of a new story at once (logged batch), each expiring with it."""
        ttl = ttl_left(story.expire_ms, now_ms)
        data = story.to_bytes()
        author = uuid.UUID(story.author_id)
        expire = ms_to_datetime(story.expire_ms)
        await self._batch(
            ("INSERT INTO stories (story_id, author_id, audience, expire_time, data) "
             "VALUES (?, ?, ?, ?, ?) USING TTL ?",
             (story.story_id, author, story.audience, expire, data, ttl)),
            ("INSERT INTO stories_by_author (author_id, story_id, audience, expire_time, data) "
             "VALUES (?, ?, ?, ?, ?) USING TTL ?",
             (author, story.story_id, story.audience, expire, data, ttl)),
            ("INSERT INTO story_expiry (bucket, expire_time, story_id, author_id, data) "
             "VALUES (?, ?, ?, ?, ?) USING TTL ?",
             (self.bucket_of(story.expire_ms), expire, story.story_id, author, data,
              ttl + EXPIRY_INDEX_RETENTION_SECONDS)),
        )

    async def live(self, story_id: int, now_ms: int) -> StoryRecord | None:
        rows = await self._cql.execute("SELECT data FROM stories WHERE story_id = ?",
                                       (story_id,))
        story = StoryRecord.from_bytes(rows[0]["data"]) if rows and rows[0]["data"] else None
        return story if story is not None and story.live_at(now_ms) else None

    async def live_by_author(self, author_id: str, now_ms: int) -> list[StoryRecord]:
        """The author's live stories, newest first."""
        rows = await self._cql.execute(
            "SELECT data, expire_time FROM stories_by_author WHERE author_id = ? "
            "AND story_id > ?", (uuid.UUID(author_id), 0))
        return [StoryRecord.from_bytes(r["data"]) for r in rows
                if r["data"] and _ms(r["expire_time"]) > now_ms]

    async def archived(self, author_id: str, story_id: int) -> StoryRecord | None:
        rows = await self._cql.execute(
            "SELECT data FROM story_archive WHERE author_id = ? AND story_id = ?",
            (uuid.UUID(author_id), story_id))
        return StoryRecord.from_bytes(rows[0]["data"]) if rows else None

    async def archive_page(self, author_id: str, page_size: int, paging_state: bytes | None
                           ) -> tuple[list[StoryRecord], bytes | None]:
        rows, state = await self._cql.execute_page(
            "SELECT data FROM story_archive WHERE author_id = ?", (uuid.UUID(author_id),),
            page_size=page_size, paging_state=paging_state)
        return [StoryRecord.from_bytes(r["data"]) for r in rows], state

    # --- deleting -------------------------------------------------------------------------

    async def delete(self, story: StoryRecord) -> None:
        author = uuid.UUID(story.author_id)
        await self._batch(
            ("INSERT INTO story_deleted (story_id, author_id) VALUES (?, ?)",
             (story.story_id, author)),
            ("DELETE FROM stories WHERE story_id = ?", (story.story_id,)),
            ("DELETE FROM stories_by_author WHERE author_id = ? AND story_id = ?",
             (author, story.story_id)),
            ("DELETE FROM story_expiry WHERE bucket = ? AND expire_time = ? AND story_id = ?",
             (self.bucket_of(story.expire_ms), ms_to_datetime(story.expire_ms), story.story_id)),
            ("DELETE FROM story_archive WHERE author_id = ? AND story_id = ?",
             (author, story.story_id)),
        )

    async def deleted_by(self, story_id: int) -> str | None:
        rows = await self._cql.execute(
            "SELECT author_id FROM story_deleted WHERE story_id = ?", (story_id,))
        return str(rows[0]["author_id"]) if rows else None

    # --- archive job ----------------------------------------------------------------------

    async def expired_in_bucket(self, bucket: int, now_ms: int) -> list[StoryRecord]:
        rows = await self._cql.execute(
            "SELECT data FROM story_expiry WHERE bucket = ? AND expire_time <= ?",
            (bucket, ms_to_datetime(now_ms)))
        return [StoryRecord.from_bytes(r["data"]) for r in rows]

    async def archive(self, story: StoryRecord) -> None:
        """Idempotent: the same row whatever the number of runs."""
        await self._cql.execute(
            "INSERT INTO story_archive (author_id, story_id, data) VALUES (?, ?, ?)",
            (uuid.UUID(story.author_id), story.story_id, story.to_bytes()))

    async def checkpoint(self, job: str) -> int | None:
        rows = await self._cql.execute("SELECT checkpoint FROM story_jobs WHERE job = ?",
                                       (job,))
        return int(rows[0]["checkpoint"]) if rows and rows[0]["checkpoint"] is not None \
            else None

    async def set_checkpoint(self, job: str, value: int) -> None:
        await self._cql.execute("INSERT INTO story_jobs (job, checkpoint) VALUES (?, ?)",
                                (job, value))

    # --- views ----------------------------------------------------------------------------

    async def record_view(self, story: StoryRecord, viewer_id: str, now_ms: int
                          ) -> tuple[bool, int]:
        """Store a view; (True, now) for a first view, (False, first view time) after.
        The by-time and seen rows are written either way, so a retry after a failure
        between the writes completes them."""
        ttl = ttl_left(story.expire_ms, now_ms)
        viewer = uuid.UUID(viewer_id)
        rows = await self._cql.execute(
            "INSERT INTO story_views (story_id, viewer_id, view_time) VALUES (?, ?, ?) "
            "IF NOT EXISTS USING TTL ?", (story.story_id, viewer, ms_to_datetime(now_ms), ttl))
        first = applied(rows)
        view_ms = now_ms if first else _ms(rows[0]["view_time"])
        await self._batch(
            ("INSERT INTO story_viewers_by_time (story_id, view_time, viewer_id) "
             "VALUES (?, ?, ?) USING TTL ?",
             (story.story_id, ms_to_datetime(view_ms), viewer, ttl)),
            ("INSERT INTO story_seen (viewer_id, story_id) VALUES (?, ?) USING TTL ?",
             (viewer, story.story_id, ttl)),
        )
        return first, view_ms

    async def view_count(self, story_id: int) -> int:
        rows = await self._cql.execute(
            "SELECT COUNT(*) AS n FROM story_views WHERE story_id = ?", (story_id,))
        return int(rows[0]["n"]) if rows else 0

    async def viewers_page(self, story_id: int, page_size: int, paging_state: bytes | None
                           ) -> tuple[list[Viewer], bytes | None]:
        rows, state = await self._cql.execute_page(
            "SELECT viewer_id, view_time FROM story_viewers_by_time WHERE story_id = ?",
            (story_id,), page_size=page_size, paging_state=paging_state)
        return [Viewer(str(r["viewer_id"]), _ms(r["view_time"])) for r in rows], state

    async def seen_story_ids(self, viewer_id: str) -> list[int]:
        rows = await self._cql.execute(
            "SELECT story_id FROM story_seen WHERE viewer_id = ?", (uuid.UUID(viewer_id),))
        return [int(r["story_id"]) for r in rows]

    # --- close friends --------------------------------------------------------------------

    async def close_friend_ids(self, owner_id: str) -> list[str]:
        rows = await self._cql.execute(
            "SELECT friend_id FROM close_friends WHERE owner_id = ?", (uuid.UUID(owner_id),))
        return [str(r["friend_id"]) for r in rows]

    async def add_close_friend(self, owner_id: str, friend_id: str, now_ms: int) -> None:
        owner, friend = uuid.UUID(owner_id), uuid.UUID(friend_id)
        existing = await self._cql.execute(
            "SELECT add_time FROM close_friends WHERE owner_id = ? AND friend_id = ?",
            (owner, friend))
        if existing:
            return
        await self._batch(
            ("INSERT INTO close_friends (owner_id, friend_id, add_time) VALUES (?, ?, ?)",
             (owner, friend, ms_to_datetime(now_ms))),
            ("INSERT INTO close_friends_by_time (owner_id, add_time, friend_id) "
             "VALUES (?, ?, ?)", (owner, ms_to_datetime(now_ms), friend)),
        )

    async def remove_close_friend(self, owner_id: str, friend_id: str) -> None:
        owner, friend = uuid.UUID(owner_id), uuid.UUID(friend_id)
        rows = await self._cql.execute(
            "SELECT add_time FROM close_friends WHERE owner_id = ? AND friend_id = ?",
            (owner, friend))
        if not rows:
            return
        await self._batch(
            ("DELETE FROM close_friends WHERE owner_id = ? AND friend_id = ?", (owner, friend)),
            ("DELETE FROM close_friends_by_time WHERE owner_id = ? AND add_time = ? "
             "AND friend_id = ?", (owner, rows[0]["add_time"], friend)),
        )

    async def close_friend_count(self, owner_id: str) -> int:
        rows = await self._cql.execute(
            "SELECT COUNT(*) AS n FROM close_friends WHERE owner_id = ?", (uuid.UUID(owner_id),))
        return int(rows[0]["n"]) if rows else 0

    async def close_friends_page(self, owner_id: str, page_size: int,
                                 paging_state: bytes | None
                                 ) -> tuple[list[CloseFriendRecord], bytes | None]:
        rows, state = await self._cql.execute_page(
            "SELECT friend_id, add_time FROM close_friends_by_time WHERE owner_id = ?",
            (uuid.UUID(owner_id),), page_size=page_size, paging_state=paging_state)
        return [CloseFriendRecord(str(r["friend_id"]), _ms(r["add_time"])) for r in rows], state

