"""The story service's calls to its peers: the social graph (followees, relationships,
user summaries) and media (the item a story shows).

Internal graph RPCs are called as the story service itself (service credentials); the
media item is asked for with the caller's own token, as the caller attaches it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from grpc import aio
from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as graph_grpc
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc

from services.runtime.auth import ServiceCredentials

FOLLOWING_PAGE = 5000
CHECK_BATCH = 1000
SUMMARY_BATCH = 500


class GraphPeer:
    def __init__(self, channel: aio.Channel, credentials: ServiceCredentials) -> None:
        self._stub = graph_grpc.SocialGraphServiceStub(channel)
        self._creds = credentials

    async def following_ids(self, user_id: str, limit: int) -> list[str]:
        """Up to `limit` ids of the users `user_id` follows."""
        found: list[str] = []
        token = ""
        with self._creds.acting():
            while len(found) < limit:
                reply = await self._stub.ListFollowingIds(graph_pb.ListFollowingIdsRequest(
                    user_id=user_id, page_size=min(FOLLOWING_PAGE, limit - len(found)),
                    page_token=token))
                found.extend(reply.user_ids)
                token = reply.next_page_token
                if not token:
                    break
        return found[:limit]

    async def relationships(self, user_id: str, targets: Sequence[str]
                            ) -> dict[str, graph_pb.FollowCheck]:
        """`user_id`'s relationship to each target."""
        checks: dict[str, graph_pb.FollowCheck] = {}
        with self._creds.acting():
            for start in range(0, len(targets), CHECK_BATCH):
                reply = await self._stub.BatchCheckFollowing(graph_pb.BatchCheckFollowingRequest(
                    user_id=user_id, target_user_ids=targets[start:start + CHECK_BATCH]))
                checks.update((c.target_user_id, c) for c in reply.checks)
        return checks

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


class MediaPeer:
    def __init__(self, channel: aio.Channel) -> None:
        self._stub = media_grpc.MediaServiceStub(channel)

    async def get(self, media_id: str) -> media_pb.Media | None:
        """The media item (with the caller's token), or None if it does not exist."""
        reply = await self._stub.BatchGetMedia(media_pb.BatchGetMediaRequest(
            media_ids=[media_id]))
        return next((m for m in reply.media if m.media_id == media_id), None)
