"""CQL storage of each member's inbox (`message_inbox`, `message_inbox_order`).

An entry is moved to a later sort id by a compare-and-set on the sort id it had, so two
workers handling two messages of one thread at once leave the later one in front; its new
order row is written next and the one it had deleted. A reader meeting an order row whose
entry has moved on skips it and deletes it; an entry whose new order row a crash kept from
being written gets it when the event is redelivered (the worker writes it again for an
entry already at that sort id).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from services.message.model import Folder, InboxEntry
from services.runtime.cql import CqlStore, Row, applied

_COLUMNS = "thread_id, folder, sort_id, last_message, unread_ids, read_up_to"


def _entry(user_id: str, r: Row) -> InboxEntry:
    return InboxEntry(user_id, str(r["thread_id"]), Folder(r["folder"] or Folder.INBOX),
                      int(r["sort_id"] or 0), r["last_message"],
                      {int(i) for i in r["unread_ids"] or ()}, int(r["read_up_to"] or 0))


class InboxRows:
    def __init__(self, cql: CqlStore) -> None:
        self._cql = cql

    async def get(self, user_id: str, thread_id: str) -> InboxEntry | None:
        rows = await self._cql.execute(
            f"SELECT {_COLUMNS} FROM message_inbox WHERE user_id = ? AND thread_id = ?",
            (uuid.UUID(user_id), uuid.UUID(thread_id)))
        return _entry(user_id, rows[0]) if rows else None

    async def get_many(self, user_id: str, thread_ids: Sequence[str]) -> dict[str, InboxEntry]:
        if not thread_ids:
            return {}
        rows = await self._cql.execute(
            f"SELECT {_COLUMNS} FROM message_inbox WHERE user_id = ? AND thread_id IN ?",
            (uuid.UUID(user_id), [uuid.UUID(t) for t in thread_ids]))
        return {str(r["thread_id"]): _entry(user_id, r) for r in rows}

    async def all(self, user_id: str) -> list[InboxEntry]:
        rows = await self._cql.execute(
            f"SELECT {_COLUMNS} FROM message_inbox WHERE user_id = ?", (uuid.UUID(user_id),))
        return [_entry(user_id, r) for r in rows]

    async def create(self, e: InboxEntry) -> bool:
        rows = await self._cql.execute(
            f"INSERT INTO message_inbox (user_id, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "IF NOT EXISTS",
            (uuid.UUID(e.user_id), uuid.UUID(e.thread_id), int(e.folder), e.sort_id,
             e.last_message, e.unread_ids, e.read_up_to))
        if applied(rows):
            await self.put_order(e.user_id, e.folder, e.sort_id, e.thread_id)
        return applied(rows)

    async def advance(self, e: InboxEntry, folder: Folder, sort_id: int,
                      last_message: bytes | None) -> bool:
        """Move the entry to `sort_id` (and `folder`) if it is still at `e.sort_id`."""
        rows = await self._cql.execute(
            "UPDATE message_inbox SET folder = ?, sort_id = ?, last_message = ? "
            "WHERE user_id = ? AND thread_id = ? IF sort_id = ?",
            (int(folder), sort_id, last_message, uuid.UUID(e.user_id), uuid.UUID(e.thread_id),
             e.sort_id))
        if not applied(rows):
            return False
        await self.put_order(e.user_id, folder, sort_id, e.thread_id)
        if (e.folder, e.sort_id) != (folder, sort_id):
            await self.drop_order(e.user_id, e.folder, e.sort_id, e.thread_id)
        return True

    async def set_last(self, e: InboxEntry, last_message: bytes | None) -> None:
        await self._cql.execute(
            "UPDATE message_inbox SET last_message = ? WHERE user_id = ? AND thread_id = ?",
            (last_message, uuid.UUID(e.user_id), uuid.UUID(e.thread_id)))

    async def add_unread(self, user_id: str, thread_id: str, message_id: int) -> None:
        await self._cql.execute(
            "UPDATE message_inbox SET unread_ids = unread_ids + ? WHERE user_id = ? "
            "AND thread_id = ?", ({message_id}, uuid.UUID(user_id), uuid.UUID(thread_id)))

    async def drop_unread(self, user_id: str, thread_id: str, message_ids: set[int]) -> None:
        if message_ids:
            await self._cql.execute(
                "UPDATE message_inbox SET unread_ids = unread_ids - ? WHERE user_id = ? "
                "AND thread_id = ?", (message_ids, uuid.UUID(user_id), uuid.UUID(thread_id)))

    async def mark_read(self, user_id: str, thread_id: str, up_to: int) -> None:
        await self._cql.execute(
            "UPDATE message_inbox SET read_up_to = ? WHERE user_id = ? AND thread_id = ?",
            (up_to, uuid.UUID(user_id), uuid.UUID(thread_id)))

    async def move(self, e: InboxEntry, folder: Folder) -> None:
        await self._cql.execute(
            "UPDATE message_inbox SET folder = ? WHERE user_id = ? AND thread_id = ?",
            (int(folder), uuid.UUID(e.user_id), uuid.UUID(e.thread_id)))
        await self.put_order(e.user_id, folder, e.sort_id, e.thread_id)
        if folder != e.folder:
            await self.drop_order(e.user_id, e.folder, e.sort_id, e.thread_id)

    async def delete(self, e: InboxEntry) -> None:
        await self._cql.execute(
            "DELETE FROM message_inbox WHERE user_id = ? AND thread_id = ?",
            (uuid.UUID(e.user_id), uuid.UUID(e.thread_id)))
        await self.drop_order(e.user_id, e.folder, e.sort_id, e.thread_id)

    # --- order ----------------------------------------------------------------------------

    async def put_order(self, user_id: str, folder: Folder, sort_id: int,
                        thread_id: str) -> None:
        await self._cql.execute(
            "INSERT INTO message_inbox_order (user_id, folder, sort_id, thread_id) "
            "VALUES (?, ?, ?, ?)", (uuid.UUID(user_id), int(folder), sort_id,
                                    uuid.UUID(thread_id)))

    async def drop_order(self, user_id: str, folder: Folder, sort_id: int,
                         thread_id: str) -> None:
        await self._cql.execute(
            "DELETE FROM message_inbox_order WHERE user_id = ? AND folder = ? AND sort_id = ? "
            "AND thread_id = ?", (uuid.UUID(user_id), int(folder), sort_id,
                                  uuid.UUID(thread_id)))

    async def order(self, user_id: str, folder: Folder, after: tuple[int, str] | None,
                    limit: int) -> list[tuple[int, str]]:
        """Up to `limit` (sort id, thread id) of a folder, latest first, after `after`."""
        if after is None:
            rows = await self._cql.execute(
                "SELECT sort_id, thread_id FROM message_inbox_order WHERE user_id = ? "
                "AND folder = ? LIMIT ?", (uuid.UUID(user_id), int(folder), limit))
        else:
            rows = await self._cql.execute(
                "SELECT sort_id, thread_id FROM message_inbox_order WHERE user_id = ? "
                "AND folder = ? AND (sort_id, thread_id) < (?, ?) LIMIT ?",
                (uuid.UUID(user_id), int(folder), after[0], uuid.UUID(after[1]), limit))
        return [(int(r["sort_id"]), str(r["thread_id"])) for r in rows]
