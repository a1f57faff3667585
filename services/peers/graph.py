"""The social graph as its peers see it: its batch and paging RPCs, cut into the sizes
the contract allows and sent concurrently, answered as small domain types.

Reads made for a cache shared by all callers (summaries, relations, id lists) and the
internal RPCs are made as the calling service itself (`ServiceCredentials`), never with a
user's token, so what is cached does not depend on who asked first. `resolve_usernames`
acts for the caller. Deadlines and retries are the peer layer's (services/peers/mesh.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc import aio
from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb

from services.peers.audience import Relation
from services.runtime.auth import ServiceCredentials
from services.runtime.errors import Unavailable

CHECK_BATCH = 1000  # BatchCheckFollowing: at most this many targets per call
SUMMARY_BATCH = 500  # BatchGetUserSummaries: at most this many users per call
ID_PAGE = 5000  # ListFollowerIds / ListFollowingIds: the largest page
_RETRY_LATER = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


@dataclass(frozen=True)
class IdPage:
    """One page of follower or following ids, and the list's total size."""

    user_ids: list[str]
    next_page_token: str
    total_count: int


def _chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def relation_of(check: graph_pb.FollowCheck) -> Relation:
    blocked = check.blocked or check.status in (graph_pb.RELATIONSHIP_STATUS_BLOCKED,
                                                graph_pb.RELATIONSHIP_STATUS_BLOCKED_BY)
    return Relation(following=check.status == graph_pb.RELATIONSHIP_STATUS_FOLLOWING,
                    followed_by=check.followed_by, blocked=blocked)


class GraphPeer:
    def __init__(self, stub: object, credentials: ServiceCredentials) -> None:
        self._stub: Any = stub
        self._credentials = credentials

    async def summaries(self, user_ids: Iterable[str]) -> dict[str, UserSummary]:
        """Summaries of the known users among `user_ids` (unknown ones are absent)."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        with self._credentials.acting():
            replies = await asyncio.gather(*(self._stub.BatchGetUserSummaries(
                graph_pb.BatchGetUserSummariesRequest(user_ids=chunk))
                for chunk in _chunks(ids, SUMMARY_BATCH)))
        return {u.user_id: u for reply in replies for u in reply.users}

    async def relations(self, user_id: str, targets: Iterable[str]) -> dict[str, Relation]:
        """`user_id`'s relation to each target."""
        ids = [t for t in dict.fromkeys(targets) if t != user_id]
        if not ids:
            return {}
        with self._credentials.acting():
            replies = await asyncio.gather(*(self._stub.BatchCheckFollowing(
                graph_pb.BatchCheckFollowingRequest(user_id=user_id, target_user_ids=chunk))
                for chunk in _chunks(ids, CHECK_BATCH)))
        return {c.target_user_id: relation_of(c) for reply in replies for c in reply.checks}

    async def follower_page(self, user_id: str, page_size: int, page_token: str = ""
                            ) -> IdPage:
        with self._credentials.acting():
            reply = await self._stub.ListFollowerIds(graph_pb.ListFollowerIdsRequest(
                user_id=user_id, page_size=page_size, page_token=page_token))
        return IdPage(list(reply.user_ids), reply.next_page_token, reply.total_count)

    async def follower_ids(self, user_id: str, limit: int) -> list[str] | None:
        """All of `user_id`'s followers, or None when they have more than `limit`."""
        found: list[str] = []
        token = ""
        while True:
            page = await self.follower_page(user_id, ID_PAGE, token)
            if not token and page.total_count > limit:
                return None
            found.extend(page.user_ids)
            token = page.next_page_token
            if not token:
                return found if len(found) <= limit else None

    async def following_ids(self, user_id: str, limit: int) -> list[str]:
        """Up to `limit` ids of the users `user_id` follows."""
        found: list[str] = []
        token = ""
        with self._credentials.acting():
            while len(found) < limit:
                reply = await self._stub.ListFollowingIds(graph_pb.ListFollowingIdsRequest(
                    user_id=user_id, page_size=min(ID_PAGE, limit - len(found)),
                    page_token=token))
                found.extend(reply.user_ids)
                token = reply.next_page_token
                if not token:
                    break
        return found[:limit]

    async def resolve_usernames(self, usernames: Sequence[str]) -> list[tuple[str, str]]:
        """(user id, username) of the existing users among `usernames`, in order, as the
        caller sees them (a user who blocks the caller is not found)."""
        async def lookup(name: str) -> tuple[str, str] | None:
            try:
                reply = await self._stub.GetProfileByUsername(
                    graph_pb.GetProfileByUsernameRequest(username=name))
            except aio.AioRpcError as exc:
                if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                    return None
                raise
            return reply.profile.user_id, reply.profile.username or name

        found = await asyncio.gather(*(lookup(n) for n in usernames))
        return list(dict.fromkeys(m for m in found if m is not None))

    async def create_profile(self, user_id: str, username: str, display_name: str) -> None:
        """The profile of a new account (internal, as the auth service; idempotent).
        UNAVAILABLE when the graph cannot be reached: the caller's retry completes it."""
        request = graph_pb.CreateProfileRequest(user_id=user_id, username=username,
                                                display_name=display_name)
        try:
            with self._credentials.acting():
                await self._stub.CreateProfile(request)
        except aio.AioRpcError as exc:
            if exc.code() in _RETRY_LATER:
                raise Unavailable("the profile service is unavailable; retry with the same "
                                  "request", reason="BACKEND_UNAVAILABLE") from None
            raise
