"""What the discovery tests do through the mesh: users, posts with READY media, searches,
explore reads, and waiting (no sleeps) until the indexer has applied an event."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from photomesh.discovery.v1 import explore_service_pb2 as epb
from photomesh.discovery.v1 import explore_service_pb2_grpc as egrpc
from photomesh.discovery.v1 import search_service_pb2 as spb
from photomesh.discovery.v1 import search_service_pb2_grpc as sgrpc
from photomesh.post.v1 import post_service_pb2 as ppb
from photomesh.post.v1 import post_service_pb2_grpc as pgrpc

from tests.feed.support import eventually
from tests.graph_support import User, Users, graph_stub
from tests.media_support import ready_media_ids

__all__ = ["Discovery", "eventually", "unique_tag"]


def unique_tag(stem: str = "t") -> str:
    """A hashtag no other test uses (letters only after the stem)."""
    return stem + uuid.uuid4().hex[:12]


@dataclass
class Discovery:
    """Stubs of one test's mesh and helpers to act as its users."""

    channel_to: Callable

    def __post_init__(self) -> None:
        channel = self.channel_to("discovery")
        self.search = sgrpc.SearchServiceStub(channel)
        self.explore = egrpc.ExploreServiceStub(channel)
        self.posts = pgrpc.PostServiceStub(self.channel_to("post"))
        self.graph = graph_stub(self.channel_to("graph"))
        self._auth = self.channel_to("auth")
        self._media = self.channel_to("media")

    async def users(self, n: int) -> list[User]:
        return await Users.register(self._auth, n, prefix="dsc")

    async def post(self, author: User, caption: str) -> ppb.Post:
        (media_id,) = await ready_media_ids(self._media, author.token, 1)
        reply = await self.posts.CreatePost(ppb.CreatePostRequest(
            request_id=str(uuid.uuid4()), caption=caption, media_ids=[media_id]),
            metadata=author.md)
        return reply.post

    async def posts_of(self, author: User, captions: list[str]) -> list[ppb.Post]:
        """Posts made one after the other (ids increase), media made concurrently."""
        media = await ready_media_ids(self._media, author.token, len(captions))
        made = []
        for caption, media_id in zip(captions, media, strict=True):
            reply = await self.posts.CreatePost(ppb.CreatePostRequest(
                request_id=str(uuid.uuid4()), caption=caption, media_ids=[media_id]),
                metadata=author.md)
            made.append(reply.post)
        return made

    async def delete(self, author: User, post_id: int) -> None:
        await self.posts.DeletePost(ppb.DeletePostRequest(post_id=post_id), metadata=author.md)

    async def like(self, users: list[User], post_id: int) -> None:
        await asyncio.gather(*(self.posts.LikePost(ppb.LikePostRequest(post_id=post_id),
                                                   metadata=u.md) for u in users))

    # --- reads ----------------------------------------------------------------------------

    async def tag_ids(self, viewer: User, tag: str, *, top: bool = False, page_size: int = 50,
                      page_token: str = "") -> list[int]:
        return [p.post_id for p in (await self.tag_page(viewer, tag, top=top,
                                                        page_size=page_size,
                                                        page_token=page_token)).posts]

    async def tag_page(self, viewer: User, tag: str, *, top: bool = False,
                       page_size: int = 50, page_token: str = ""
                       ) -> spb.ListHashtagPostsResponse:
        order = spb.HASHTAG_POST_ORDER_TOP if top else spb.HASHTAG_POST_ORDER_RECENT
        return await self.search.ListHashtagPosts(spb.ListHashtagPostsRequest(
            hashtag=tag, order=order, page_size=page_size, page_token=page_token),
            metadata=viewer.md, timeout=10)

    async def query_ids(self, viewer: User, query: str) -> list[int]:
        reply = await self.search.SearchPosts(spb.SearchPostsRequest(query=query, page_size=50),
                                              metadata=viewer.md, timeout=10)
        return [p.post_id for p in reply.posts]

    async def wait_tag(self, viewer: User, tag: str, expected: list[int], **kwargs: object
                       ) -> list[int]:
        """Wait until the hashtag lists exactly `expected` for `viewer`."""
        return await eventually(lambda: self.tag_ids(viewer, tag, **kwargs),  # type: ignore[arg-type]
                                lambda ids: ids == expected, what=f"#{tag} lists {expected}")

    async def explore_all(self, viewer: User, page_size: int = 50) -> list[epb.ExploreItem]:
        """Every page of the viewer's explore page."""
        items: list[epb.ExploreItem] = []
        token = ""
        while True:
            reply = await self.explore.GetExplorePage(epb.GetExplorePageRequest(
                page_size=page_size, page_token=token), metadata=viewer.md, timeout=10)
            items += reply.items
            token = reply.next_page_token
            if not token:
                return items

    async def trending_post_ids(self, viewer: User) -> list[int]:
        ids: list[int] = []
        token = ""
        while True:
            reply = await self.explore.ListTrendingPosts(epb.ListTrendingPostsRequest(
                page_size=50, page_token=token), metadata=viewer.md, timeout=10)
            ids += [i.post.post_id for i in reply.items]
            token = reply.next_page_token
            if not token:
                return ids
