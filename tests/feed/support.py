"""What the end-to-end feed tests do through the mesh: users, follows, posts (with READY
media made through the media contract), feed reads, and polling with a timeout."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from photomesh.feed.v1 import feed_service_pb2 as fpb
from photomesh.feed.v1 import feed_service_pb2_grpc as fgrpc
from photomesh.post.v1 import post_service_pb2 as ppb
from photomesh.post.v1 import post_service_pb2_grpc as pgrpc

from tests.graph_support import User, Users, follow, graph_stub
from tests.media_support import ready_media_ids

T = TypeVar("T")
POLL_TIMEOUT = 20.0


#: What the read model promises (post_cards.py, README "Read models"): an event is applied
#: within this many seconds of the write it reports (milliseconds when the machine is quiet).
APPLIED_WITHIN = 5.0


async def eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool],
                     timeout: float = POLL_TIMEOUT, what: str = "condition") -> T:
    """Call `probe` until `accept` holds for its result; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last: {value!r}")
        await asyncio.sleep(0.1)


@dataclass
class World:
    """Stubs of one test's mesh and helpers to act as its users."""

    channel_to: Callable

    def __post_init__(self) -> None:
        self.feed = fgrpc.FeedServiceStub(self.channel_to("feed"))
        self.posts = pgrpc.PostServiceStub(self.channel_to("post"))
        self.graph = graph_stub(self.channel_to("graph"))
        self._auth = self.channel_to("auth")
        self._media = self.channel_to("media")

    async def users(self, n: int) -> list[User]:
        return await Users.register(self._auth, n, prefix="feed")

    async def follow(self, followers: list[User], target: User) -> None:
        await asyncio.gather(*(follow(self.graph, f, target.user_id) for f in followers))

    async def post(self, author: User, caption: str = "a photo") -> ppb.Post:
        (media_id,) = await ready_media_ids(self._media, author.token, 1)
        reply = await self.posts.CreatePost(ppb.CreatePostRequest(
            request_id=str(uuid.uuid4()), caption=caption, media_ids=[media_id]),
            metadata=author.md)
        return reply.post

    async def posts_of(self, author: User, n: int) -> list[ppb.Post]:
        """`n` posts, made one after the other (ids increase), media made concurrently."""
        media = await ready_media_ids(self._media, author.token, n)
        made = []
        for i, media_id in enumerate(media):
            reply = await self.posts.CreatePost(ppb.CreatePostRequest(
                request_id=str(uuid.uuid4()), caption=f"post {i}", media_ids=[media_id]),
                metadata=author.md)
            made.append(reply.post)
        return made

    async def home(self, user: User, page_size: int = 50, page_token: str = "",
                   mode: int = fpb.FEED_MODE_CHRONOLOGICAL) -> fpb.GetHomeFeedResponse:
        return await self.feed.GetHomeFeed(fpb.GetHomeFeedRequest(
            page_size=page_size, page_token=page_token, mode=mode), metadata=user.md,
            timeout=10)

    async def home_ids(self, user: User, mode: int = fpb.FEED_MODE_CHRONOLOGICAL
                       ) -> list[int]:
        return [i.post.post_id for i in (await self.home(user, mode=mode)).items]

    async def wait_in_feed(self, user: User, post_id: int, present: bool = True) -> list[int]:
        return await eventually(lambda: self.home_ids(user),
                                lambda ids: (post_id in ids) == present,
                                what=f"post {post_id} {'in' if present else 'gone from'} "
                                     f"the home feed")
