"""Inbox rules: grouping repeats, replays, the read watermark and the unread count.

Grouping: activities of one type on one subject for one recipient (one group key) within
the group window join one notification ("alice and 3 others liked your post"): its actor
count is the number of distinct actors, its actors the latest three, and it moves to the
top of the inbox as unread. After the window a new notification starts the group again.
Groups change only through lightweight transactions on a version, so concurrent workers
never lose an actor; a replayed event (same event key) changes nothing.

Read state: one watermark per user; a notification is read when its position (the id of
its latest activity) is at or below the watermark.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from photomesh.notification.v1 import notification_service_pb2 as pb

from services.notification.activities import Activity
from services.notification.cache import NotificationCache
from services.notification.store import Entry, InboxStore
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound
from services.runtime.ids import MAX_ID, Snowflake, id_time_ms, min_id_at

MAX_ACTORS_SHOWN = 3
MAX_ATTEMPTS = 16


@dataclass(frozen=True)
class Delivered:
    """A notification as the recipient's inbox now holds it."""

    notification: pb.Notification
    unread_count: int


def _now_ms() -> int:
    return int(time.time() * 1000)


def _fresh(activity: Activity, notification_id: int, now_ms: int) -> pb.Notification:
    n = pb.Notification(notification_id=notification_id, type=activity.type,  # type: ignore[arg-type]
                        actor_count=1)
    n.actors.add(user_id=activity.actor_id)
    _set_subject(n, activity, now_ms)
    return n


def _set_subject(n: pb.Notification, activity: Activity, now_ms: int) -> None:
    n.post_id, n.comment_id, n.story_id = (activity.post_id, activity.comment_id,
                                           activity.story_id)
    n.text_preview = activity.text_preview
    n.thumbnail_url = activity.thumbnail_url
    n.create_time.FromMilliseconds(now_ms)


class Inbox:
    def __init__(self, store: InboxStore, cache: NotificationCache, ids: Snowflake,
                 group_window_seconds: int = 6 * 3600) -> None:
        self._store = store
        self._cache = cache
        self._ids = ids
        self._window_ms = group_window_seconds * 1000
        # Activities of one group applied by this process go one at a time (the LWT
        # versions still settle races between processes); other groups run concurrently.
        self._group_locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    # --- writing (the worker) -------------------------------------------------------------

    async def add(self, activity: Activity) -> Delivered | None:
        """Apply one activity; None if it was applied before (a replay)."""
        async with self._one_at_a_time((activity.recipient_id, activity.group_key)):
            return await self._add(activity)

    @asynccontextmanager
    async def _one_at_a_time(self, key: tuple[str, str]) -> AsyncIterator[None]:
        lock, users = self._group_locks.get(key) or (asyncio.Lock(), 0)
        self._group_locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._group_locks[key]
            if users == 1:
                del self._group_locks[key]
            else:
                self._group_locks[key] = (lock, users - 1)

    async def _add(self, activity: Activity) -> Delivered | None:
        user, key = activity.recipient_id, activity.group_key
        # The replay check and the first group read in one round trip.
        applied_before, group = await asyncio.gather(
            self._store.was_applied(user, activity.event_key), self._store.group(user, key))
        if applied_before:
            return None
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                group = await self._store.group(user, key)
            if group is not None and group.last_event_key == activity.event_key:
                # Applied to the group before a failure: finish the remaining writes.
                placed = (group.data, group.sort_id, group.prev_sort_id, False)
                break
            sort_id = self._ids.next_id()
            now = id_time_ms(sort_id)
            if group is None or now - group.window_start_ms >= self._window_ms:
                data = _fresh(activity, sort_id, now)
                ok = await self._store.put_group(
                    user, key, None if group is None else group.version, sort_id, sort_id, 0,
                    now, activity.event_key, data)
                placed = (data, sort_id, 0, True)
            else:
                data = pb.Notification()
                data.CopyFrom(group.data)
                new_actor = not await self._store.counted(user, key, group.notification_id,
                                                          activity.actor_id)
                others = [a.user_id for a in data.actors if a.user_id != activity.actor_id]
                del data.actors[:]
                for actor in [activity.actor_id, *others][:MAX_ACTORS_SHOWN]:
                    data.actors.add(user_id=actor)
                data.actor_count += 1 if new_actor else 0
                _set_subject(data, activity, now)
                ok = await self._store.put_group(
                    user, key, group.version, group.notification_id, sort_id, group.sort_id,
                    group.window_start_ms, activity.event_key, data)
                placed = (data, sort_id, group.sort_id, False)
            if ok:
                break
        else:
            raise RuntimeError(f"group {key} of {user} kept changing; retry later")
        data, sort_id, prev_sort_id, new = placed
        await self._store.place(user, key, activity.actor_id, activity.event_key, sort_id,
                                prev_sort_id, data)
        # A new notification is one more unread whatever the watermark; a regrouped one
        # only if its old position was unread.
        watermark = None if new else await self._store.read_mark(user)
        was_unread = watermark is not None and prev_sort_id > watermark
        unread = await self._cache.unread(user) if was_unread else \
            await self._cache.one_more_unread(user)
        if unread is None:
            unread = await self._recount(user, watermark)
        return Delivered(data, unread)

    async def _recount(self, user_id: str, watermark: int | None = None) -> int:
        if watermark is None:
            watermark = await self._store.read_mark(user_id)
        count = await self._store.count_after(user_id, watermark)
        await self._cache.set_unread(user_id, count)
        return count

    # --- reading (the service) ------------------------------------------------------------

    async def page(self, user_id: str, unread_only: bool, page_size: int,
                   paging_state: bytes | None, watermark: int | None
                   ) -> tuple[list[pb.Notification], bytes | None, int]:
        """A page, latest activity first, with read flags; and the watermark used (an
        unread-only listing keeps the first page's watermark across pages)."""
        if watermark is None:
            watermark = await self._store.read_mark(user_id)
        entries, state = await self._store.page(user_id, watermark if unread_only else 0,
                                                page_size, paging_state)
        return [self._with_read(e, watermark) for e in entries], state, watermark

    @staticmethod
    def _with_read(entry: Entry, watermark: int) -> pb.Notification:
        entry.data.read = entry.sort_id <= watermark
        return entry.data

    async def unread_count(self, user_id: str) -> int:
        cached = await self._cache.unread(user_id)
        return cached if cached is not None else await self._recount(user_id)

    async def mark_read(self, user_id: str, *, up_to_ms: int | None = None,
                        up_to_notification_id: int | None = None) -> int:
        """Raise the watermark; returns the unread count left."""
        latest = min_id_at(_now_ms() + 1) - 1  # nothing later can be read yet
        if up_to_notification_id is not None:
            if up_to_notification_id > MAX_ID:
                raise InvalidArgument(FieldViolation(
                    "up_to_notification_id", "not a notification id (ids are positive 63-bit "
                                             "numbers)"))
            position = await self._store.position(user_id, up_to_notification_id)
            if position is None:
                raise NotFound("no such notification", reason="NOTIFICATION_NOT_FOUND",
                               metadata={"notification_id": str(up_to_notification_id)})
            mark = position
        elif up_to_ms is not None:
            mark = min(latest, max(0, min_id_at(up_to_ms + 1) - 1))
        else:
            mark = latest
        watermark = await self._store.raise_read_mark(user_id, mark)
        return await self._recount(user_id, watermark)
