"""CQL storage of threads (`message_threads`).

A thread is one row with small collections (at most 32 members). Creating one is a
lightweight transaction (``IF NOT EXISTS``: a one-to-one thread's id is derived from its
pair, so two opens at once make one row); every change of its members or name is a
compare-and-set on `version`, so two admins adding members at once never pass the cap.
Read marks and acceptance are single-element writes that need no transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from services.message.model import Kind, Role, ThreadRecord
from services.runtime.cql import CqlStore, Row, applied

_COLUMNS = ("thread_id, kind, name, creator_id, create_time, members, accepted, read_marks, "
            "gone, version")


def _record(r: Row) -> ThreadRecord:
    return ThreadRecord(
        str(r["thread_id"]), Kind(r["kind"]), r["name"] or "", str(r["creator_id"]),
        r["create_time"], {str(k): Role(v) for k, v in (r["members"] or {}).items()},
        {str(u) for u in r["accepted"] or ()},
        {str(k): int(v) for k, v in (r["read_marks"] or {}).items()},
        {str(u) for u in r["gone"] or ()}, int(r["version"] or 0))


def _uuids(values: Iterable[str]) -> set[uuid.UUID]:
    return {uuid.UUID(v) for v in values}


class ThreadRows:
    def __init__(self, cql: CqlStore) -> None:
        self._cql = cql

    async def create(self, t: ThreadRecord) -> bool:
        """Insert `t` unless its id exists; whether it was inserted."""
        rows = await self._cql.execute(
            f"INSERT INTO message_threads ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "IF NOT EXISTS",
            (uuid.UUID(t.thread_id), int(t.kind), t.name, uuid.UUID(t.creator_id),
             t.create_time, {uuid.UUID(k): int(v) for k, v in t.members.items()},
             _uuids(t.accepted), {}, set(), 0))
        return applied(rows)

    async def get(self, thread_id: str) -> ThreadRecord | None:
        rows = await self._cql.execute(
            f"SELECT {_COLUMNS} FROM message_threads WHERE thread_id = ?",
            (uuid.UUID(thread_id),))
        return _record(rows[0]) if rows else None

    async def get_many(self, thread_ids: Sequence[str]) -> dict[str, ThreadRecord]:
        if not thread_ids:
            return {}
        rows = await self._cql.execute(
            f"SELECT {_COLUMNS} FROM message_threads WHERE thread_id IN ?",
            ([uuid.UUID(t) for t in thread_ids],))
        return {str(r["thread_id"]): _record(r) for r in rows}

    async def replace_members(self, t: ThreadRecord, name: str, members: dict[str, Role],
                              gone: set[str]) -> bool:
        """Set the name, members and gone users if the row is still at `t.version`."""
        rows = await self._cql.execute(
            "UPDATE message_threads SET name = ?, members = ?, gone = ?, version = ? "
            "WHERE thread_id = ? IF version = ?",
            (name, {uuid.UUID(k): int(v) for k, v in members.items()}, _uuids(gone),
             t.version + 1, uuid.UUID(t.thread_id), t.version))
        return applied(rows)

    async def accept(self, thread_id: str, user_ids: Iterable[str]) -> None:
        await self._cql.execute(
            "UPDATE message_threads SET accepted = accepted + ? WHERE thread_id = ?",
            (_uuids(user_ids), uuid.UUID(thread_id)))

    async def unaccept(self, thread_id: str, user_id: str) -> None:
        await self._cql.execute(
            "UPDATE message_threads SET accepted = accepted - ? WHERE thread_id = ?",
            ({uuid.UUID(user_id)}, uuid.UUID(thread_id)))

    async def mark_read(self, thread_id: str, user_id: str, message_id: int) -> None:
        """Raise the member's read mark (written with the mark as its write time, so the
        highest mark wins whatever order writes arrive in)."""
        await self._cql.execute(
            f"UPDATE message_threads USING TIMESTAMP {int(message_id)} "
            "SET read_marks[?] = ? WHERE thread_id = ?",
            (uuid.UUID(user_id), message_id, uuid.UUID(thread_id)))
