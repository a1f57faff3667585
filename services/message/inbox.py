"""The caller's inbox: threads by last message (inbox or requests folder), unread counts,
read marks and receipts, accepting and declining message requests.

ListThreads follows the mesh's four stages: *skeleton* — the folder's order rows (CQL,
latest first), each checked against its entry (a row whose entry moved on is stale: it is
skipped and deleted); *hydration* — the entries and threads (one multi-partition read
each) and, from the service's social view in one round trip, the members' summaries and
the reader's relations; *rules* — a one-to-one thread with someone the reader blocks or
who blocks them is not shown, nor is a group's last message from such a member, and a
shared post only to a reader who may see its author; *presentation* — contract threads.

Staleness: entries follow message events (the worker writes them milliseconds after the
send); member names and avatars follow the graph's profile events through the social view
(at most `social_view_ttl_seconds` should an event be lost); read marks are exact.
"""

from __future__ import annotations

from photomesh.common.v1.page_token_pb2 import PageTokenPayload
from photomesh.message.v1 import message_service_pb2 as pb

from services.message import messages
from services.message.access import Access
from services.message.cache import MessageCache
from services.message.model import Folder, InboxEntry, Kind, ThreadRecord
from services.message.store.inbox import InboxRows
from services.message.threads import Threads
from services.peers.audience import Audience
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.runtime.pagination import PageTokens, page_size
from services.runtime.validation import check, id_violation

SCOPE = "message.ListThreads"
REQUEST_FIELD = "r:"


def unread_fields(entry: InboxEntry) -> dict[str, int]:
    """What the unread hash holds for one entry (services/message/cache.py)."""
    if entry.folder == Folder.REQUESTS:
        return {entry.thread_id: 0, REQUEST_FIELD + entry.thread_id: 1}
    return {entry.thread_id: entry.unread, REQUEST_FIELD + entry.thread_id: 0}


def gone_fields(thread_id: str) -> dict[str, int]:
    return {thread_id: 0, REQUEST_FIELD + thread_id: 0}


