"""The feed's calls to the post service, for what its read model lacks. Calls made while
serving a user forward that user's token (post visibility and ``liked_by_caller`` are the
caller's). The social graph is read through the feed's social view (services/peers)."""

from __future__ import annotations

from collections.abc import Sequence

from photomesh.post.v1 import post_service_pb2 as post_pb
from photomesh.post.v1 import post_service_pb2_grpc as post_grpc

from services.runtime.grpc_clients import peer_channel

PEER_TIMEOUT = 5.0
MAX_BATCH_GET = 500


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

    async def like_status(self, post_ids: Sequence[int]) -> list[tuple[int, bool]]:
        """Whether the forwarded caller likes each post."""
        found: list[tuple[int, bool]] = []
        for start in range(0, len(post_ids), MAX_BATCH_GET):
            reply = await self._stub.BatchGetLikeStatus(post_pb.BatchGetLikeStatusRequest(
                post_ids=post_ids[start:start + MAX_BATCH_GET]), timeout=PEER_TIMEOUT)
            found.extend((s.post_id, s.liked) for s in reply.statuses)
        return found

    async def user_posts(self, user_id: str, page_size: int, page_token: str
                         ) -> post_pb.ListUserPostsResponse:
        return await self._stub.ListUserPosts(post_pb.ListUserPostsRequest(
            user_id=user_id, page_size=page_size, page_token=page_token),
            timeout=PEER_TIMEOUT)

    async def close(self) -> None:
        await self._channel.close()
