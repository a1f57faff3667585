"""CQL rows of comments: the comment, its index entry, replies and request-id claims."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from services.post.model import Claim, CommentRecord, CommentRef
from services.post.store.rows import Rows, mentions_of
from services.runtime.clock import utc
from services.runtime.cql import Row

_COMMENT_COLUMNS = ("post_id, parent_id, comment_id, author_id, text, mention_user_ids, "
                    "mention_usernames, create_time, published")


def _comment(row: Row) -> CommentRecord:
    return CommentRecord(
        comment_id=row["comment_id"], post_id=row["post_id"], parent_id=row["parent_id"],
        author_id=str(row["author_id"]), text=row["text"] or "",
        mentions=mentions_of(row["mention_user_ids"], row["mention_usernames"]),
        create_time=utc(row["create_time"]), published=bool(row["published"]))


class CommentRows(Rows):
    async def claim_comment_request(self, author_id: str, request_id: str, comment_id: int,
                                    fingerprint: str) -> Claim:
        return await self._claim("post_comment_requests", "comment_id", author_id, request_id,
                                 comment_id, fingerprint)

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
            "SELECT parent_id, author_id, deleted, WRITETIME(deleted) AS deleted_us "
            "FROM post_comment_index WHERE post_id = ? AND comment_id = ?",
            (post_id, comment_id))
        if not rows or rows[0]["author_id"] is None:
            return None
        row = rows[0]
        deleted = bool(row["deleted"])
        return CommentRef(comment_id, row["parent_id"], str(row["author_id"]), deleted,
                          row["deleted_us"] // 1000 if deleted and row["deleted_us"] else None)

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
