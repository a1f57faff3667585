"""Messages in a thread: sending (idempotent on request_id, durable before it answers),
listing newest first, unsending one's own, deleting for oneself.

Sending: the request id is bound to a fresh Snowflake id by ``IF NOT EXISTS`` (a retry
finds the binding and answers with the stored message); a pending change is recorded
before the row is written and cleared once ``message.sent`` is out, so a message whose
event never went out is announced by the sweeper (`settle`) with the same event id.

A shared post is checked when it is sent (the sender must see it: the post service
answers as the sender) and kept as it was shared; each reader sees it only if the one
visibility rule (services/peers/audience.py) lets them see its author, answered from the
service's social view. Listing reads no other service.
"""

from __future__ import annotations

from collections.abc import Sequence

from photomesh.common.v1.page_token_pb2 import PageTokenPayload
from photomesh.message.v1 import message_service_pb2 as pb

from services.message import messages
from services.message.access import Access
from services.message.events import MessageEvents
from services.message.model import MAX_TEXT, PREVIEW_CHARS, Kind, MessageRecord, ThreadRecord
from services.message.store.messages import MessageRows
from services.peers.media import MediaPeer, owned_ready
from services.peers.post import PostPeer
from services.runtime.clock import datetime_to_ms, now_ms, timestamp_from_ms
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from services.runtime.ids import Snowflake, id_time_ms
from services.runtime.pagination import PageTokens, page_size
from services.runtime.pending import PendingChanges
from services.runtime.validation import check, id_violation, request_id_violation, uuid_violation

SENT = "message.sent"
UNSENT = "message.unsent"
SCOPE = "message.ListMessages"


def preview(message: pb.Message) -> str:
    if message.text:
        return message.text[:PREVIEW_CHARS]
    if message.HasField("media"):
        return "sent a photo or video"
    return "shared a post" if message.HasField("shared_post") else ""


def _subject(thread_id: str, message_id: int) -> str:
    return f"{thread_id}:{message_id}"


