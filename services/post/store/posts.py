"""CQL rows of posts: the post, the author's list, request-id and media claims."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime

from photomesh.common.v1.media_pb2 import MediaRef

from services.post.model import Claim, PostRecord
from services.post.store.rows import Rows, mentions_of
from services.runtime.clock import utc
from services.runtime.cql import Row, applied

_POST_COLUMNS = ("post_id, author_id, caption, hashtags, mention_user_ids, mention_usernames, "
                 "media, create_time, published, deleted_at")


def _post(row: Row) -> PostRecord:
    return PostRecord(
        post_id=row["post_id"], author_id=str(row["author_id"]), caption=row["caption"] or "",
        hashtags=tuple(row["hashtags"] or ()),
        mentions=mentions_of(row["mention_user_ids"], row["mention_usernames"]),
        media=tuple(MediaRef.FromString(b) for b in row["media"] or ()),
        create_time=utc(row["create_time"]), published=bool(row["published"]),
        deleted=row["deleted_at"] is not None,
        deleted_ms=(int(utc(row["deleted_at"]).timestamp() * 1000)
                    if row["deleted_at"] is not None else None))


class PostRows(Rows):
    async def claim_post_request(self, author_id: str, request_id: str, post_id: int,
                                 fingerprint: str) -> Claim:
        """Which post (author, request_id) creates: `post_id` if first, else the earlier."""
        return await self._claim("post_requests", "post_id", author_id, request_id, post_id,
                                 fingerprint)

    async def claim_media(self, media_id: str, post_id: int, now: datetime) -> tuple[int, datetime]:
        """Attach `media_id` to `post_id` unless attached already; returns the owner post
        and when it claimed the item."""
        rows = await self._cql.execute(
            "INSERT INTO post_media_claims (media_id, post_id, claim_time) VALUES (?, ?, ?) "
            "IF NOT EXISTS", (media_id, post_id, now))
        if applied(rows):
            return post_id, now
        return rows[0]["post_id"], utc(rows[0]["claim_time"])

    async def take_over_media(self, media_id: str, from_post: int, to_post: int,
                              now: datetime) -> bool:
        """Move an abandoned claim (its post was never written) to `to_post`."""
        rows = await self._cql.execute(
            "UPDATE post_media_claims SET post_id = ?, claim_time = ? WHERE media_id = ? "
            "IF post_id = ?", (to_post, now, media_id, from_post))
        return applied(rows)

    async def release_media(self, media_id: str, post_id: int) -> None:
        await self._cql.execute("DELETE FROM post_media_claims WHERE media_id = ? IF post_id = ?",
                                (media_id, post_id))

    async def insert_post(self, post: PostRecord) -> None:
        author = uuid.UUID(post.author_id)
        await self._batch([
            (f"INSERT INTO posts ({_POST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, false, null)",
             (post.post_id, author, post.caption, list(post.hashtags),
              [uuid.UUID(m.user_id) for m in post.mentions],
              [m.username for m in post.mentions],
              [m.SerializeToString(deterministic=True) for m in post.media], post.create_time)),
            ("INSERT INTO post_user_posts (author_id, post_id) VALUES (?, ?)",
             (author, post.post_id)),
        ])

    async def mark_post_published(self, post_id: int) -> None:
        await self._cql.execute("UPDATE posts SET published = true WHERE post_id = ?",
                                (post_id,))

    async def get_post(self, post_id: int) -> PostRecord | None:
        rows = await self._cql.execute(f"SELECT {_POST_COLUMNS} FROM posts WHERE post_id = ?",
                                       (post_id,))
        return _post(rows[0]) if rows and rows[0]["author_id"] is not None else None

    async def get_posts(self, post_ids: Sequence[int]) -> dict[int, PostRecord]:
        """Many posts by id: concurrent single-partition reads (token-aware, each goes
        straight to a replica), never a multi-partition IN."""
        found = await asyncio.gather(*(self.get_post(i) for i in post_ids))
        return {p.post_id: p for p in found if p is not None}

    async def list_user_post_ids(self, author_id: str, limit: int, before_id: int | None
                                 ) -> list[int]:
        if before_id is None:
            rows = await self._cql.execute(
                "SELECT post_id FROM post_user_posts WHERE author_id = ? LIMIT ?",
                (uuid.UUID(author_id), limit))
        else:
            rows = await self._cql.execute(
                "SELECT post_id FROM post_user_posts WHERE author_id = ? AND post_id < ? "
                "LIMIT ?", (uuid.UUID(author_id), before_id, limit))
        return [r["post_id"] for r in rows]

    async def delete_post(self, post: PostRecord, now: datetime) -> None:
        """Tombstone the post and drop its list entry, likes and comments in one batch."""
        await self._batch([
            ("UPDATE posts SET deleted_at = ? WHERE post_id = ?", (now, post.post_id)),
            ("DELETE FROM post_user_posts WHERE author_id = ? AND post_id = ?",
             (uuid.UUID(post.author_id), post.post_id)),
            ("DELETE FROM post_likes WHERE post_id = ?", (post.post_id,)),
            ("DELETE FROM post_likers WHERE post_id = ?", (post.post_id,)),
            ("DELETE FROM post_comments WHERE post_id = ?", (post.post_id,)),
            ("DELETE FROM post_comment_index WHERE post_id = ?", (post.post_id,)),
        ])

    async def count_user_posts(self, author_id: str) -> int:
        return await self._count("SELECT COUNT(*) AS count FROM post_user_posts "
                                 "WHERE author_id = ?", (uuid.UUID(author_id),))

    # The post_likes row is the truth: one per (post, user), written without a lightweight
    # transaction under the caller's lock (like_sets.py). Rows derived from it (likers list,
    # the user's liked set) are written with it and re-written by a retry.
