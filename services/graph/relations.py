"""Follow, follow-request and block rules (no gRPC types here).

Every change follows one protocol (see store.py for the tables):

1. read the pair's relation row;
2. commit with a lightweight transaction on the acting user's relation row, conditioned on
   the values read in 1 (a concurrent change makes it fail, and we start again from 1);
3. write the derived rows the change adds or removes (list rows, mirror columns) in one
   logged batch, timestamped by the change they derive from (store.py): a removal always
   wins over the put of the same follow, however late that put arrives, so two concurrent
   calls on one pair cannot leave a list row the relation does not have;
4. update the Redis counts, only when step 2 applied (a retry never counts twice);
5. announce it: bump the users' epochs, then publish the event (deterministic message id:
   a retry republishes the same event).

A failure anywhere leaves a state the same call completes when retried (UNAVAILABLE tells
the client to retry), and a repeated call is answered from the committed state, redoing
its derived writes and republishing its event. And without the client: every change of
a pair is recorded as pending while it runs (services/runtime/pending.py, kind
``graph.pair``, subject the two ids sorted), so when its client gives up half-way the
service's sweeper finishes it from the pair's rows (`settle`), republishing with the same
event ids.

Blocks are guards, so their mirror (`blocked_by_since` in the other user's row) is written
before the commit and removed after it: a half-done block errs on the side of hiding.

Where lightweight transactions stay, and why. The commit of step 3 is the only one, and
nothing cheaper gives its guarantee: its condition includes the mirror of the other user's
block, so a Follow racing a Block of the same pair either commits before the guard is
written (and the block's step 2 then ends it) or fails and sees the block; and concurrent
retries of one Follow, or a Follow racing an Unfollow, Approve or Reject, apply in one order
and count once. A Redis lock per pair could order these calls too, but it would cost two
Redis round trips per change against one Paxos round (measured on a single node: about
0.4 ms of Cassandra CPU against 0.1 ms for a plain write, under 5% of a follow's mesh CPU,
most of which is the service's own gRPC, driver and event work and the workers' handling
of the event) and would need this protocol anyway while Redis is unreachable. Profiles keep
theirs for the same reason (usernames are unique; edits are ordered by version).

What a Follow costs (measured with bench/social.py and a profile of the graph process): the
target's profile and the pair's relation are read at once (two reads, one round trip of
latency), one LWT, one logged batch of the derived rows, then the count update and the
event publish at once.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from services.graph import cache
from services.graph.cache import FollowCounts
from services.graph.events import GraphEvents
from services.graph.store import (
    BLOCKS,
    FOLLOWERS,
    FOLLOWING,
    REQUESTS,
    GraphStore,
    ProfileRow,
    Relation,
    fresh_ms,
    now_ms,
)
from services.runtime.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from services.runtime.pending import PendingChanges
from services.runtime.validation import require_uuid

log = logging.getLogger(__name__)

PAIR = "graph.pair"  # the pending kind of a change of two users' relations
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

ATTEMPTS = 5  # optimistic retries of one change under contention


class Status(enum.Enum):
    """A user's relationship to another (RelationshipStatus without the prefix)."""

    NONE = "NONE"
    FOLLOWING = "FOLLOWING"
    REQUESTED = "REQUESTED"
    BLOCKED = "BLOCKED"
    BLOCKED_BY = "BLOCKED_BY"
    SELF = "SELF"


def status_of(relation: Relation) -> Status:
    """BLOCKED wins over BLOCKED_BY when both block each other."""
    if relation.user_id == relation.other_id:
        return Status.SELF
    if relation.blocking_since is not None:
        return Status.BLOCKED
    if relation.blocked_by_since is not None:
        return Status.BLOCKED_BY
    if relation.following_since is not None:
        return Status.FOLLOWING
    if relation.requested_at is not None:
        return Status.REQUESTED
    return Status.NONE


def user_not_found(user_id: str) -> NotFound:
    return NotFound(f"user {user_id} does not exist", reason="USER_NOT_FOUND",
                    metadata={"user_id": user_id})


def not_self(actor: str, target: str, field: str, action: str) -> None:
    if actor == target:
        raise InvalidArgument(FieldViolation(field, f"you cannot {action} yourself"),
                              reason="SELF_RELATIONSHIP")


def pair_subject(a: str, b: str) -> str:
    """One pending subject per pair, whichever user acts."""
    return ":".join(sorted((a, b)))


def pair_change(field: str, action: str) -> Callable[[F], F]:
    """A Relations method changing (actor, other): `other` is checked (a user id, not the
    actor), then the change runs recorded as pending (services/runtime/pending.py)."""
    def decorate(method: F) -> F:
        @functools.wraps(method)
        async def run(self: Relations, actor: str, other: str) -> Any:
            other = require_uuid(field, other)
            not_self(actor, other, field, action)
            async with self.pending.around(PAIR, pair_subject(actor, other)):
                return await method(self, actor, other)
        return run  # type: ignore[return-value]
    return decorate