class Conversation:
    def __init__(self, access: Access, rows: MessageRows, events: MessageEvents,
                 pending: PendingChanges, ids: Snowflake, media: MediaPeer, posts: PostPeer,
                 tokens: PageTokens) -> None:
        self._access = access
        self._threads = access.threads
        self._view = access.view
        self._rows = rows
        self._events = events
        self._pending = pending
        self._ids = ids
        self._media = media
        self._posts = posts
        self._tokens = tokens

    # --- sending ----------------------------------------------------------------------------

    async def send(self, viewer_id: str, thread_id: str, request_id: str, text: str,
                   media_id: str, shared_post_id: int) -> pb.Message:
        check([request_id_violation(request_id),
               FieldViolation("text", f"at most {MAX_TEXT} characters (got {len(text)})")
               if len(text) > MAX_TEXT else None,
               uuid_violation("media_id", media_id, "a media id") if media_id else None,
               id_violation("shared_post_id", shared_post_id, "a post id", optional=True),
               FieldViolation("media_id", "send media or share a post, not both")
               if media_id and shared_post_id else None,
               FieldViolation("text", "required: text, a media_id or a shared_post_id")
               if not (text.strip() or media_id or shared_post_id) else None])
        thread = await self._access.member_thread(thread_id, viewer_id)
        await self._access.direct_open(thread, viewer_id)
        bound_thread, message_id = await self._rows.claim_send(
            viewer_id, request_id, thread.thread_id, self._ids.next_id())
        if bound_thread != thread.thread_id:
            raise InvalidArgument(FieldViolation("request_id", "already used for a message "
                                                               "in another thread"))
        stored = await self._rows.get(thread.thread_id, message_id)
        if stored is not None:  # a retry: the message is there (its event is, or will be)
            return messages.message_of(stored) if not stored.unsent else pb.Message(
                message_id=message_id, thread_id=thread.thread_id, sender_user_id=viewer_id)
        message = pb.Message(message_id=message_id, thread_id=thread.thread_id,
                             sender_user_id=viewer_id, text=text,
                             create_time=timestamp_from_ms(id_time_ms(message_id)))
        author_id = await self._attach(viewer_id, message, media_id.lower(), shared_post_id)
        await self._accept(thread, viewer_id)
        record = MessageRecord(thread.thread_id, message_id, viewer_id,
                               message.SerializeToString(), author_id)
        async with self._pending.around(SENT, _subject(thread.thread_id, message_id)):
            await self._rows.insert(record)
            await self._events.sent(thread, message_id, viewer_id, preview(message))
        return message

    async def _attach(self, viewer_id: str, message: pb.Message, media_id: str,
                      post_id: int) -> str | None:
        """Attach the sender's READY media item or a post the sender may see; the shared
        post's author id."""
        if media_id:
            refs, missing = owned_ready(viewer_id, [media_id],
                                        await self._media.items([media_id]))
            if missing:
                raise NotFound(f"no media item {media_id}", reason="MEDIA_NOT_FOUND",
                               metadata={"media_id": media_id})
            message.media.CopyFrom(refs[0])
        if post_id:
            found, _ = await self._posts.batch_get([post_id])
            post = found.get(post_id)
            if post is None:
                raise NotFound(f"no post {post_id} you can see", reason="POST_NOT_FOUND",
                               metadata={"post_id": str(post_id)})
            for viewer_field in ("like_count", "comment_count", "liked_by_caller"):
                post.ClearField(viewer_field)
            message.shared_post.post_id = post_id
            message.shared_post.post.CopyFrom(post)
            return post.author.user_id
        return None

    async def _accept(self, thread: ThreadRecord, sender_id: str) -> None:
        """The sender takes part (the thread is in their inbox); recipients who follow the
        sender get it in their inbox, the others as a request."""
        accepted = {sender_id} - thread.accepted
        for other in thread.others(sender_id):
            if other in thread.accepted:
                continue
            relation = (await self._view.relations(other, [sender_id])).get(sender_id)
            if relation is not None and relation.following:
                accepted.add(other)
        if accepted:
            await self._threads.accept(thread.thread_id, accepted)
            thread.accepted |= accepted

    # --- listing ----------------------------------------------------------------------------

    async def page(self, viewer_id: str, thread_id: str, requested_size: int, token: str
                   ) -> pb.ListMessagesResponse:
        size = page_size(requested_size)
        thread = await self._access.member_thread(thread_id, viewer_id)
        await self._access.direct_open(thread, viewer_id)
        scope = f"{SCOPE}/{thread.thread_id}"
        cursor = self._tokens.open(token, scope=scope, viewer=viewer_id)
        below = cursor.last_id if cursor else None
        # Skeleton: up to size + 1 live messages, newest first, bucket by bucket.
        first = self._rows.bucket_at(datetime_to_ms(thread.create_time))
        bucket = self._rows.bucket_of(below) if below else self._rows.bucket_at(now_ms())
        found: list[MessageRecord] = []
        while bucket >= first and len(found) <= size:
            batch = await self._rows.before(thread.thread_id, bucket, below, size + 1)
            found += [m for m in batch if not m.unsent]
            if len(batch) < size + 1:
                bucket -= 1
                below = None
            else:
                below = batch[-1].message_id
        more = len(found) > size
        found = found[:size]
        shown = await self.visible(viewer_id, thread, found)
        token_out = self._tokens.seal(PageTokenPayload(last_id=found[-1].message_id),
                                      scope=scope, viewer=viewer_id) if more else ""
        return pb.ListMessagesResponse(messages=shown, next_page_token=token_out)

    async def visible(self, viewer_id: str, thread: ThreadRecord,
                      records: Sequence[MessageRecord]) -> list[pb.Message]:
        """Rules and presentation: drop what the viewer deleted for themselves and (in a
        group) what a member they block or who blocks them sent; show a shared post only
        to a viewer who may see its author."""
        hidden = await self._rows.hidden(viewer_id, thread.thread_id,
                                         [m.message_id for m in records])
        records = [m for m in records if m.message_id not in hidden]
        return await self.present(viewer_id, thread, records)

    async def present(self, viewer_id: str, thread: ThreadRecord,
                      records: Sequence[MessageRecord]) -> list[pb.Message]:
        authors = {m.shared_post_author_id for m in records if m.shared_post_author_id}
        senders = {m.sender_id for m in records} if thread.kind == Kind.GROUP else set()
        audience = await self._view.audience(viewer_id, authors | senders)
        shown = []
        for m in records:
            if m.sender_id in senders and m.sender_id in audience.blocked:
                continue
            shown.append(messages.for_viewer(
                messages.message_of(m),
                m.shared_post_author_id is None or m.shared_post_author_id in audience.visible))
        return shown

    # --- unsending and deleting ---------------------------------------------------------------

    async def _own_message(self, viewer_id: str, thread_id: str, message_id: int
                           ) -> tuple[ThreadRecord, MessageRecord]:
        check([id_violation("message_id", message_id, "a message id")])
        thread = await self._access.member_thread(thread_id, viewer_id)
        stored = await self._rows.get(thread.thread_id, message_id)
        if stored is None:
            raise NotFound(f"no message {message_id} in this thread",
                           reason="MESSAGE_NOT_FOUND", metadata={"message_id": str(message_id)})
        return thread, stored

    async def unsend(self, viewer_id: str, thread_id: str, message_id: int) -> None:
        thread, stored = await self._own_message(viewer_id, thread_id, message_id)
        if stored.sender_id != viewer_id:
            raise PermissionDenied("only its sender can unsend a message",
                                   reason="NOT_THE_SENDER",
                                   metadata={"message_id": str(message_id)})
        async with self._pending.around(UNSENT, _subject(thread.thread_id, message_id)):
            if not stored.unsent:
                await self._rows.unsend(thread.thread_id, message_id)
            await self._events.unsent(thread, message_id)

    async def delete_for_me(self, viewer_id: str, thread_id: str, message_id: int) -> None:
        thread, stored = await self._own_message(viewer_id, thread_id, message_id)
        if not stored.unsent:
            await self._rows.hide(viewer_id, thread.thread_id, message_id)

    async def settle(self, subject: str) -> float | None:
        """The sweeper's finisher for sends and unsends: announce the message as it is
        stored (same event ids as the call's own publish); nothing if it never was."""
        thread_id, _, raw_id = subject.partition(":")
        message_id = int(raw_id)
        thread = await self._threads.get(thread_id)
        stored = await self._rows.get(thread_id, message_id)
        if thread is None or stored is None:
            return None
        if stored.unsent:
            await self._events.unsent(thread, message_id)
        else:
            await self._events.sent(thread, message_id, stored.sender_id,
                                    preview(messages.message_of(stored)))
        return None

