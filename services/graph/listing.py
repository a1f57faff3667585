"""Reading the graph: follower/following lists, requests, blocks, counts, batch checks.

Lists page through one partition with the driver's paging state, sealed into the
AIP-158 page token (scope = list and subject, viewer = caller). Entries the viewer must not
see (users who block the viewer or whom the viewer blocks) are left out of a page, so a
page may be shorter than page_size while next_page_token is still set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from photomesh.common.v1.page_token_pb2 import PageTokenPayload

from services.graph import cache
from services.graph.cache import FollowCounts
from services.graph.relations import Status, status_of, user_not_found
from services.graph.store import (
    BLOCKS,
    FOLLOWERS,
    FOLLOWING,
    REQUESTS,
    GraphStore,
    ListTable,
    ProfileRow,
    Relation,
)
from services.runtime.auth import is_service_caller
from services.runtime.errors import FailedPrecondition, PermissionDenied
from services.runtime.pagination import PageTokens, page_size
from services.runtime.validation import require_uuid, uuid_batch

ID_PAGE_DEFAULT, ID_PAGE_MAX = 1000, 5000
BATCH_CHECK_MAX = 1000


@dataclass(frozen=True)
class Entry:
    """One user of a list, with when they entered it and the viewer's relation to them."""

    profile: ProfileRow
    at_ms: int
    status: Status


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next_page_token: str


@dataclass(frozen=True)
class IdPage:
    user_ids: list[str]
    next_page_token: str
    total_count: int


@dataclass(frozen=True)
class Check:
    target_user_id: str
    status: Status
    followed_by: bool
    blocked: bool
    target_private: bool


def self_or_service(caller: str, subject: str) -> str:
    """The subject of an internal RPC a user may call only about themself (`caller` a user
    id, or ``service:<name>`` for a mesh service)."""
    subject = require_uuid("user_id", subject)
    if not is_service_caller(caller) and caller != subject:
        raise PermissionDenied("you may only ask about yourself", reason="NOT_RESOURCE_OWNER",
                               metadata={"user_id": subject})
    return subject


