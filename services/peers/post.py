"""The post service as its peers see it (the feed asks it for what its read model lacks),
as the caller being served (the forwarded token decides visibility and liked_by_caller)."""

from __future__ import annotations

from collections.abc import Sequence

from photomesh.post.v1 import post_service_pb2 as post_pb

MAX_BATCH_GET = 500


class PostPeer:
    def __init__(self, stub: object) -> None:
        self._stub = stub

    async def batch_get(self, post_ids: Sequence[int]
                        ) -> tuple[dict[int, post_pb.Post], list[int]]:
        """Posts as the caller sees them, and the ids missing or hidden."""
        found: dict[int, post_pb.Post] = {}
        missing: list[int] = []
        for start in range(0, len(post_ids), MAX_BATCH_GET):
            reply = await self._stub.BatchGetPosts(  # type: ignore[attr-defined]
                post_pb.BatchGetPostsRequest(post_ids=post_ids[start:start + MAX_BATCH_GET]))
            found.update((p.post_id, p) for p in reply.posts)
            missing.extend(reply.missing_post_ids)
        return found, missing

    async def like_status(self, post_ids: Sequence[int]) -> list[tuple[int, bool]]:
        """Whether the caller likes each post."""
        found: list[tuple[int, bool]] = []
        for start in range(0, len(post_ids), MAX_BATCH_GET):
            reply = await self._stub.BatchGetLikeStatus(  # type: ignore[attr-defined]
                post_pb.BatchGetLikeStatusRequest(post_ids=post_ids[start:start + MAX_BATCH_GET]))
            found.extend((s.post_id, s.liked) for s in reply.statuses)
        return found

    async def user_posts(self, user_id: str, page_size: int, page_token: str
                         ) -> post_pb.ListUserPostsResponse:
        return await self._stub.ListUserPosts(  # type: ignore[attr-defined, no-any-return]
            post_pb.ListUserPostsRequest(user_id=user_id, page_size=page_size,
                                         page_token=page_token))