def _contended(action: str) -> Unavailable:
    return Unavailable(f"{action} raced with other changes of the same users; retry",
                       reason="BACKEND_UNAVAILABLE")


class Relations:
    def __init__(self, store: GraphStore, counts: FollowCounts, events: GraphEvents,
                 pending: PendingChanges) -> None:
        self.pending = pending
        self._store = store
        self._counts = counts
        self._events = events

    async def existing(self, user_id: str) -> ProfileRow:
        profile = await self._store.profile(user_id)
        if profile is None:
            raise user_not_found(user_id)
        return profile

    async def _commit(self, relation: Relation, values: dict[str, int | None]) -> bool:
        return await self._store.compare_and_set(relation.user_id, relation.other_id,
                                                 relation.as_read(), values)

    @staticmethod
    def _pairs(follower: str, followee: str) -> list[tuple[str, str]]:
        return [(cache.FOLLOWING, follower), (cache.FOLLOWERS, followee)]

    async def _begin_count(self, follower: str, followee: str) -> None:
        """Before the list rows of a follow's start or end are written (cache.py)."""
        try:
            await self._counts.begin(self._pairs(follower, followee))
        except Exception as exc:  # noqa: BLE001 - best effort; the keys' TTL bounds drift
            log.warning("could not mark follow counts of %s/%s busy: %r", follower, followee,
                        exc)

    async def _count(self, follower: str, followee: str, delta: int) -> None:
        await self._counts.add([(cache.FOLLOWING, follower, delta),
                                (cache.FOLLOWERS, followee, delta)])

    async def _forget_counts(self, follower: str, followee: str) -> None:
        """The change's effect on the counts is unknown: set them aside for one rebuild."""
        try:
            await self._counts.forget(self._pairs(follower, followee))
        except Exception as exc:  # noqa: BLE001 - best effort; the keys' TTL bounds drift
            log.warning("could not drop follow counts of %s/%s: %r", follower, followee, exc)

    # --- follow --------------------------------------------------------------------------

    @pair_change("user_id", "follow")
    async def follow(self, viewer: str, target: str) -> Status:
        # The target's profile and the pair's relation are read at once (first attempt).
        profile, rel = await asyncio.gather(self.existing(target),
                                            self._store.relation(viewer, target))
        for attempt in range(ATTEMPTS):
            if attempt:
                rel = await self._store.relation(viewer, target)
            if rel.blocked_by_since is not None:
                raise user_not_found(target)
            if rel.blocking_since is not None:
                raise FailedPrecondition("you have blocked this user; unblock them first",
                                         reason="USER_BLOCKED", metadata={"user_id": target})
            if rel.following_since is not None:
                await self._after_follow(viewer, target, rel.following_since, counted=False)
                return Status.FOLLOWING
            if profile.private:
                if rel.requested_at is not None:
                    await self._after_request(viewer, target, rel.requested_at)
                    return Status.REQUESTED
                at = now_ms()
                if await self._commit(rel, {"requested_at": at}):
                    await self._after_request(viewer, target, at)
                    return Status.REQUESTED
                continue
            # Public (perhaps a request left from when the account was private).
            if await self._start_following(rel):
                return Status.FOLLOWING
        raise _contended("follow")

    async def _after_request(self, requester: str, target: str, at: int) -> None:
        await self._store.write(self._store.put_entry(REQUESTS, target, at, requester))
        await self._events.follow_requested(requester, target, at)

    async def _start_following(self, rel: Relation, approved: bool = False) -> bool:
        """Turn `rel` (no follow yet; maybe a pending request) into a follow. False if a
        concurrent change got in first."""
        follower, followee = rel.user_id, rel.other_id
        if rel.requested_at is not None:
            await self._store.write(self._store.drop_entry(REQUESTS, followee, rel.requested_at,
                                                           follower))
        since = fresh_ms(rel.ended_following_since)
        if not await self._commit(rel, {"following_since": since, "requested_at": None}):
            return False
        await self._after_follow(follower, followee, since, counted=True, approved=approved)
        return True

    async def _after_follow(self, follower: str, followee: str, since: int, *, counted: bool,
                            approved: bool = False) -> None:
        if counted:
            await self._begin_count(follower, followee)
        try:
            await self._store.write(
                self._store.put_entry(FOLLOWING, follower, since, followee),
                self._store.put_entry(FOLLOWERS, followee, since, follower),
                self._store.mirror(followee, follower, "followed_by_since", since))
        except BaseException:
            if counted:
                await self._forget_counts(follower, followee)
            raise
        async def publish() -> None:
            if approved:
                await self._events.follow_approved(follower, followee, since)
            await self._events.followed(follower, followee, since)

        # Counting and publishing do not depend on each other: both at once.
        if counted:
            await asyncio.gather(publish(), self._counted(follower, followee, +1))
        else:
            await publish()

    async def _counted(self, follower: str, followee: str, delta: int) -> None:
        try:
            await self._count(follower, followee, delta)
        except BaseException:
            await self._forget_counts(follower, followee)
            raise

    # --- unfollow ------------------------------------------------------------------------

    @pair_change("user_id", "unfollow")
    async def unfollow(self, viewer: str, target: str) -> Status:
        await self.existing(target)
        for _ in range(ATTEMPTS):
            rel = await self._store.relation(viewer, target)
            if rel.following_since is not None:
                if await self._end_follow(rel, ended=True):
                    await self._events.unfollowed(viewer, target, rel.following_since)
                    return Status.NONE
                continue
            if rel.requested_at is not None:
                if await self._withdraw_request(rel):
                    return Status.NONE
                continue
            if rel.ended_following_since is not None and rel.blocked_by_since is None:
                # Ended before (a repeat, or a retry after a failure): finish and republish.
                await self._drop_follow_rows(viewer, target, rel.ended_following_since)
                await self._events.unfollowed(viewer, target, rel.ended_following_since)
            return Status.NONE
        raise _contended("unfollow")

    async def _end_follow(self, rel: Relation, *, ended: bool) -> bool:
        """Remove the follow of `rel`: the commit, then its list rows (their removal is
        timestamped after the follow's puts, so a put still on its way cannot bring them
        back; a failure in between is finished by the unfollow's retry)."""
        follower, followee, since = rel.user_id, rel.other_id, rel.following_since
        assert since is not None
        values: dict[str, int | None] = {"following_since": None, "requested_at": None}
        if ended:
            values["ended_following_since"] = since
        if not await self._commit(rel, values):
            return False
        await self._begin_count(follower, followee)
        try:
            await self._drop_follow_rows(follower, followee, since)
            await self._count(follower, followee, -1)
        except BaseException:
            await self._forget_counts(follower, followee)
            raise
        return True

    async def _drop_follow_rows(self, follower: str, followee: str, since: int) -> None:
        await self._store.write(
            self._store.drop_entry(FOLLOWING, follower, since, followee),
            self._store.drop_entry(FOLLOWERS, followee, since, follower),
            self._store.mirror(followee, follower, "followed_by_since", None,
                               replacing_ms=since))

    async def _withdraw_request(self, rel: Relation) -> bool:
        assert rel.requested_at is not None
        await self._store.write(self._store.drop_entry(REQUESTS, rel.other_id, rel.requested_at,
                                                       rel.user_id))
        return await self._commit(rel, {"requested_at": None})

    # --- requests ------------------------------------------------------------------------

    @pair_change("requester_user_id", "approve")
    async def approve(self, owner: str, requester: str) -> None:
        for _ in range(ATTEMPTS):
            rel = await self._store.relation(requester, owner)
            if rel.following_since is not None:  # approved before: finish and republish
                await self._after_follow(requester, owner, rel.following_since, counted=False,
                                         approved=True)
                return
            if rel.requested_at is None or rel.blocked_by_since is not None:
                raise self._no_request(requester)
            if await self._start_following(rel, approved=True):
                return
        raise _contended("approve")

    @pair_change("requester_user_id", "reject")
    async def reject(self, owner: str, requester: str) -> None:
        for _ in range(ATTEMPTS):
            rel = await self._store.relation(requester, owner)
            if rel.requested_at is None:
                raise self._no_request(requester)
            if await self._withdraw_request(rel):
                return
        raise _contended("reject")

    async def approve_all(self, owner: str, page_size: int = 500) -> int:
        """Approve every pending request to `owner` (the account went public)."""
        approved = 0
        state: bytes | None = None
        while True:
            entries, state = await self._store.list_page(REQUESTS, owner, page_size, state)
            for entry in entries:
                rel = await self._store.relation(entry.other_id, owner)
                if rel.requested_at is None:  # a stale row: drop it
                    await self._store.write(self._store.drop_entry(
                        REQUESTS, owner, entry.at_ms, entry.other_id))
                    continue
                await self.approve(owner, entry.other_id)
                approved += 1
            if not state:
                return approved

    @staticmethod
    def _no_request(requester: str) -> NotFound:
        return NotFound(f"there is no pending follow request from {requester}",
                        reason="FOLLOW_REQUEST_NOT_FOUND", metadata={"requester_user_id":
                                                                     requester})

    # --- blocks --------------------------------------------------------------------------

    @pair_change("user_id", "block")
    async def block(self, viewer: str, target: str) -> None:
        await self.existing(target)
        for _ in range(ATTEMPTS):
            rel = await self._store.relation(viewer, target)
            at = rel.blocking_since if rel.blocking_since is not None else \
                fresh_ms(rel.ended_blocking_since)
            removed_following = False
            if rel.blocking_since is None:
                # The guard first: from now on the target cannot follow or request.
                await self._store.write(self._store.mirror(target, viewer, "blocked_by_since",
                                                           at))
                drops: list[tuple[str, Sequence[Any]]] = []
                if rel.following_since is not None:
                    drops += [self._store.drop_entry(FOLLOWING, viewer, rel.following_since,
                                                     target),
                              self._store.drop_entry(FOLLOWERS, target, rel.following_since,
                                                     viewer),
                              self._store.mirror(target, viewer, "followed_by_since", None,
                                                 replacing_ms=rel.following_since)]
                if rel.requested_at is not None:
                    drops.append(self._store.drop_entry(REQUESTS, target, rel.requested_at,
                                                        viewer))
                following = rel.following_since is not None
                if following:
                    await self._begin_count(viewer, target)
                try:
                    if drops:
                        await self._store.write(*drops)
                    committed = await self._commit(rel, {"blocking_since": at,
                                                         "following_since": None,
                                                         "requested_at": None})
                    if following:
                        if committed:
                            await self._count(viewer, target, -1)
                        else:  # rows dropped, the follow perhaps not ended: recount
                            await self._forget_counts(viewer, target)
                except BaseException:
                    if following:
                        await self._forget_counts(viewer, target)
                    raise
                if not committed:
                    continue
                removed_following = following
            await self._store.write(self._store.put_entry(BLOCKS, viewer, at, target),
                                    self._store.mirror(target, viewer, "blocked_by_since", at))
            removed_follower = await self._end_inbound(target, viewer)
            await self._events.blocked(viewer, target, at, removed_following, removed_follower)
            return
        raise _contended("block")

    async def settle(self, subject: str) -> None:
        """The sweeper's finisher of a pair (`subject`: the two ids): each direction's
        derived rows and event redone from its relation row (the same event ids), the
        pair's cached counts dropped (rebuilt from the edge rows on the next read)."""
        a, b = subject.split(":")
        for viewer, target in ((a, b), (b, a)):
            rel = await self._store.relation(viewer, target)
            if rel.blocking_since is not None:
                await self.block(viewer, target)
                continue
            if rel.ended_blocking_since is not None:
                await self.unblock(viewer, target)
            if rel.following_since is not None:
                await self._after_follow(viewer, target, rel.following_since, counted=False)
            elif rel.requested_at is not None:
                await self._after_request(viewer, target, rel.requested_at)
            elif rel.ended_following_since is not None and rel.blocked_by_since is None:
                await self._drop_follow_rows(viewer, target, rel.ended_following_since)
                await self._events.unfollowed(viewer, target, rel.ended_following_since)
        await self._counts.forget([(cache.FOLLOWING, a), (cache.FOLLOWERS, a),
                                   (cache.FOLLOWING, b), (cache.FOLLOWERS, b)])

    async def _end_inbound(self, other: str, blocker: str) -> bool:
        """Remove `other`'s follow of or request to `blocker`; True if a follow ended."""
        for _ in range(ATTEMPTS):
            rel = await self._store.relation(other, blocker)
            if rel.following_since is not None:
                if await self._end_follow(rel, ended=False):
                    return True
                continue
            if rel.requested_at is not None:
                if await self._withdraw_request(rel):
                    return False
                continue
            return False
        raise _contended("block")

    @pair_change("user_id", "unblock")
    async def unblock(self, viewer: str, target: str) -> None:
        await self.existing(target)
        for _ in range(ATTEMPTS):
            rel = await self._store.relation(viewer, target)
            if rel.blocking_since is None:
                if rel.ended_blocking_since is not None:  # finish a half-done unblock
                    await self._store.write(self._store.mirror(
                        target, viewer, "blocked_by_since", None,
                        replacing_ms=rel.ended_blocking_since))
                    await self._events.unblocked(viewer, target, rel.ended_blocking_since)
                return
            since = rel.blocking_since
            await self._store.write(self._store.drop_entry(BLOCKS, viewer, since, target))
            if not await self._commit(rel, {"blocking_since": None,
                                            "ended_blocking_since": since}):
                continue
            await self._store.write(self._store.mirror(target, viewer, "blocked_by_since", None,
                                                       replacing_ms=since))
            await self._events.unblocked(viewer, target, since)
            return
        raise _contended("unblock")
