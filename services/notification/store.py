"""CQL storage of inboxes (the truth the Redis copy is made from) and read watermarks.

Everything about one user's notifications lives in one partition of `notification_book`
(migrations/0002), so an activity is applied by one conditional batch, all or nothing:

* the one lightweight transaction per activity is that batch. Grouping is a
  read-modify-write of the group's state by concurrent workers; a compare-and-set on the
  group's version is what makes it exact (no lost actor, no count twice), and nothing
  cheaper in the CQL store gives a compare-and-set. Its other two conditions (the event
  not applied yet, the actor's counted-in mark as read) cost nothing more in the same
  Paxos round; when the batch is refused they return the rows as they are, so a retry
  needs no read of its own. The batch writes the group, the actor mark, the applied
  mark, the moved inbox entry and its position together, so a replay finds either all of
  it or none of it.
* the read watermark takes no lightweight transaction: it only ever rises, so it is
  written with the watermark itself as the write timestamp, and the store's
  last-write-wins keeps the highest one whatever the order the writes arrive in.

Reads before an apply are ordinary (LOCAL_QUORUM) reads: a state they miss (a Paxos
round accepted but not yet committed) makes the batch's condition fail, and the batch's
answer carries the current state.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cassandra.query import BatchStatement, BatchType

from services.notification.grouping import Change
from services.notification.model import Entry, Group, GroupState, Kind, Notification, Subject
from services.runtime.clock import ms_to_datetime
from services.runtime.cql import CqlStore, Row, applied

INBOX, POSITION, GROUP, ACTOR, EVENT = "i", "p", "g", "a", "e"
EVENT_TTL_SECONDS = 14 * 86400  # JetStream keeps events 7 days: replays come well within

_NOTIFICATION = ("notification_id, kind, actor_ids, actor_count, post_id, comment_id, "
                 "story_id, text_preview, thumbnail_url, activity_time")
_SET_NOTIFICATION = ", ".join(f"{c.strip()} = ?" for c in _NOTIFICATION.split(","))


def _ms(value: datetime) -> int:
    return int(value.replace(tzinfo=UTC).timestamp() * 1000)


def _values(n: Notification) -> tuple[Any, ...]:
    s = n.subject
    return (n.notification_id, int(n.kind), list(n.actor_ids), n.actor_count, s.post_id,
            s.comment_id, s.story_id, s.text_preview, s.thumbnail_url, ms_to_datetime(n.time_ms))


def _notification(r: Row) -> Notification:
    return Notification(
        int(r["notification_id"]), Kind(r["kind"]), tuple(r["actor_ids"] or ()),
        int(r["actor_count"]),
        Subject(int(r["post_id"] or 0), int(r["comment_id"] or 0), int(r["story_id"] or 0),
                r["text_preview"] or "", r["thumbnail_url"] or ""),
        _ms(r["activity_time"]))


def _actor_item(group_key: str, actor_id: str) -> str:
    return f"{group_key} {actor_id}"


class InboxStore:
    def __init__(self, cql: CqlStore, ttl_seconds: int = 90 * 86400) -> None:
        self._cql = cql
        self._ttl = ttl_seconds

    # --- applying an activity -----------------------------------------------------------

    async def state(self, user_id: str, group_key: str, actor_id: str, event_key: str
                    ) -> GroupState:
        """The group's state, the actor's counted-in mark and the event's applied mark:
        one read of three rows."""
        rows = await self._cql.execute(
            "SELECT section, item, sort_id, prev_sort_id, version, window_start, "
            f"{_NOTIFICATION} FROM notification_book WHERE user_id = ? AND "
            "(section, position, item) IN ((?, 0, ?), (?, 0, ?), (?, 0, ?))",
            (uuid.UUID(user_id), GROUP, group_key, ACTOR, _actor_item(group_key, actor_id),
             EVENT, event_key))
        return self._state(rows)

    @staticmethod
    def _state(rows: Sequence[Row]) -> GroupState:
        group, counted_in, applied_at = None, None, None
        for r in rows:
            section = r["section"]
            if section == GROUP and r["version"] is not None:
                group = Group(Entry(int(r["sort_id"]), int(r["version"]), _notification(r)),
                              int(r["prev_sort_id"] or 0), _ms(r["window_start"]))
            elif section == ACTOR and r["notification_id"] is not None:
                counted_in = int(r["notification_id"])
            elif section == EVENT:
                applied_at = int(r["sort_id"] or 0)
        return GroupState(group, counted_in, applied_at)

    async def apply(self, user_id: str, group_key: str, actor_id: str, event_key: str,
                    expected: GroupState, change: Change) -> tuple[bool, GroupState]:
        """Write `change` if the group is still as `expected` (and the event not applied):
        (True, the state now) — or (False, the state found instead)."""
        user, entry = uuid.UUID(user_id), change.entry
        n = entry.notification
        head = (entry.sort_id, change.group.prev_sort_id, entry.version,
                ms_to_datetime(change.group.window_start_ms), *_values(n))
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)  # one partition: atomic
        if expected.group is None:
            batch.add(await self._cql.prepare(
                "INSERT INTO notification_book (user_id, section, position, item, sort_id, "
                f"prev_sort_id, version, window_start, {_NOTIFICATION}) VALUES "
                "(?, 'g', 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS "
                "USING TTL ?"), (user, group_key, *head, self._ttl))
        else:
            batch.add(await self._cql.prepare(
                "UPDATE notification_book USING TTL ? SET sort_id = ?, prev_sort_id = ?, "
                f"version = ?, window_start = ?, {_SET_NOTIFICATION} WHERE user_id = ? AND "
                "section = 'g' AND position = 0 AND item = ? IF version = ?"),
                (self._ttl, *head, user, group_key, expected.group.entry.version))
        batch.add(await self._cql.prepare(
            "UPDATE notification_book USING TTL ? SET notification_id = ? WHERE user_id = ? "
            "AND section = 'a' AND position = 0 AND item = ? IF notification_id = ?"),
            (self._ttl, n.notification_id, user, _actor_item(group_key, actor_id),
             expected.actor_counted_in))
        batch.add(await self._cql.prepare(
            "INSERT INTO notification_book (user_id, section, position, item, sort_id) "
            "VALUES (?, 'e', 0, ?, ?) IF NOT EXISTS USING TTL ?"),
            (user, event_key, entry.sort_id, EVENT_TTL_SECONDS))
        if change.moved_from:
            batch.add(await self._cql.prepare(
                "DELETE FROM notification_book WHERE user_id = ? AND section = 'i' AND "
                "position = ? AND item = ''"), (user, change.moved_from))
        batch.add(await self._cql.prepare(
            "INSERT INTO notification_book (user_id, section, position, item, version, "
            f"{_NOTIFICATION}) VALUES (?, 'i', ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "USING TTL ?"), (user, entry.sort_id, entry.version, *_values(n), self._ttl))
        batch.add(await self._cql.prepare(
            "INSERT INTO notification_book (user_id, section, position, item, sort_id) "
            "VALUES (?, 'p', ?, '', ?) USING TTL ?"),
            (user, n.notification_id, entry.sort_id, self._ttl))
        rows = await self._cql.execute(batch)
        if applied(rows):
            return True, GroupState(change.group, n.notification_id, entry.sort_id)
        return False, self._state(rows)

    # --- reading the inbox --------------------------------------------------------------

    async def page(self, user_id: str, below: int | None, above: int, limit: int
                   ) -> list[Entry]:
        """Entries with `above` < sort_id < `below` (no upper bound when None), newest
        first."""
        rows = await self._cql.execute(
            f"SELECT position, version, {_NOTIFICATION} FROM notification_book "
            "WHERE user_id = ? AND section = 'i' AND position < ? AND position > ? LIMIT ?",
            (uuid.UUID(user_id), below if below is not None else 2**63 - 1, above, limit))
        return [Entry(int(r["position"]), int(r["version"] or 0), _notification(r))
                for r in rows]

    async def entry(self, user_id: str, sort_id: int) -> Entry | None:
        """The entry at `sort_id`, if one is there."""
        found = await self.page(user_id, sort_id + 1, sort_id - 1, 1)
        return found[0] if found and found[0].sort_id == sort_id else None

    async def count_after(self, user_id: str, sort_id: int) -> int:
        rows = await self._cql.execute(
            "SELECT COUNT(*) AS n FROM notification_book WHERE user_id = ? AND section = 'i' "
            "AND position > ?", (uuid.UUID(user_id), sort_id))
        return int(rows[0]["n"]) if rows else 0

    async def position(self, user_id: str, notification_id: int) -> int | None:
        rows = await self._cql.execute(
            "SELECT sort_id FROM notification_book WHERE user_id = ? AND section = 'p' AND "
            "position = ? AND item = ''", (uuid.UUID(user_id), notification_id))
        return int(rows[0]["sort_id"]) if rows and rows[0]["sort_id"] is not None else None

    # --- read watermark -----------------------------------------------------------------

    async def read_mark(self, user_id: str) -> int:
        rows = await self._cql.execute(
            "SELECT read_up_to FROM notification_read_marks WHERE user_id = ?",
            (uuid.UUID(user_id),))
        return int(rows[0]["read_up_to"]) if rows and rows[0]["read_up_to"] is not None else 0

    async def raise_read_mark(self, user_id: str, sort_id: int) -> int:
        """Move the watermark up to `sort_id` (never down); returns the watermark. The
        write timestamp is the watermark (ids are larger than any clock's microseconds,
        so this also wins over marks written by earlier versions of this code)."""
        await self._cql.execute(
            "UPDATE notification_read_marks USING TIMESTAMP ? SET read_up_to = ? "
            "WHERE user_id = ?", (sort_id, sort_id, uuid.UUID(user_id)))
        return max(sort_id, await self.read_mark(user_id))
