"""CQL storage of posts, likes and comments (schema in migrations/0001_posts.cql).

Rows that decide an outcome between concurrent callers (a request id, a media claim) are
written with lightweight transactions. A like is decided without one: its row is keyed by
(post, user), so writing it twice changes nothing, and one user's concurrent calls are
ordered by a lock in Redis (like_sets.py). Rows derived from a decision (the likers list,
the caller's liked set) are written with or after it and re-written by a retry, so a call
that failed half-way heals on its retry. Counts are the sizes of single partitions.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cassandra.query import BatchStatement, BatchType
from photomesh.common.v1.media_pb2 import MediaRef

from services.runtime.cql import CqlStore, Row, applied

# Clustering-key IN lists stay within ScyllaDB's default restriction (100).
IN_CHUNK = 100


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.fromtimestamp(0, UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(frozen=True)
class Mention:
    user_id: str
    username: str


@dataclass(frozen=True)
class PostRecord:
    post_id: int
    author_id: str
    caption: str
    hashtags: tuple[str, ...]
    mentions: tuple[Mention, ...]
    media: tuple[MediaRef, ...]
    create_time: datetime
    published: bool = False
    deleted: bool = False


@dataclass(frozen=True)
class CommentRecord:
    comment_id: int
    post_id: int
    parent_id: int
    author_id: str
    text: str
    mentions: tuple[Mention, ...]
    create_time: datetime
    published: bool = False


@dataclass(frozen=True)
class CommentRef:
    comment_id: int
    parent_id: int
    author_id: str
    deleted: bool


@dataclass(frozen=True)
class LikeRow:
    like_id: int
    user_id: str
    like_time: datetime


@dataclass(frozen=True)
class LikeState:
    """A post like's row: the like, whether its event went out, whether it is being
    removed (an unlike that has not finished)."""

    like: LikeRow
    published: bool
    unliked: bool


@dataclass(frozen=True)
class Claim:
    """The row a lightweight transaction wrote or found: `ours` when this call wrote it."""

    ours: bool
    target_id: int
    fingerprint: str


def _mentions(ids: Sequence[uuid.UUID] | None, names: Sequence[str] | None) -> tuple[Mention, ...]:
    return tuple(Mention(str(i), n) for i, n in zip(ids or (), names or (), strict=False))


def _post(row: Row) -> PostRecord:
    return PostRecord(
        post_id=row["post_id"], author_id=str(row["author_id"]), caption=row["caption"] or "",
        hashtags=tuple(row["hashtags"] or ()),
        mentions=_mentions(row["mention_user_ids"], row["mention_usernames"]),
        media=tuple(MediaRef.FromString(b) for b in row["media"] or ()),
        create_time=_utc(row["create_time"]), published=bool(row["published"]),
        deleted=row["deleted_at"] is not None)


def _comment(row: Row) -> CommentRecord:
    return CommentRecord(
        comment_id=row["comment_id"], post_id=row["post_id"], parent_id=row["parent_id"],
        author_id=str(row["author_id"]), text=row["text"] or "",
        mentions=_mentions(row["mention_user_ids"], row["mention_usernames"]),
        create_time=_utc(row["create_time"]), published=bool(row["published"]))


_POST_COLUMNS = ("post_id, author_id, caption, hashtags, mention_user_ids, mention_usernames, "
                 "media, create_time, published, deleted_at")
_COMMENT_COLUMNS = ("post_id, parent_id, comment_id, author_id, text, mention_user_ids, "
                    "mention_usernames, create_time, published")


class PostStore:
    def __init__(self, cql: CqlStore) -> None:
        self._cql = cql

    async def _batch(self, statements: Iterable[tuple[str, Sequence[object]]], *,
                     logged: bool = True) -> None:
        """One batch. Logged (the default): all of it is applied or, after a failure, none
        is visible to a retry that writes it again. Unlogged: for idempotent rows a retry
        re-writes anyway (no batch log round, about half the store's work)."""
        batch = BatchStatement(batch_type=BatchType.LOGGED if logged else BatchType.UNLOGGED)
        for cql, params in statements:
            batch.add(await self._cql.prepare(cql), params)
        await self._cql.execute(batch)

    async def _count(self, cql: str, params: Sequence[object]) -> int:
        rows = await self._cql.execute(cql, params)
        return int(rows[0]["count"]) if rows else 0

    # --- idempotency claims ----------------------------------------------------------------

    async def _claim(self, table: str, column: str, author_id: str, request_id: str,
                     target_id: int, fingerprint: str) -> Claim:
        rows = await self._cql.execute(
            f"INSERT INTO {table} (author_id, request_id, {column}, fingerprint) "
            f"VALUES (?, ?, ?, ?) IF NOT EXISTS",
            (uuid.UUID(author_id), request_id, target_id, fingerprint))
        if applied(rows):
            return Claim(True, target_id, fingerprint)
        return Claim(False, rows[0][column], rows[0]["fingerprint"] or "")

    async def claim_post_request(self, author_id: str, request_id: str, post_id: int,
                                 fingerprint: str) -> Claim:
        """Which post (author, request_id) creates: `post_id` if first, else the earlier."""
        return await self._claim("post_requests", "post_id", author_id, request_id, post_id,
                                 fingerprint)

    async def claim_comment_request(self, author_id: str, request_id: str, comment_id: int,
                                    fingerprint: str) -> Claim:
        return await self._claim("post_comment_requests", "comment_id", author_id, request_id,
                                 comment_id, fingerprint)

    async def claim_media(self, media_id: str, post_id: int, now: datetime) -> tuple[int, datetime]:
        """Attach `media_id` to `post_id` unless attached already; returns the owner post
        and when it claimed the item."""
        rows = await self._cql.execute(
            "INSERT INTO post_media_claims (media_id, post_id, claim_time) VALUES (?, ?, ?) "
            "IF NOT EXISTS", (media_id, post_id, now))
        if applied(rows):
            return post_id, now
        return rows[0]["post_id"], _utc(rows[0]["claim_time"])

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

    # --- posts -----------------------------------------------------------------------------

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

    # --- post likes ------------------------------------------------------------------------
    # The post_likes row is the truth: one per (post, user), written without a lightweight
    # transaction under the caller's lock (like_sets.py). Rows derived from it (likers list,
    # the user's liked set) are written with it and re-written by a retry.

    async def get_like(self, post_id: int, user_id: str) -> LikeState | None:
        rows = await self._cql.execute(
            "SELECT like_id, like_time, published, unliked FROM post_likes "
            "WHERE post_id = ? AND user_id = ?", (post_id, uuid.UUID(user_id)))
        if not rows or rows[0]["like_id"] is None:
            return None
        row = rows[0]
        return LikeState(LikeRow(row["like_id"], user_id, _utc(row["like_time"])),
                         published=bool(row["published"]), unliked=bool(row["unliked"]))

    def _like_rows(self, post_id: int, like: LikeRow) -> list[tuple[str, Sequence[object]]]:
        user = uuid.UUID(like.user_id)
        return [
            ("INSERT INTO post_likers (post_id, like_id, user_id, like_time) VALUES (?, ?, ?, ?)",
             (post_id, like.like_id, user, like.like_time)),
            ("INSERT INTO post_user_likes (user_id, post_id, like_time) VALUES (?, ?, ?)",
             (user, post_id, like.like_time)),
        ]

    async def insert_like(self, post_id: int, like: LikeRow) -> None:
        """The like and the rows derived from it, in one unlogged batch (a retry that finds
        the like row re-writes the others: `add_liker`)."""
        await self._batch([
            ("INSERT INTO post_likes (post_id, user_id, like_id, like_time, published, "
             "unliked) VALUES (?, ?, ?, ?, false, false)",
             (post_id, uuid.UUID(like.user_id), like.like_id, like.like_time)),
            *self._like_rows(post_id, like)], logged=False)

    async def insert_like_if_absent(self, post_id: int, like: LikeRow) -> LikeState | None:
        """Without Redis (no lock to serialise a user's calls): claim the like row with a
        lightweight transaction; the row found if there was one."""
        rows = await self._cql.execute(
            "INSERT INTO post_likes (post_id, user_id, like_id, like_time, published, unliked) "
            "VALUES (?, ?, ?, ?, false, false) IF NOT EXISTS",
            (post_id, uuid.UUID(like.user_id), like.like_id, like.like_time))
        if applied(rows):
            await self.add_liker(post_id, like)
            return None
        row = rows[0]
        return LikeState(LikeRow(row["like_id"], like.user_id, _utc(row["like_time"])),
                         published=bool(row["published"]), unliked=bool(row["unliked"]))

    async def add_liker(self, post_id: int, like: LikeRow) -> None:
        """The rows derived from a like (likers list, the user's liked set); idempotent."""
        await self._batch(self._like_rows(post_id, like), logged=False)

    async def mark_like_published(self, post_id: int, user_id: str) -> None:
        await self._cql.execute(
            "UPDATE post_likes SET published = true WHERE post_id = ? AND user_id = ?",
            (post_id, uuid.UUID(user_id)))

    async def mark_unliked(self, post_id: int, like: LikeRow) -> None:
        """The first step of an unlike: the like stops counting and leaves the likers list
        and the user's liked set; its row stays (marked) until the event is out."""
        user = uuid.UUID(like.user_id)
        await self._batch([
            ("UPDATE post_likes SET unliked = true WHERE post_id = ? AND user_id = ?",
             (post_id, user)),
            ("DELETE FROM post_likers WHERE post_id = ? AND like_id = ?", (post_id, like.like_id)),
            ("DELETE FROM post_user_likes WHERE user_id = ? AND post_id = ?", (user, post_id)),
        ], logged=False)

    async def delete_like(self, post_id: int, user_id: str) -> None:
        """The last step of an unlike (its event is out)."""
        await self._cql.execute("DELETE FROM post_likes WHERE post_id = ? AND user_id = ?",
                                (post_id, uuid.UUID(user_id)))

    async def like_members(self, post_id: int, page_size: int = 5000
                           ) -> AsyncIterator[list[tuple[str, str]]]:
        """Pages of (user id, like id) of the live likes of a post; ``?`` follows the id of
        a like whose event is not known to be out."""
        state = None
        while True:
            rows, state = await self._cql.execute_page(
                "SELECT user_id, like_id, published, unliked FROM post_likes WHERE post_id = ?",
                (post_id,), page_size=page_size, paging_state=state)
            yield [(str(r["user_id"]), f"{r['like_id']}{'' if r['published'] else '?'}")
                   for r in rows if not r["unliked"]]
            if not state:
                return

    async def liked_post_ids(self, user_id: str, post_ids: Sequence[int]) -> set[int]:
        """Which of `post_ids` the user liked: one partition, IN over the clustering key."""
        user = uuid.UUID(user_id)
        chunks = [list(post_ids[i:i + IN_CHUNK]) for i in range(0, len(post_ids), IN_CHUNK)]
        results = await asyncio.gather(*(self._cql.execute(
            "SELECT post_id FROM post_user_likes WHERE user_id = ? AND post_id IN ?",
            (user, chunk)) for chunk in chunks))
        return {r["post_id"] for rows in results for r in rows}

    async def list_likers(self, post_id: int, limit: int, before_like_id: int | None
                          ) -> list[LikeRow]:
        if before_like_id is None:
            rows = await self._cql.execute(
                "SELECT like_id, user_id, like_time FROM post_likers WHERE post_id = ? LIMIT ?",
                (post_id, limit))
        else:
            rows = await self._cql.execute(
                "SELECT like_id, user_id, like_time FROM post_likers WHERE post_id = ? "
                "AND like_id < ? LIMIT ?", (post_id, before_like_id, limit))
        return [LikeRow(r["like_id"], str(r["user_id"]), _utc(r["like_time"])) for r in rows]

    async def count_likes(self, post_id: int) -> int:
        """Live likes of a post (rows being unliked are not counted)."""
        total = await self._count("SELECT COUNT(*) AS count FROM post_likes WHERE post_id = ?",
                                  (post_id,))
        leaving = await self._count("SELECT COUNT(*) AS count FROM post_likes WHERE post_id = ? "
                                    "AND unliked = true ALLOW FILTERING", (post_id,))
        return total - leaving

    # --- comments --------------------------------------------------------------------------

    async def insert_comment(self, comment: CommentRecord) -> None:
        author = uuid.UUID(comment.author_id)
        await self._batch([
            (f"INSERT INTO post_comments ({_COMMENT_COLUMNS}) "
             f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, false)",
             (comment.post_id, comment.parent_id, comment.comment_id, author, comment.text,
              [uuid.UUID(m.user_id) for m in comment.mentions],
              [m.username for m in comment.mentions], comment.create_time)),
            ("INSERT INTO post_comment_index (post_id, comment_id, parent_id, author_id, "
             "deleted) VALUES (?, ?, ?, ?, false)",
             (comment.post_id, comment.comment_id, comment.parent_id, author)),
        ])

    async def mark_comment_published(self, comment: CommentRecord) -> None:
        await self._cql.execute(
            "UPDATE post_comments SET published = true WHERE post_id = ? AND parent_id = ? "
            "AND comment_id = ?", (comment.post_id, comment.parent_id, comment.comment_id))

    async def comment_ref(self, post_id: int, comment_id: int) -> CommentRef | None:
        """Where a comment is and who wrote it; also for deleted comments."""
        rows = await self._cql.execute(
            "SELECT parent_id, author_id, deleted FROM post_comment_index "
            "WHERE post_id = ? AND comment_id = ?", (post_id, comment_id))
        if not rows or rows[0]["author_id"] is None:
            return None
        row = rows[0]
        return CommentRef(comment_id, row["parent_id"], str(row["author_id"]),
                          bool(row["deleted"]))

    async def get_comment(self, post_id: int, comment_id: int) -> CommentRecord | None:
        ref = await self.comment_ref(post_id, comment_id)
        if ref is None or ref.deleted:
            return None
        rows = await self._cql.execute(
            f"SELECT {_COMMENT_COLUMNS} FROM post_comments WHERE post_id = ? AND parent_id = ? "
            f"AND comment_id = ?", (post_id, ref.parent_id, comment_id))
        return _comment(rows[0]) if rows and rows[0]["author_id"] is not None else None

    async def list_comments(self, post_id: int, parent_id: int, limit: int,
                            after_id: int | None) -> list[CommentRecord]:
        rows = await self._cql.execute(
            f"SELECT {_COMMENT_COLUMNS} FROM post_comments WHERE post_id = ? AND parent_id = ? "
            f"AND comment_id > ? LIMIT ?", (post_id, parent_id, after_id or 0, limit))
        return [_comment(r) for r in rows]

    async def reply_ids(self, post_id: int, parent_id: int) -> list[int]:
        rows = await self._cql.execute(
            "SELECT comment_id FROM post_comments WHERE post_id = ? AND parent_id = ?",
            (post_id, parent_id))
        return [r["comment_id"] for r in rows]

    async def delete_comment(self, comment: CommentRecord, reply_ids: Sequence[int]) -> None:
        """The comment, its replies and their likes, in one batch."""
        statements: list[tuple[str, Sequence[object]]] = [
            ("DELETE FROM post_comments WHERE post_id = ? AND parent_id = ? AND comment_id = ?",
             (comment.post_id, comment.parent_id, comment.comment_id)),
            ("UPDATE post_comment_index SET deleted = true WHERE post_id = ? AND comment_id = ?",
             (comment.post_id, comment.comment_id)),
            ("DELETE FROM post_comment_likes WHERE comment_id = ?", (comment.comment_id,)),
        ]
        if comment.parent_id == 0:
            statements.append(("DELETE FROM post_comments WHERE post_id = ? AND parent_id = ?",
                               (comment.post_id, comment.comment_id)))
        for reply in reply_ids:
            statements.append(("UPDATE post_comment_index SET deleted = true "
                               "WHERE post_id = ? AND comment_id = ?", (comment.post_id, reply)))
            statements.append(("DELETE FROM post_comment_likes WHERE comment_id = ?", (reply,)))
        await self._batch(statements)

    async def count_comments(self, post_id: int) -> int:
        return await self._count(
            "SELECT COUNT(*) AS count FROM post_comments WHERE post_id = ?", (post_id,))

    async def count_replies(self, post_id: int, parent_id: int) -> int:
        return await self._count("SELECT COUNT(*) AS count FROM post_comments "
                                 "WHERE post_id = ? AND parent_id = ?", (post_id, parent_id))

    # --- comment likes ---------------------------------------------------------------------

    async def insert_comment_like(self, comment_id: int, user_id: str, now: datetime) -> None:
        """Idempotent (written under the caller's lock, like_sets.py)."""
        await self._cql.execute(
            "INSERT INTO post_comment_likes (comment_id, user_id, like_time) VALUES (?, ?, ?)",
            (comment_id, uuid.UUID(user_id), now))

    async def insert_comment_like_if_absent(self, comment_id: int, user_id: str,
                                            now: datetime) -> None:
        """Without Redis (no lock): a lightweight transaction keeps the first like's time."""
        await self._cql.execute(
            "INSERT INTO post_comment_likes (comment_id, user_id, like_time) VALUES (?, ?, ?) "
            "IF NOT EXISTS", (comment_id, uuid.UUID(user_id), now))

    async def delete_comment_like(self, comment_id: int, user_id: str) -> None:
        await self._cql.execute(
            "DELETE FROM post_comment_likes WHERE comment_id = ? AND user_id = ?",
            (comment_id, uuid.UUID(user_id)))

    async def comment_like_members(self, comment_id: int, page_size: int = 5000
                                   ) -> AsyncIterator[list[tuple[str, str]]]:
        """Pages of (user id, "1") of the likes of a comment."""
        state = None
        while True:
            rows, state = await self._cql.execute_page(
                "SELECT user_id FROM post_comment_likes WHERE comment_id = ?", (comment_id,),
                page_size=page_size, paging_state=state)
            yield [(str(r["user_id"]), "1") for r in rows]
            if not state:
                return

    async def liked_comment_ids(self, user_id: str, comment_ids: Sequence[int]) -> set[int]:
        user = uuid.UUID(user_id)
        results = await asyncio.gather(*(self._cql.execute(
            "SELECT comment_id FROM post_comment_likes WHERE comment_id = ? AND user_id = ?",
            (cid, user)) for cid in comment_ids))
        return {r["comment_id"] for rows in results for r in rows}

    async def count_comment_likes(self, comment_id: int) -> int:
        return await self._count(
            "SELECT COUNT(*) AS count FROM post_comment_likes WHERE comment_id = ?",
            (comment_id,))
