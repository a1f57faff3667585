"""Thread rules: opening one-to-one threads, creating groups, renaming, adding and
removing members, leaving.

A one-to-one thread's id is derived from its two members and created with ``IF NOT
EXISTS``, so it exists once however it is opened. A group's id is derived from its
creator and `request_id` (a retried create names the same group). Member changes are
compare-and-sets on the thread's version (the 32-member cap holds under concurrent adds),
wrapped in a pending change so their event goes out even if this process dies after the
write (the sweeper's finisher republishes it with the same id).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from photomesh.message.v1 import message_service_pb2 as pb

from services.message import messages
from services.message.access import Access
from services.message.events import MessageEvents
from services.message.model import (
    MAX_MEMBERS,
    MAX_NAME,
    Kind,
    Role,
    ThreadRecord,
    direct_thread_id,
    group_thread_id,
)
from services.runtime.clock import ms_to_datetime, now_ms
from services.runtime.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from services.runtime.pending import PendingChanges
from services.runtime.validation import check, request_id_violation, uuid_violation

THREAD_CHANGE = "message.thread_changed"
CAS_ATTEMPTS = 8

Change = Callable[[ThreadRecord], tuple[str, dict[str, Role], set[str]] | None]


def _name_violation(name: str) -> FieldViolation | None:
    if len(name) > MAX_NAME:
        return FieldViolation("name", f"at most {MAX_NAME} characters (got {len(name)})")
    return None


def _user_ids(field: str, values: Sequence[str], viewer_id: str, maximum: int) -> list[str]:
    if not values:
        raise InvalidArgument(FieldViolation(field, "required: at least one user id"))
    if len(values) > maximum:
        raise InvalidArgument(FieldViolation(field, f"at most {maximum} users (got "
                                                    f"{len(values)})"), reason="THREAD_FULL")
    check([uuid_violation(f"{field}[{i}]", v) for i, v in enumerate(values)])
    ids = list(dict.fromkeys(v.lower() for v in values))
    if viewer_id in ids:
        raise InvalidArgument(FieldViolation(field, "leave yourself out: you are in the "
                                                    "thread already"))
    return ids


class Threads:
    def __init__(self, access: Access, events: MessageEvents, pending: PendingChanges) -> None:
        self._access = access
        self._rows = access.threads
        self._view = access.view
        self._events = events
        self._pending = pending

    async def view_of(self, thread: ThreadRecord, viewer_id: str) -> pb.Thread:
        summaries = await self._view.summaries(list(thread.members))
        return messages.thread_of(thread, viewer_id, summaries)

    async def get(self, viewer_id: str, thread_id: str) -> pb.Thread:
        thread = await self._access.member_thread(thread_id, viewer_id)
        await self._access.direct_open(thread, viewer_id)
        return await self.view_of(thread, viewer_id)

    # --- creating -------------------------------------------------------------------------

    async def open_direct(self, viewer_id: str, user_id: str) -> pb.Thread:
        check([uuid_violation("user_id", user_id)])
        other = user_id.lower()
        if other == viewer_id:
            raise InvalidArgument(FieldViolation("user_id", "a one-to-one thread is with "
                                                            "someone else"))
        await self._access.existing_users("user_id", [other])
        await self._access.not_blocked(viewer_id, [other])
        thread_id = direct_thread_id(viewer_id, other)
        thread = await self._rows.get(thread_id)
        if thread is None:
            fresh = ThreadRecord(thread_id, Kind.DIRECT, "", viewer_id,
                                 ms_to_datetime(now_ms()),
                                 {viewer_id: Role.MEMBER, other: Role.MEMBER}, {viewer_id})
            await self._rows.create(fresh)
            thread = await self._rows.get(thread_id)
            assert thread is not None
        if viewer_id not in thread.accepted:  # opening it is wanting to talk
            await self._rows.accept(thread_id, [viewer_id])
            thread.accepted.add(viewer_id)
        return await self.view_of(thread, viewer_id)

    async def create_group(self, viewer_id: str, request_id: str, member_ids: Sequence[str],
                           name: str) -> pb.Thread:
        check([request_id_violation(request_id), _name_violation(name)])
        others = _user_ids("member_user_ids", member_ids, viewer_id, MAX_MEMBERS - 1)
        thread_id = group_thread_id(viewer_id, request_id)
        existing = await self._rows.get(thread_id)
        if existing is not None and existing.creator_id == viewer_id:
            if viewer_id not in existing.members:
                raise NotFound("you left this group", reason="THREAD_NOT_FOUND")
            return await self.view_of(existing, viewer_id)
        await self._access.existing_users("member_user_ids", others)
        await self._access.not_blocked(viewer_id, others)
        followers = await self._followers_of(viewer_id, others)
        thread = ThreadRecord(thread_id, Kind.GROUP, name, viewer_id, ms_to_datetime(now_ms()),
                              {viewer_id: Role.CREATOR, **{o: Role.MEMBER for o in others}},
                              {viewer_id, *followers})
        async with self._pending.around(THREAD_CHANGE, thread_id):
            await self._rows.create(thread)
            stored = await self._rows.get(thread_id)
            assert stored is not None
            await self._events.thread_changed(stored, viewer_id)
        return await self.view_of(stored, viewer_id)

    async def _followers_of(self, author_id: str, user_ids: Sequence[str]) -> set[str]:
        """Those of `user_ids` who follow `author_id` (their thread starts accepted)."""
        found: set[str] = set()
        for user_id in user_ids:
            relation = (await self._view.relations(user_id, [author_id])).get(author_id)
            if relation is not None and relation.following:
                found.add(user_id)
        return found

    # --- changing ---------------------------------------------------------------------------

    async def rename(self, viewer_id: str, thread_id: str, name: str,
                     paths: Sequence[str]) -> pb.Thread:
        unknown = [p for p in paths if p != "name"]
        check([FieldViolation("update_mask", f"only \"name\" may be updated (got "
                                             f"{', '.join(unknown)})") if unknown else None,
               _name_violation(name)])
        thread = await self._access.group(thread_id, viewer_id, admin=True)
        changed = await self._change(thread, viewer_id, lambda t: (
            name, dict(t.members), set(t.gone)) if t.name != name else None)
        return await self.view_of(changed, viewer_id)

    async def add_members(self, viewer_id: str, thread_id: str, user_ids: Sequence[str]
                          ) -> pb.Thread:
        added = _user_ids("user_ids", user_ids, viewer_id, MAX_MEMBERS - 1)
        thread = await self._access.group(thread_id, viewer_id, admin=True)
        await self._access.existing_users("user_ids", added)
        await self._access.not_blocked(viewer_id, added)

        def add(t: ThreadRecord) -> tuple[str, dict[str, Role], set[str]] | None:
            new = [u for u in added if u not in t.members]
            if not new:
                return None
            if len(t.members) + len(new) > MAX_MEMBERS:
                raise InvalidArgument(FieldViolation(
                    "user_ids", f"a group has at most {MAX_MEMBERS} members ({len(t.members)} "
                                f"now, {len(new)} to add)"), reason="THREAD_FULL")
            return t.name, {**t.members, **{u: Role.MEMBER for u in new}}, t.gone - set(new)

        followers = await self._followers_of(viewer_id, added)
        if followers:
            await self._rows.accept(thread.thread_id, followers)
        changed = await self._change(thread, viewer_id, add)
        return await self.view_of(changed, viewer_id)

    async def remove_member(self, viewer_id: str, thread_id: str, user_id: str) -> pb.Thread:
        check([uuid_violation("user_id", user_id)])
        target = user_id.lower()
        thread = await self._access.group(thread_id, viewer_id, admin=True)
        if target not in thread.members:
            raise NotFound(f"{target} is not a member of this group", reason="NOT_A_MEMBER",
                           metadata={"user_id": target})
        if thread.members[target] == Role.CREATOR and viewer_id != target:
            raise PermissionDenied("the group's creator cannot be removed",
                                   reason="NOT_AN_ADMIN")
        changed = await self._change(thread, viewer_id, lambda t: _without(t, target),
                                     removed=[target])
        return await self.view_of(changed, viewer_id)

    async def leave(self, viewer_id: str, thread_id: str) -> None:
        thread = await self._access.group(thread_id, viewer_id, admin=False)
        await self._change(thread, viewer_id, lambda t: _without(t, viewer_id),
                           removed=[viewer_id])

    async def _change(self, thread: ThreadRecord, actor_id: str, change: Change,
                      removed: Sequence[str] = ()) -> ThreadRecord:
        """Apply `change` by compare-and-set (re-read and re-applied when another change
        won), then announce it."""
        async with self._pending.around(THREAD_CHANGE, thread.thread_id):
            for _ in range(CAS_ATTEMPTS):
                result = change(thread)
                if result is None:
                    return thread
                name, members, gone = result
                if await self._rows.replace_members(thread, name, members, gone):
                    changed = await self._rows.get(thread.thread_id)
                    assert changed is not None
                    await self._events.thread_changed(changed, actor_id, removed)
                    return changed
                fresh = await self._rows.get(thread.thread_id)
                if fresh is None:
                    raise NotFound("the thread is gone", reason="THREAD_NOT_FOUND")
                thread = fresh
                if actor_id not in thread.members:
                    raise NotFound("you are no longer in this thread",
                                   reason="THREAD_NOT_FOUND")
            raise Unavailable("the thread is changing too often; retry",
                              reason="BACKEND_UNAVAILABLE")

    async def settle(self, thread_id: str) -> float | None:
        """The sweeper's finisher: announce the thread as it is now (same event id as a
        change already announced at this version, so consumers drop the twin)."""
        thread = await self._rows.get(thread_id)
        if thread is not None:
            await self._events.thread_changed(thread, thread.creator_id)
        return None


def _without(t: ThreadRecord, user_id: str) -> tuple[str, dict[str, Role], set[str]] | None:
    if user_id not in t.members:
        return None
    members = {m: r for m, r in t.members.items() if m != user_id}
    if members and not any(r >= Role.ADMIN for r in members.values()):
        members[min(members)] = Role.ADMIN  # a group always keeps an admin
    return t.name, members, t.gone | {user_id}
