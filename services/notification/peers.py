"""Calls from the notification service and worker to the social graph, made as the
notification service itself (internal RPCs, no user token involved)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from grpc import aio
from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as graph_grpc

from services.runtime import graph_calls
from services.runtime.auth import ServiceCredentials

FOLLOWER_PAGE = 5000


class GraphPeer:
    def __init__(self, channel: aio.Channel, credentials: ServiceCredentials) -> None:
        self._stub = graph_grpc.SocialGraphServiceStub(channel)
        self._creds = credentials

    async def blocked_between(self, user_id: str, others: Sequence[str]) -> set[str]:
        """Those of `others` who block `user_id` or are blocked by them."""
        with self._creds.acting():
            checks = await graph_calls.relationships(self._stub, user_id, others)
        return {target for target, check in checks.items() if graph_calls.is_blocked(check)}

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
        with self._creds.acting():
            return await graph_calls.summaries(self._stub, user_ids)
