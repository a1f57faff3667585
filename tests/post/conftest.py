"""Fixtures of the post tests: signed-up users (auth + graph profile), ready media
(uploaded through the media contract and processed by the media worker) and stubs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as graph_grpc
from photomesh.post.v1 import post_service_pb2 as pb
from photomesh.post.v1 import post_service_pb2_grpc as pb_grpc

from tests.helpers import bearer, new_username, register
from tests.post.media import ready_media_ids


@dataclass(frozen=True)
class User:
    user_id: str
    username: str
    token: str

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return bearer(self.token)


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
        username = new_username()
        reply = await register(auth, username)
        return User(reply.user_id, username, reply.tokens.access_token)

    return make


@pytest.fixture
def media_for(channel_to) -> Callable[[User, int], Awaitable[list[str]]]:
    """`await media_for(user, n)`: n READY media items owned by `user`."""
    media = channel_to("media")

    async def make(user: User, n: int = 1) -> list[str]:
        return await ready_media_ids(media, user.token, n)

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


async def set_private(graph: graph_grpc.SocialGraphServiceStub, user: User) -> None:
    from google.protobuf.field_mask_pb2 import FieldMask

    await graph.UpdateProfile(graph_pb.UpdateProfileRequest(
        profile=graph_pb.Profile(private=True), update_mask=FieldMask(paths=["private"])),
        metadata=user.md)


async def gather(*aws: Awaitable) -> list:
    return list(await asyncio.gather(*aws))


async def published(env: dict, event: str, message_type: type, match: Callable[[object], bool],
                    *, wait_for: int = 0, timeout: float = 10.0) -> list:
    """The events of `event` on this run's post stream for which `match` holds (read with an
    ephemeral consumer); polls until at least `wait_for` are there or `timeout` passes."""
    import nats
    from nats.errors import TimeoutError as NatsTimeout

    nc = await nats.connect(env["PHOTOMESH_NATS_URL"])
    try:
        js = nc.jetstream()
        stream = f"{env['PHOTOMESH_NATS_STREAM_PREFIX']}_POST"
        subject = f"{env['PHOTOMESH_NATS_SUBJECT_PREFIX']}.post.{event}"
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            sub = await js.pull_subscribe(subject, stream=stream)
            found = []
            while True:
                try:
                    msgs = await sub.fetch(256, timeout=0.5)
                except NatsTimeout:
                    break
                for msg in msgs:
                    decoded = message_type.FromString(msg.data)
                    if match(decoded):
                        found.append(decoded)
                    await msg.ack()
            await sub.unsubscribe()
            if len(found) >= wait_for or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.2)
    finally:
        await nc.close()
