"""The inbox: applying activities (the worker), and its read state — the Redis copy kept
warm, the unread count, the read watermark (the service).

Applying an activity: one CQL read of its group's state, the grouping rule
(grouping.py), one conditional batch (store.py; retried from the state it answers with
when another worker got there first), then one Redis script that writes the entry into
the user's cached inbox if it is cached, counts the unread notifications and publishes the
entry on the user's stream channel (cache.py). A replayed event changes nothing in the
store; it writes its entry into Redis again (a no-op unless the first attempt stopped in
between). Within a process one user's activities are applied one at a time (they share
one Paxos partition: racing them would only make the store retry).

Read state: one watermark per user; a notification is read when its position is at or
below the watermark. The unread count is counted in the cached inbox when that holds
every unread notification (exact), else it is a counter kept beside it (dropped whenever
it may be wrong, recounted from the CQL store). While Redis is unreachable the count and
the marks are served by the CQL store alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.exceptions import RedisError

from services.notification import grouping
from services.notification.cache import InboxCache
from services.notification.model import Activity, Entry
from services.notification.store import InboxStore
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound
from services.runtime.ids import MAX_ID, Snowflake, min_id_at

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 16


@dataclass(frozen=True)
class Delivered:
    """An activity as the recipient's inbox now holds it."""

    entry: Entry
    unread_count: int | None  # None: not known without a CQL count


@dataclass(frozen=True)
class Refilled:
    """The newest entries and the watermark, as the CQL store had them for a refill."""

    entries: list[Entry]
    complete: bool
    watermark: int


def _now_ms() -> int:
    return int(time.time() * 1000)


class Inbox:
    def __init__(self, store: InboxStore, cache: InboxCache, ids: Snowflake,
                 group_window_seconds: int = 6 * 3600) -> None:
        self.store = store
        self.cache = cache
        self._ids = ids
        self._window_ms = group_window_seconds * 1000
        self._user_locks: dict[str, tuple[asyncio.Lock, int]] = {}

    # --- writing (the worker) -----------------------------------------------------------

    async def add(self, activity: Activity) -> Delivered | None:
        """Apply one activity; None if it was applied before (a replay)."""
        async with self._one_at_a_time(activity.recipient_id):
            return await self._add(activity)

    @asynccontextmanager
    async def _one_at_a_time(self, user_id: str) -> AsyncIterator[None]:
        lock, users = self._user_locks.get(user_id) or (asyncio.Lock(), 0)
        self._user_locks[user_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._user_locks[user_id]
            if users == 1:
                del self._user_locks[user_id]
            else:
                self._user_locks[user_id] = (lock, users - 1)

    async def _add(self, a: Activity) -> Delivered | None:
        user = a.recipient_id
        state = await self.store.state(user, a.group_key, a.actor_id, a.event_key)
        for _ in range(MAX_ATTEMPTS):
            if state.applied_at is not None:
                await self._replayed(user, state.applied_at)
                return None
            change = grouping.apply(state, a, self._ids.next_id(), self._window_ms)
            done, state = await self.store.apply(user, a.group_key, a.actor_id, a.event_key,
                                                 state, change)
            if done:
                break
        else:
            raise RuntimeError(f"group {a.group_key} of {user} kept changing; retry later")
        count = await self.cache.apply(user, change.entry, change.moved_from, publish=True)
        return Delivered(change.entry, count)

    async def _replayed(self, user_id: str, sort_id: int) -> None:
        """Write the replayed event's entry into Redis again, if it is still where the
        event placed it (if not, a later activity moved it and wrote it itself)."""
        entry = await self.store.entry(user_id, sort_id)
        if entry is not None:
            await self.cache.apply(user_id, entry, 0, publish=False, replay=True)

    # --- the cached copy ----------------------------------------------------------------

    async def refill(self, user_id: str) -> Refilled:
        """Load the user's newest entries and watermark from the CQL store into Redis."""
        await self.cache.activate(user_id)
        entries, watermark = await asyncio.gather(
            self.store.page(user_id, None, 0, self.cache.cap),
            self.store.read_mark(user_id))
        complete = len(entries) < self.cache.cap
        await self.cache.fill(user_id, entries, complete, watermark)
        return Refilled(entries, complete, watermark)

    async def warm(self, user_id: str) -> None:
        """Make sure the user's inbox is cached (the worker then counts exactly)."""
        state, _ = await self.cache.unread(user_id)
        if state == 0:
            await self.refill(user_id)

    # --- read state ---------------------------------------------------------------------

    async def unread_count(self, user_id: str) -> int:
        try:
            state, value = await self.cache.unread(user_id)
            if state == 0:
                await self.refill(user_id)
                state, value = await self.cache.unread(user_id)
        except RedisError as exc:
            log.warning("unread count: Redis unavailable, counting in CQL: %r", exc)
            return await self._count(user_id, None, keep=False)
        if state == 1 and value is not None:
            return value
        return await self._count(user_id, value)

    async def _count(self, user_id: str, watermark: int | None, keep: bool = True) -> int:
        """Count in the CQL store (and keep the count in Redis)."""
        if watermark is None:
            watermark = await self.store.read_mark(user_id)
        count = await self.store.count_after(user_id, watermark)
        if keep:
            await self.cache.set_unread(user_id, count)
        return count

    async def mark_read(self, user_id: str, *, up_to_ms: int | None = None,
                        up_to_notification_id: int | None = None) -> int:
        """Raise the watermark; returns the unread count left."""
        latest = min_id_at(_now_ms() + 1) - 1  # nothing later can be read yet
        if up_to_notification_id is not None:
            if up_to_notification_id > MAX_ID:
                raise InvalidArgument(FieldViolation(
                    "up_to_notification_id", "not a notification id (ids are positive 63-bit "
                                             "numbers)"))
            position = await self.cache.position(user_id, up_to_notification_id) or \
                await self.store.position(user_id, up_to_notification_id)
            if position is None:
                raise NotFound("no such notification", reason="NOTIFICATION_NOT_FOUND",
                               metadata={"notification_id": str(up_to_notification_id)})
            mark = position
        elif up_to_ms is not None:
            mark = min(latest, max(0, min_id_at(up_to_ms + 1) - 1))
        else:
            mark = latest
        watermark = await self.store.raise_read_mark(user_id, mark)
        try:
            left = await self.cache.raise_mark(user_id, watermark)
        except RedisError as exc:  # the mark is stored; the next refill brings it to Redis
            log.warning("mark read: Redis unavailable: %r", exc)
            return await self._count(user_id, watermark, keep=False)
        return left if left is not None else await self._count(user_id, watermark)
