"""Who may do what in a thread: the checks every thread and message call starts with."""

from __future__ import annotations

from collections.abc import Sequence

from services.message.model import Kind, ThreadRecord
from services.message.store.threads import ThreadRows
from services.peers.social_view import SocialView
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from services.runtime.validation import check, uuid_violation


def thread_id_of(value: str) -> str:
    check([uuid_violation("thread_id", value, "a thread id")])
    return value.lower()


class Access:
    def __init__(self, threads: ThreadRows, view: SocialView) -> None:
        self.threads = threads
        self.view = view

    async def member_thread(self, thread_id: str, viewer_id: str) -> ThreadRecord:
        """The thread, if the viewer is a member (NOT_FOUND otherwise: a thread's
        existence is nobody else's business)."""
        thread = await self.threads.get(thread_id_of(thread_id))
        if thread is None or viewer_id not in thread.members:
            raise NotFound(f"no thread {thread_id} with you in it", reason="THREAD_NOT_FOUND",
                           metadata={"thread_id": thread_id})
        return thread

    async def group(self, thread_id: str, viewer_id: str, *, admin: bool) -> ThreadRecord:
        thread = await self.member_thread(thread_id, viewer_id)
        if thread.kind != Kind.GROUP:
            raise InvalidArgument(FieldViolation("thread_id", "a one-to-one thread has no "
                                                              "name, admins or member changes"),
                                  reason="NOT_A_GROUP")
        if admin and not thread.is_admin(viewer_id):
            raise PermissionDenied("only the group's creator or an admin may do this",
                                   reason="NOT_AN_ADMIN", metadata={"thread_id": thread_id})
        return thread

    async def not_blocked(self, viewer_id: str, others: Sequence[str]) -> None:
        """PERMISSION_DENIED BLOCKED when the viewer and one of `others` block each other
        (either way), from the service's social view."""
        relations = await self.view.relations(viewer_id, others)
        for other in others:
            relation = relations.get(other)
            if relation is not None and relation.blocked:
                raise PermissionDenied("you cannot message this user",
                                       reason="BLOCKED", metadata={"user_id": other})

    async def direct_open(self, thread: ThreadRecord, viewer_id: str) -> None:
        """A one-to-one thread is closed both ways while either blocks the other."""
        if thread.kind == Kind.DIRECT:
            await self.not_blocked(viewer_id, thread.others(viewer_id))

    async def existing_users(self, field: str, user_ids: Sequence[str]) -> None:
        known = await self.view.summaries(user_ids)
        for i, user_id in enumerate(user_ids):
            if user_id not in known:
                raise NotFound(f"{field}[{i}]: no user {user_id}", reason="USER_NOT_FOUND",
                               metadata={"user_id": user_id})
