"""What the inbox worker does with message events: each member's inbox entry (folder,
order, last message, unread ids), their cached unread counts, and the live stream pushes.

Every effect is idempotent, so a redelivered or republished event changes nothing twice:
the entry moves forward only by a compare-and-set from the sort id it had and never
backwards; unread ids are a set; a removed member's entry is deleted. The event is acked
(by the consumer) only after these CQL writes; the Redis counts and pushes follow them.
"""

from __future__ import annotations

import logging

from photomesh.message.v1 import events_pb2 as ev
from photomesh.message.v1 import message_service_pb2 as pb

from services.message import messages
from services.message.cache import MessageCache
from services.message.inbox import gone_fields, unread_fields
from services.message.model import Folder, InboxEntry, Kind, ThreadRecord
from services.message.store.inbox import InboxRows
from services.message.store.messages import MessageRows
from services.message.store.threads import ThreadRows
from services.peers.social_view import SocialView
from services.runtime.clock import datetime_to_ms, now_ms
from services.runtime.events import Delivery
from services.runtime.ids import min_id_at

log = logging.getLogger(__name__)
CAS_ATTEMPTS = 8


class InboxKeeper:
    def __init__(self, threads: ThreadRows, rows: MessageRows, inbox: InboxRows,
                 cache: MessageCache, view: SocialView) -> None:
        self._threads = threads
        self._rows = rows
        self._inbox = inbox
        self._cache = cache
        self._view = view

    async def on_sent(self, e: ev.MessageSentEvent, _: Delivery) -> None:
        thread = await self._threads.get(e.thread_id)
        stored = await self._rows.get(e.thread_id, e.message_id)
        if thread is None or stored is None or stored.unsent:
            return
        counts: dict[str, dict[str, int]] = {}
        for member in thread.members:
            folder = Folder.INBOX if member in thread.accepted else Folder.REQUESTS
            entry = await self._place(thread, member, folder, e.message_id, stored.body)
            if member == e.sender_user_id:
                if e.message_id > thread.read_marks.get(member, 0):
                    await self._threads.mark_read(thread.thread_id, member, e.message_id)
                if e.message_id > entry.read_up_to:
                    await self._inbox.mark_read(member, thread.thread_id, e.message_id)
                    entry.read_up_to = e.message_id
            elif e.message_id > entry.read_up_to and e.message_id not in entry.unread_ids:
                await self._inbox.add_unread(member, thread.thread_id, e.message_id)
                entry.unread_ids.add(e.message_id)
            counts[member] = unread_fields(entry)
        for member, fields in counts.items():
            await self._cache.set_unread(member, fields)
        push = pb.StreamMessagesResponse(message=messages.message_of(stored))
        await self._cache.push({m: push.SerializeToString() for m in thread.members})

    async def _place(self, thread: ThreadRecord, member: str, folder: Folder, sort_id: int,
                     last: bytes | None) -> InboxEntry:
        """The member's entry, moved to `sort_id` with `last` as its last message if that
        is newer than what it shows (an accepted entry stays in the inbox)."""
        for _ in range(CAS_ATTEMPTS):
            entry = await self._inbox.get(member, thread.thread_id)
            if entry is None:
                fresh = InboxEntry(member, thread.thread_id, folder, sort_id, last, set(),
                                   thread.read_marks.get(member, 0))
                if await self._inbox.create(fresh):
                    return fresh
                continue
            if sort_id <= entry.sort_id and (entry.folder == folder or folder ==
                                             Folder.REQUESTS):
                if sort_id == entry.sort_id:  # a replay: the order row may not be written
                    await self._inbox.put_order(member, entry.folder, sort_id,
                                                thread.thread_id)
                return entry
            target = Folder.INBOX if Folder.INBOX in (entry.folder, folder) else folder
            new_sort = max(sort_id, entry.sort_id)
            shown = last if sort_id >= entry.sort_id else entry.last_message
            if await self._inbox.advance(entry, target, new_sort, shown):
                entry.folder, entry.sort_id, entry.last_message = target, new_sort, shown
                return entry
        raise RuntimeError(f"inbox entry of {member} in {thread.thread_id} kept changing")

    async def on_unsent(self, e: ev.MessageUnsentEvent, _: Delivery) -> None:
        thread = await self._threads.get(e.thread_id)
        if thread is None:
            return
        latest: bytes | None | bool = False  # not looked up yet
        for member in set(thread.members) | set(e.member_user_ids):
            entry = await self._inbox.get(member, e.thread_id)
            if entry is None:
                continue
            if e.message_id in entry.unread_ids:
                await self._inbox.drop_unread(member, e.thread_id, {e.message_id})
                entry.unread_ids.discard(e.message_id)
            if entry.last_message and pb.Message.FromString(
                    entry.last_message).message_id == e.message_id:
                if latest is False:
                    latest = await self._latest(thread)
                await self._inbox.set_last(entry, latest or None)
            await self._cache.set_unread(member, unread_fields(entry))
        push = pb.StreamMessagesResponse(unsent=pb.MessageUnsent(
            thread_id=e.thread_id, message_id=e.message_id))
        await self._cache.push({m: push.SerializeToString() for m in thread.members})

    async def _latest(self, thread: ThreadRecord) -> bytes | None:
        """The newest message still sent in the thread (a few buckets at most)."""
        first = self._rows.bucket_at(datetime_to_ms(thread.create_time))
        bucket = self._rows.bucket_at(now_ms())
        while bucket >= first:
            for m in await self._rows.before(thread.thread_id, bucket, None, 20):
                if not m.unsent:
                    return m.body
            bucket -= 1
        return None

    async def on_thread_changed(self, e: ev.ThreadChangedEvent, _: Delivery) -> None:
        thread = await self._threads.get(e.thread_id)
        if thread is None:
            return
        gone = [u for u in e.removed_user_ids if u not in thread.members]
        for user_id in gone:
            entry = await self._inbox.get(user_id, thread.thread_id)
            if entry is not None:
                await self._inbox.delete(entry)
            await self._cache.set_unread(user_id, gone_fields(thread.thread_id))
        if thread.kind == Kind.GROUP:
            created = min_id_at(datetime_to_ms(thread.create_time))
            for member in thread.members:
                if await self._inbox.get(member, thread.thread_id) is None:
                    folder = Folder.INBOX if member in thread.accepted else Folder.REQUESTS
                    entry = InboxEntry(member, thread.thread_id, folder, created, None, set(),
                                       0)
                    await self._inbox.create(entry)
                    await self._cache.set_unread(member, unread_fields(entry))
        summaries = await self._view.summaries(list(thread.members))
        await self._cache.push({
            user_id: pb.StreamMessagesResponse(thread=messages.thread_of(
                thread, user_id, summaries)).SerializeToString()
            for user_id in [*thread.members, *gone]})