class Inbox:
    def __init__(self, access: Access, threads: Threads, rows: InboxRows, cache: MessageCache,
                 tokens: PageTokens) -> None:
        self._access = access
        self._threads = threads
        self._rows = rows
        self._cache = cache
        self._tokens = tokens
        self._view = access.view

    # --- listing ----------------------------------------------------------------------------

    async def page(self, viewer_id: str, folder_value: int, requested_size: int, token: str
                   ) -> pb.ListThreadsResponse:
        size = page_size(requested_size)
        if folder_value not in (0, Folder.INBOX, Folder.REQUESTS):
            raise InvalidArgument(FieldViolation("folder", "FOLDER_INBOX or FOLDER_REQUESTS"))
        folder = Folder.REQUESTS if folder_value == Folder.REQUESTS else Folder.INBOX
        scope = f"{SCOPE}/{int(folder)}"
        cursor = self._tokens.open(token, scope=scope, viewer=viewer_id)
        after = (cursor.last_id, cursor.last_key) if cursor else None
        picked: list[tuple[InboxEntry, ThreadRecord]] = []
        more = False
        while True:
            order = await self._rows.order(viewer_id, folder, after, size + 1)
            entries = await self._rows.get_many(viewer_id, [t for _, t in order])
            threads = await self._access.threads.get_many([t for _, t in order])
            for sort_id, thread_id in order:
                entry, thread = entries.get(thread_id), threads.get(thread_id)
                if entry is None or (entry.folder, entry.sort_id) != (folder, sort_id):
                    await self._rows.drop_order(viewer_id, folder, sort_id, thread_id)
                    continue
                if thread is None or viewer_id not in thread.members:
                    continue
                if len(picked) == size:
                    more = True
                    break
                picked.append((entry, thread))
            if more or len(order) < size + 1:
                break
            after = order[-1]
        audience = await self._audience(viewer_id, picked)
        shown = [self._present(viewer_id, e, t, audience) for e, t in picked]
        last = picked[-1][0] if picked else None
        next_token = self._tokens.seal(
            PageTokenPayload(last_id=last.sort_id, last_key=last.thread_id), scope=scope,
            viewer=viewer_id) if more and last else ""
        return pb.ListThreadsResponse(threads=[t for t in shown if t is not None],
                                      next_page_token=next_token)

    async def _audience(self, viewer_id: str, picked: list[tuple[InboxEntry, ThreadRecord]]
                        ) -> Audience:
        users: set[str] = set()
        for entry, thread in picked:
            users |= set(thread.members)
            if entry.last_message:
                last = pb.Message.FromString(entry.last_message)
                if last.shared_post.post.author.user_id:
                    users.add(last.shared_post.post.author.user_id)
        return await self._view.audience(viewer_id, users)

    def _present(self, viewer_id: str, entry: InboxEntry, thread: ThreadRecord,
                 audience: Audience) -> pb.Thread | None:
        if thread.kind == Kind.DIRECT and any(o in audience.blocked
                                              for o in thread.others(viewer_id)):
            return None
        last = pb.Message.FromString(entry.last_message) if entry.last_message else None
        if last is not None:
            if thread.kind == Kind.GROUP and last.sender_user_id in audience.blocked:
                last = None
            else:
                author = last.shared_post.post.author.user_id
                last = messages.for_viewer(last, not author or author in audience.visible)
        return messages.thread_of(thread, viewer_id, audience.summaries, entry, last)

    # --- counts and read marks ----------------------------------------------------------------

    async def _counts(self, viewer_id: str) -> dict[str, int]:
        async def rebuild() -> dict[str, int]:
            counts: dict[str, int] = {}
            for entry in await self._rows.all(viewer_id):
                counts.update({k: v for k, v in unread_fields(entry).items() if v})
            return counts
        return await self._cache.unread(viewer_id, rebuild)

    async def unread(self, viewer_id: str) -> pb.GetUnreadCountResponse:
        counts = await self._counts(viewer_id)
        inbox = [v for k, v in counts.items() if not k.startswith(REQUEST_FIELD)]
        return pb.GetUnreadCountResponse(
            unread_message_count=sum(inbox), unread_thread_count=sum(1 for v in inbox if v),
            request_count=sum(1 for k in counts if k.startswith(REQUEST_FIELD)))

    async def unread_total(self, viewer_id: str) -> int:
        return (await self.unread(viewer_id)).unread_message_count

    async def mark_read(self, viewer_id: str, thread_id: str, up_to: int
                        ) -> pb.MarkThreadReadResponse:
        check([id_violation("up_to_message_id", up_to, "a message id", optional=True)])
        thread = await self._access.member_thread(thread_id, viewer_id)
        await self._access.direct_open(thread, viewer_id)
        entry = await self._rows.get(viewer_id, thread.thread_id)
        latest = entry.sort_id if entry else 0
        mark = max(min(up_to, latest) if up_to else latest,
                   thread.read_marks.get(viewer_id, 0))
        if mark and mark > thread.read_marks.get(viewer_id, 0):
            await self._access.threads.mark_read(thread.thread_id, viewer_id, mark)
            thread.read_marks[viewer_id] = mark
        if entry is not None:
            if mark > entry.read_up_to:
                await self._rows.mark_read(viewer_id, thread.thread_id, mark)
            read = {i for i in entry.unread_ids if i <= mark}
            await self._rows.drop_unread(viewer_id, thread.thread_id, read)
            await self._cache.forget(viewer_id)
        receipt = pb.StreamMessagesResponse(receipt=pb.ReadReceipt(
            thread_id=thread.thread_id, user_id=viewer_id, read_up_to_message_id=mark))
        await self._cache.push({m: receipt.SerializeToString() for m in thread.members})
        return pb.MarkThreadReadResponse(read_up_to_message_id=mark,
                                         unread_message_count=await self.unread_total(viewer_id))

    # --- message requests ---------------------------------------------------------------------

    async def accept(self, viewer_id: str, thread_id: str) -> pb.Thread:
        thread = await self._access.member_thread(thread_id, viewer_id)
        await self._access.direct_open(thread, viewer_id)
        if viewer_id not in thread.accepted:
            await self._access.threads.accept(thread.thread_id, [viewer_id])
            thread.accepted.add(viewer_id)
        entry = await self._rows.get(viewer_id, thread.thread_id)
        if entry is not None and entry.folder != Folder.INBOX:
            await self._rows.move(entry, Folder.INBOX)
            entry.folder = Folder.INBOX
            await self._cache.forget(viewer_id)
        return messages.thread_of(thread, viewer_id,
                                  await self._view.summaries(list(thread.members)), entry)

    async def decline(self, viewer_id: str, thread_id: str) -> None:
        thread = await self._access.member_thread(thread_id, viewer_id)
        if viewer_id in thread.accepted:
            raise FailedPrecondition("this thread is not a message request (it is in your "
                                     "inbox)", reason="NOT_A_REQUEST",
                                     metadata={"thread_id": thread.thread_id})
        if thread.kind == Kind.GROUP:
            await self._threads.leave(viewer_id, thread.thread_id)
        entry = await self._rows.get(viewer_id, thread.thread_id)
        if entry is not None:
            await self._rows.delete(entry)
        await self._cache.forget(viewer_id)
