"""Fixtures of the post tests: signed-up users (auth + graph profile), ready media
(uploaded through the media contract and processed by the media worker) and stubs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest
from photomesh.graph.v1 import social_graph_service_pb2_grpc as graph_grpc
from photomesh.post.v1 import post_service_pb2 as pb
from photomesh.post.v1 import post_service_pb2_grpc as pb_grpc

from tests.graph_support import User, Users
from tests.helpers import stream_messages
from tests.media_support import ready_media


@pytest.fixture
def post(channel_to) -> pb_grpc.PostServiceStub:
    return pb_grpc.PostServiceStub(channel_to("post"))


@pytest.fixture
def graph(channel_to) -> graph_grpc.SocialGraphServiceStub:
    return graph_grpc.SocialGraphServiceStub(channel_to("graph"))


@pytest.fixture
def new_user(channel_to) -> Callable[[], Awaitable[User]]:
    auth = channel_to("auth")

    async def make() -> User:
        return (await Users.register(auth, 1))[0]

    return make


@pytest.fixture
def media_for(channel_to) -> Callable[[User, int], Awaitable[list[str]]]:
    """`await media_for(user, n)`: n READY media items owned by `user`."""
    media = channel_to("media")

    async def make(user: User, n: int = 1) -> list[str]:
        made = await asyncio.gather(*(ready_media(media, user.token) for _ in range(n)))
        return [m.media_id for m in made]

    return make


@pytest.fixture
def create_post(post, media_for) -> Callable[..., Awaitable[pb.Post]]:
    async def make(user: User, caption: str = "hello", n_media: int = 1) -> pb.Post:
        media_ids = await media_for(user, n_media)
        reply = await post.CreatePost(pb.CreatePostRequest(
            request_id=str(uuid.uuid4()), caption=caption, media_ids=media_ids),
            metadata=user.md)
        return reply.post

    return make


async def gather(*aws: Awaitable) -> list:
    return list(await asyncio.gather(*aws))


async def published(env: dict, event: str, message_type: type, match: Callable[[object], bool],
                    *, wait_for: int = 0, timeout: float = 10.0) -> list:
    """The decoded events of `event` on this run's post stream for which `match` holds;
    polls until at least `wait_for` are there or `timeout` passes."""
    msgs = await stream_messages(env, "post", event,
                                 lambda m: match(message_type.FromString(m.data)),
                                 want=wait_for, timeout=timeout)
    return [message_type.FromString(m.data) for m in msgs]
