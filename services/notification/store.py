"""CQL storage of inboxes, notification groups and read watermarks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from cassandra import ConsistencyLevel
from cassandra.query import BatchStatement, BatchType
from photomesh.notification.v1 import notification_service_pb2 as pb

from services.runtime.cql import CqlStore, applied


@dataclass(frozen=True)
class Group:
    """The open notification of one (recipient, group key)."""

    notification_id: int
    sort_id: int
    prev_sort_id: int
    window_start_ms: int
    version: int
    last_event_key: str
    data: pb.Notification


@dataclass(frozen=True)
class Entry:
    sort_id: int
    data: pb.Notification


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class InboxStore:
    def __init__(self, cql: CqlStore, ttl_seconds: int = 90 * 86400) -> None:
        self._cql = cql
        self._ttl = ttl_seconds

    # --- groups (lightweight transactions only) -------------------------------------------

    async def group(self, user_id: str, group_key: str) -> Group | None:
        stmt = await self._cql.prepare(
            "SELECT notification_id, sort_id, prev_sort_id, window_start, version, "
            "last_event_key, data FROM notification_groups WHERE user_id = ? AND group_key = ?")
        bound = stmt.bind((uuid.UUID(user_id), group_key))
        bound.consistency_level = ConsistencyLevel.LOCAL_SERIAL  # see LWT results
        rows = await self._cql.execute(bound)
        if not rows or rows[0]["data"] is None:
            return None
        r = rows[0]
        return Group(int(r["notification_id"]), int(r["sort_id"]), int(r["prev_sort_id"] or 0),
                     int(r["window_start"].replace(tzinfo=UTC).timestamp() * 1000),
                     int(r["version"]), r["last_event_key"] or "",
                     pb.Notification.FromString(r["data"]))

    async def put_group(self, user_id: str, group_key: str, expected_version: int | None,
                        notification_id: int, sort_id: int, prev_sort_id: int,
                        window_start_ms: int, event_key: str, data: pb.Notification) -> bool:
        """Write the group if it is still at `expected_version` (None: absent)."""
        values = (notification_id, sort_id, prev_sort_id, _ts(window_start_ms),
                  event_key, data.SerializeToString())
        if expected_version is None:
            rows = await self._cql.execute(
                "INSERT INTO notification_groups (notification_id, sort_id, prev_sort_id, "
                "window_start, last_event_key, data, version, user_id, group_key) "
                "VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?) IF NOT EXISTS USING TTL ?",
                (*values, uuid.UUID(user_id), group_key, self._ttl))
        else:
            rows = await self._cql.execute(
                "UPDATE notification_groups USING TTL ? SET notification_id = ?, sort_id = ?, "
                "prev_sort_id = ?, window_start = ?, last_event_key = ?, data = ?, "
                "version = ? WHERE user_id = ? AND group_key = ? IF version = ?",
                (self._ttl, *values, expected_version + 1, uuid.UUID(user_id), group_key,
                 expected_version))
        return applied(rows)

    async def counted(self, user_id: str, group_key: str, notification_id: int,
                      actor_id: str) -> bool:
        rows = await self._cql.execute(
            "SELECT actor_id FROM notification_group_actors WHERE user_id = ? AND "
            "group_key = ? AND notification_id = ? AND actor_id = ?",
            (uuid.UUID(user_id), group_key, notification_id, uuid.UUID(actor_id)))
        return bool(rows)

    # --- the inbox ------------------------------------------------------------------------

    async def place(self, user_id: str, group_key: str, actor_id: str, event_key: str,
                    sort_id: int, prev_sort_id: int, data: pb.Notification) -> None:
        """In one logged batch: place the notification at `sort_id` (removing it from
        `prev_sort_id`, 0: none), count the actor in its group, and mark the event
        applied (so a replay finds either all of it or none)."""
        user = uuid.UUID(user_id)
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        if prev_sort_id and prev_sort_id != sort_id:
            batch.add(await self._cql.prepare(
                "DELETE FROM notification_inbox WHERE user_id = ? AND sort_id = ?"),
                (user, prev_sort_id))
        batch.add(await self._cql.prepare(
            "INSERT INTO notification_inbox (user_id, sort_id, notification_id, data) "
            "VALUES (?, ?, ?, ?) USING TTL ?"),
            (user, sort_id, data.notification_id, data.SerializeToString(), self._ttl))
        batch.add(await self._cql.prepare(
            "INSERT INTO notification_positions (user_id, notification_id, sort_id) "
            "VALUES (?, ?, ?) USING TTL ?"), (user, data.notification_id, sort_id, self._ttl))
        batch.add(await self._cql.prepare(
            "INSERT INTO notification_group_actors (user_id, group_key, notification_id, "
            "actor_id) VALUES (?, ?, ?, ?) USING TTL ?"),
            (user, group_key, data.notification_id, uuid.UUID(actor_id), self._ttl))
        batch.add(await self._cql.prepare(
            "INSERT INTO notification_events_applied (user_id, event_key) VALUES (?, ?)"),
            (user, event_key))
        await self._cql.execute(batch)

    async def page(self, user_id: str, after_sort_id: int, page_size: int,
                   paging_state: bytes | None) -> tuple[list[Entry], bytes | None]:
        """Entries with sort_id > `after_sort_id`, latest first."""
        rows, state = await self._cql.execute_page(
            "SELECT sort_id, data FROM notification_inbox WHERE user_id = ? AND sort_id > ?",
            (uuid.UUID(user_id), after_sort_id), page_size=page_size,
            paging_state=paging_state)
        return [Entry(int(r["sort_id"]), pb.Notification.FromString(r["data"]))
                for r in rows], state

    async def count_after(self, user_id: str, sort_id: int) -> int:
        rows = await self._cql.execute(
            "SELECT COUNT(*) AS n FROM notification_inbox WHERE user_id = ? AND sort_id > ?",
            (uuid.UUID(user_id), sort_id))
        return int(rows[0]["n"]) if rows else 0

    async def position(self, user_id: str, notification_id: int) -> int | None:
        rows = await self._cql.execute(
            "SELECT sort_id FROM notification_positions WHERE user_id = ? AND "
            "notification_id = ?", (uuid.UUID(user_id), notification_id))
        return int(rows[0]["sort_id"]) if rows else None

    # --- replays --------------------------------------------------------------------------

    async def was_applied(self, user_id: str, event_key: str) -> bool:
        rows = await self._cql.execute(
            "SELECT event_key FROM notification_events_applied WHERE user_id = ? AND "
            "event_key = ?", (uuid.UUID(user_id), event_key))
        return bool(rows)

    # --- read watermark (lightweight transactions only) -----------------------------------

    async def read_mark(self, user_id: str) -> int:
        rows = await self._cql.execute(
            "SELECT read_up_to FROM notification_read_marks WHERE user_id = ?",
            (uuid.UUID(user_id),))
        return int(rows[0]["read_up_to"]) if rows and rows[0]["read_up_to"] is not None else 0

    async def raise_read_mark(self, user_id: str, sort_id: int) -> int:
        """Move the watermark up to `sort_id` (never down); returns the watermark."""
        user = uuid.UUID(user_id)
        for _ in range(20):
            rows = await self._cql.execute(
                "INSERT INTO notification_read_marks (user_id, read_up_to) VALUES (?, ?) "
                "IF NOT EXISTS", (user, sort_id))
            if applied(rows):
                return sort_id
            current = int(rows[0]["read_up_to"])
            if current >= sort_id:
                return current
            rows = await self._cql.execute(
                "UPDATE notification_read_marks SET read_up_to = ? WHERE user_id = ? "
                "IF read_up_to = ?", (sort_id, user, current))
            if applied(rows):
                return sort_id
        raise RuntimeError("read watermark kept changing; retry")
