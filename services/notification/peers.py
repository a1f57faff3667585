"""Calls from the notification service and worker to the social graph, made as the
notification service itself (internal RPCs, no user token involved)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from grpc import aio
from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as graph_grpc

from services.runtime.auth import ServiceCredentials

CHECK_BATCH = 1000
SUMMARY_BATCH = 500
FOLLOWER_PAGE = 5000


class GraphPeer:
    def __init__(self, channel: aio.Channel, credentials: ServiceCredentials) -> None:
        self._stub = graph_grpc.SocialGraphServiceStub(channel)
        self._creds = credentials

    async def blocked_between(self, user_id: str, others: Sequence[str]) -> set[str]:
        """Those of `others` who block `user_id` or are blocked by them."""
        blocked: set[str] = set()
        with self._creds.acting():
            for start in range(0, len(others), CHECK_BATCH):
                reply = await self._stub.BatchCheckFollowing(graph_pb.BatchCheckFollowingRequest(
                    user_id=user_id, target_user_ids=others[start:start + CHECK_BATCH]))
                blocked.update(c.target_user_id for c in reply.checks if c.blocked or c.status in (
                    graph_pb.RELATIONSHIP_STATUS_BLOCKED, graph_pb.RELATIONSHIP_STATUS_BLOCKED_BY))
        return blocked

    async def follower_ids(self, user_id: str, limit: int) -> list[str] | None:
        """The user's follower ids, or None if they have more than `limit`."""
        found: list[str] = []
        token = ""
        with self._creds.acting():
            while True:
                reply = await self._stub.ListFollowerIds(graph_pb.ListFollowerIdsRequest(
                    user_id=user_id, page_size=FOLLOWER_PAGE, page_token=token))
                if not token and reply.total_count > limit:
                    return None
                found.extend(reply.user_ids)
                token = reply.next_page_token
                if not token:
                    return found if len(found) <= limit else None

    async def summaries(self, user_ids: Iterable[str]) -> dict[str, UserSummary]:
        ids = list(dict.fromkeys(user_ids))
        found: dict[str, UserSummary] = {}
        with self._creds.acting():
            for start in range(0, len(ids), SUMMARY_BATCH):
                reply = await self._stub.BatchGetUserSummaries(
                    graph_pb.BatchGetUserSummariesRequest(
                        user_ids=ids[start:start + SUMMARY_BATCH]))
                found.update((u.user_id, u) for u in reply.users)
        return found
