"""The feed's calls to the social graph and post services.

Calls made while serving a user forward that user's token (post visibility and
``liked_by_caller`` are the caller's); the fan-out worker wraps its calls in
``service_credentials("feed_fanout").acting()``. Internal graph RPCs (follower and
following ids) are made as the feed service itself (`graph_credentials`), never as a user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as graph_grpc
from photomesh.post.v1 import post_service_pb2 as post_pb
from photomesh.post.v1 import post_service_pb2_grpc as post_grpc

from services.runtime.auth import ServiceCredentials
from services.runtime.grpc_clients import peer_channel

PEER_TIMEOUT = 5.0
MAX_BATCH_GET = 500


@dataclass(frozen=True)
class FollowerPage:
    user_ids: list[str]
    next_page_token: str
    total_count: int


class Graph:
    def __init__(self, target: str, credentials: ServiceCredentials) -> None:
        self._channel = peer_channel(target)
        self._stub = graph_grpc.SocialGraphServiceStub(self._channel)
        self._credentials = credentials

    async def follower_page(self, user_id: str, page_size: int, page_token: str = ""
                            ) -> FollowerPage:
        with self._credentials.acting():
            reply = await self._stub.ListFollowerIds(graph_pb.ListFollowerIdsRequest(
                user_id=user_id, page_size=page_size, page_token=page_token),
                timeout=PEER_TIMEOUT)
        return FollowerPage(list(reply.user_ids), reply.next_page_token, reply.total_count)

    async def following_ids(self, user_id: str, limit: int = 20_000) -> list[str]:
        """Everyone `user_id` follows (up to `limit`)."""
        found: list[str] = []
        token = ""
        with self._credentials.acting():
            while len(found) < limit:
                reply = await self._stub.ListFollowingIds(graph_pb.ListFollowingIdsRequest(
                    user_id=user_id, page_size=5000, page_token=token), timeout=PEER_TIMEOUT)
                found.extend(reply.user_ids)
                token = reply.next_page_token
                if not token:
                    break
        return found

    async def close(self) -> None:
        await self._channel.close()


class Posts:
    def __init__(self, target: str) -> None:
        self._channel = peer_channel(target)
        self._stub = post_grpc.PostServiceStub(self._channel)

    async def batch_get(self, post_ids: Sequence[int]
                        ) -> tuple[dict[int, post_pb.Post], list[int]]:
        """Posts as the forwarded caller sees them, and the ids missing or hidden."""
        if not post_ids:
            return {}, []
        found: dict[int, post_pb.Post] = {}
        missing: list[int] = []
        for start in range(0, len(post_ids), MAX_BATCH_GET):
            reply = await self._stub.BatchGetPosts(post_pb.BatchGetPostsRequest(
                post_ids=post_ids[start:start + MAX_BATCH_GET]), timeout=PEER_TIMEOUT)
            found.update((p.post_id, p) for p in reply.posts)
            missing.extend(reply.missing_post_ids)
        return found, missing

    async def user_posts(self, user_id: str, page_size: int, page_token: str
                         ) -> post_pb.ListUserPostsResponse:
        return await self._stub.ListUserPosts(post_pb.ListUserPostsRequest(
            user_id=user_id, page_size=page_size, page_token=page_token),
            timeout=PEER_TIMEOUT)

    async def close(self) -> None:
        await self._channel.close()
