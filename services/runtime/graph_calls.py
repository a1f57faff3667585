"""The social graph's batch RPCs, cut into the chunk sizes its contract allows and sent
concurrently: the one way any service asks them. Calls carry whatever credentials are
current (the caller's forwarded token, or a service's inside `creds.acting()`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as graph_grpc

CHECK_BATCH = 1000  # BatchCheckFollowing: at most this many targets per call
SUMMARY_BATCH = 500  # BatchGetUserSummaries: at most this many users per call
TIMEOUT_SECONDS = 5.0


def _chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


async def summaries(stub: graph_grpc.SocialGraphServiceStub, user_ids: Iterable[str]
                    ) -> dict[str, UserSummary]:
    """Summaries of the known users among `user_ids` (unknown ones are absent)."""
    ids = list(dict.fromkeys(user_ids))
    replies = await asyncio.gather(*(stub.BatchGetUserSummaries(
        graph_pb.BatchGetUserSummariesRequest(user_ids=chunk), timeout=TIMEOUT_SECONDS)
        for chunk in _chunks(ids, SUMMARY_BATCH)))
    return {u.user_id: u for reply in replies for u in reply.users}


async def relationships(stub: graph_grpc.SocialGraphServiceStub, user_id: str,
                        targets: Iterable[str]) -> dict[str, graph_pb.FollowCheck]:
    """`user_id`'s relationship to each target."""
    ids = list(dict.fromkeys(targets))
    replies = await asyncio.gather(*(stub.BatchCheckFollowing(
        graph_pb.BatchCheckFollowingRequest(user_id=user_id, target_user_ids=chunk),
        timeout=TIMEOUT_SECONDS) for chunk in _chunks(ids, CHECK_BATCH)))
    return {c.target_user_id: c for reply in replies for c in reply.checks}


def is_blocked(check: graph_pb.FollowCheck) -> bool:
    """Either side blocks the other."""
    return check.blocked or check.status in (graph_pb.RELATIONSHIP_STATUS_BLOCKED,
                                             graph_pb.RELATIONSHIP_STATUS_BLOCKED_BY)
