"""CQL storage of messages (`messages`, `message_sends`, `message_hidden`).

Messages are partitioned by (thread, bucket): the bucket is the message id's day count
divided by `bucket_days`, so a long-lived thread is many bounded partitions. A page reads
buckets newest first, down to the thread's first one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from services.message.model import MessageRecord
from services.runtime.cql import CqlStore, Row, applied
from services.runtime.ids import id_time_ms

DAY_MS = 86_400_000


def _record(thread_id: str, r: Row) -> MessageRecord:
    author = r["shared_post_author_id"]
    return MessageRecord(thread_id, int(r["message_id"]), str(r["sender_id"]),
                         r["body"] or b"", str(author) if author else None, bool(r["unsent"]))


class MessageRows:
    def __init__(self, cql: CqlStore, bucket_days: int) -> None:
        self._cql = cql
        self._bucket_ms = bucket_days * DAY_MS

    def bucket_of(self, message_id: int) -> int:
        return id_time_ms(message_id) // self._bucket_ms

    def bucket_at(self, unix_ms: int) -> int:
        return unix_ms // self._bucket_ms

    async def insert(self, m: MessageRecord) -> None:
        await self._cql.execute(
            "INSERT INTO messages (thread_id, bucket, message_id, sender_id, body, "
            "shared_post_author_id, unsent) VALUES (?, ?, ?, ?, ?, ?, false)",
            (uuid.UUID(m.thread_id), self.bucket_of(m.message_id), m.message_id,
             uuid.UUID(m.sender_id), m.body,
             uuid.UUID(m.shared_post_author_id) if m.shared_post_author_id else None))

    async def get(self, thread_id: str, message_id: int) -> MessageRecord | None:
        rows = await self._cql.execute(
            "SELECT message_id, sender_id, body, shared_post_author_id, unsent FROM messages "
            "WHERE thread_id = ? AND bucket = ? AND message_id = ?",
            (uuid.UUID(thread_id), self.bucket_of(message_id), message_id))
        return _record(thread_id, rows[0]) if rows else None

    async def unsend(self, thread_id: str, message_id: int) -> None:
        await self._cql.execute(
            "UPDATE messages SET unsent = true, body = null, shared_post_author_id = null "
            "WHERE thread_id = ? AND bucket = ? AND message_id = ?",
            (uuid.UUID(thread_id), self.bucket_of(message_id), message_id))

    async def before(self, thread_id: str, bucket: int, below: int | None, limit: int
                     ) -> list[MessageRecord]:
        """Up to `limit` messages of one bucket, newest first, with ids below `below`."""
        if below is None:
            rows = await self._cql.execute(
                "SELECT message_id, sender_id, body, shared_post_author_id, unsent "
                "FROM messages WHERE thread_id = ? AND bucket = ? LIMIT ?",
                (uuid.UUID(thread_id), bucket, limit))
        else:
            rows = await self._cql.execute(
                "SELECT message_id, sender_id, body, shared_post_author_id, unsent "
                "FROM messages WHERE thread_id = ? AND bucket = ? AND message_id < ? "
                "LIMIT ?", (uuid.UUID(thread_id), bucket, below, limit))
        return [_record(thread_id, r) for r in rows]

    # --- idempotent sends -----------------------------------------------------------------

    async def claim_send(self, sender_id: str, request_id: str, thread_id: str,
                         message_id: int) -> tuple[str, int]:
        """Bind `request_id` to (`thread_id`, `message_id`) unless it is bound already;
        the binding that holds."""
        rows = await self._cql.execute(
            "INSERT INTO message_sends (sender_id, request_id, thread_id, message_id) "
            "VALUES (?, ?, ?, ?) IF NOT EXISTS",
            (uuid.UUID(sender_id), request_id, uuid.UUID(thread_id), message_id))
        if applied(rows):
            return thread_id, message_id
        return str(rows[0]["thread_id"]), int(rows[0]["message_id"])

    # --- deleted for one user ---------------------------------------------------------------

    async def hide(self, user_id: str, thread_id: str, message_id: int) -> None:
        await self._cql.execute(
            "INSERT INTO message_hidden (user_id, thread_id, message_id) VALUES (?, ?, ?)",
            (uuid.UUID(user_id), uuid.UUID(thread_id), message_id))

    async def hidden(self, user_id: str, thread_id: str, message_ids: Sequence[int]
                     ) -> set[int]:
        if not message_ids:
            return set()
        rows = await self._cql.execute(
            "SELECT message_id FROM message_hidden WHERE user_id = ? AND thread_id = ? "
            "AND message_id IN ?", (uuid.UUID(user_id), uuid.UUID(thread_id),
                                    list(message_ids)))
        return {int(r["message_id"]) for r in rows}