class Listing:
    def __init__(self, store: GraphStore, counts: FollowCounts, tokens: PageTokens) -> None:
        self._store = store
        self._counts = counts
        self._tokens = tokens

    # --- counts --------------------------------------------------------------------------

    async def _rebuild(self, kind: str, user_id: str) -> int:
        return await self._store.count(FOLLOWERS if kind == cache.FOLLOWERS else FOLLOWING,
                                       user_id)

    async def counts(self, user_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(followers, following) of each user, from Redis (rebuilt from CQL when cold)."""
        followers, following = await asyncio.gather(
            self._counts.get_many(cache.FOLLOWERS, user_ids,
                                  lambda u: self._rebuild(cache.FOLLOWERS, u)),
            self._counts.get_many(cache.FOLLOWING, user_ids,
                                  lambda u: self._rebuild(cache.FOLLOWING, u)))
        return {u: (followers[u], following[u]) for u in user_ids}

    async def visible_counts(self, viewer: str, target: str) -> tuple[int, int]:
        target = require_uuid("user_id", target)
        await self.visible(viewer, target)
        return (await self.counts([target]))[target]

    # --- visibility ----------------------------------------------------------------------

    async def visible(self, viewer: str, target: str) -> tuple[ProfileRow, Relation]:
        """The target's profile and the viewer's relation to it; NOT_FOUND if it does not
        exist or blocks the viewer."""
        profile = await self._store.profile(target)
        relation = await self._store.relation(viewer, target)
        if profile is None or relation.blocked_by_since is not None:
            raise user_not_found(target)
        return profile, relation

    async def _lists_visible(self, viewer: str, target: str) -> None:
        profile, relation = await self.visible(viewer, target)
        status = status_of(relation)
        if status is Status.BLOCKED:
            raise FailedPrecondition("you have blocked this user; unblock them first",
                                     reason="USER_BLOCKED", metadata={"user_id": target})
        if profile.private and status not in (Status.SELF, Status.FOLLOWING):
            raise PermissionDenied("this account is private; follow it and wait for approval",
                                   reason="ACCOUNT_PRIVATE", metadata={"user_id": target})

    # --- pages ---------------------------------------------------------------------------

    async def _page(self, table: ListTable, subject: str, viewer: str, requested_size: int,
                    token: str, rpc: str, *, hide_blocked: bool = True) -> Page:
        scope = f"graph.{rpc}/{subject}"
        size = page_size(requested_size)
        cursor = self._tokens.open(token, scope=scope, viewer=viewer)
        entries, state = await self._store.list_page(
            table, subject, size, cursor.paging_state if cursor else None)
        ids = [e.other_id for e in entries]
        profiles = await self._store.profiles(ids)
        relations = await self._store.relations(viewer, ids)
        shown = []
        for entry in entries:
            profile, relation = profiles.get(entry.other_id), relations[entry.other_id]
            status = status_of(relation)
            if profile is None or (hide_blocked and status in (Status.BLOCKED,
                                                                 Status.BLOCKED_BY)):
                continue
            shown.append(Entry(profile, entry.at_ms, status))
        next_token = (self._tokens.seal(PageTokenPayload(paging_state=state), scope=scope,
                                        viewer=viewer) if state else "")
        return Page(shown, next_token)

    async def followers(self, viewer: str, target: str, size: int, token: str) -> Page:
        target = require_uuid("user_id", target)
        await self._lists_visible(viewer, target)
        return await self._page(FOLLOWERS, target, viewer, size, token, "ListFollowers")

    async def following(self, viewer: str, target: str, size: int, token: str) -> Page:
        target = require_uuid("user_id", target)
        await self._lists_visible(viewer, target)
        return await self._page(FOLLOWING, target, viewer, size, token, "ListFollowing")

    async def requests(self, owner: str, size: int, token: str) -> Page:
        return await self._page(REQUESTS, owner, owner, size, token, "ListFollowRequests")

    async def blocked(self, owner: str, size: int, token: str) -> Page:
        return await self._page(BLOCKS, owner, owner, size, token, "ListBlockedUsers",
                                hide_blocked=False)

    async def ids(self, caller: str, subject: str, followers: bool, requested_size: int,
                  token: str) -> IdPage:
        """A page of follower (or followee) ids, for mesh services and the user themself
        (`caller`: a user id, or ``service:<name>``)."""
        subject = self_or_service(caller, subject)
        rpc = "ListFollowerIds" if followers else "ListFollowingIds"
        table = FOLLOWERS if followers else FOLLOWING
        scope = f"graph.{rpc}/{subject}"
        size = page_size(requested_size, default=ID_PAGE_DEFAULT, maximum=ID_PAGE_MAX)
        cursor = self._tokens.open(token, scope=scope, viewer=caller)
        if cursor is None and await self._store.profile(subject) is None:
            raise user_not_found(subject)
        entries, state = await self._store.list_page(
            table, subject, size, cursor.paging_state if cursor else None)
        total = 0
        if cursor is None:
            total = (await self.counts([subject]))[subject][0 if followers else 1]
        next_token = (self._tokens.seal(PageTokenPayload(paging_state=state), scope=scope,
                                        viewer=caller) if state else "")
        return IdPage([e.other_id for e in entries], next_token, total)

    # --- batch check ---------------------------------------------------------------------

    async def check(self, caller: str, user_id: str, targets: Sequence[str]) -> list[Check]:
        """`user_id`'s relation to each target, for mesh services and the user themself."""
        user_id = self_or_service(caller, user_id)
        targets = uuid_batch("target_user_ids", targets, BATCH_CHECK_MAX)
        relations, profiles = await asyncio.gather(self._store.relations(user_id, list(targets)),
                                                   self._store.profiles(list(targets)))
        checks = []
        for target in targets:
            relation = relations[target]
            profile = profiles.get(target)
            checks.append(Check(
                target, status_of(relation),
                followed_by=relation.followed_by_since is not None,
                blocked=relation.blocking_since is not None
                or relation.blocked_by_since is not None,
                target_private=bool(profile and profile.private)))
        return checks
