"""Fixtures of the message tests: stubs on the mesh's message, graph and post services,
fresh users per test (waits on a condition use tests/feed/support.eventually)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from photomesh.message.v1 import message_service_pb2 as pb
from photomesh.message.v1 import message_service_pb2_grpc as pb_grpc

from tests.graph_support import User, Users, graph_stub


@pytest.fixture
def dm(channel_to) -> pb_grpc.MessageServiceStub:
    return pb_grpc.MessageServiceStub(channel_to("message"))


@pytest.fixture
def graph(channel_to):  # type: ignore[no-untyped-def]
    return graph_stub(channel_to("graph"))


@pytest.fixture
def make_users(channel_to) -> Callable[[int], Awaitable[list[User]]]:
    async def make(count: int) -> list[User]:
        return await Users.register(channel_to("auth"), count, prefix="dm")
    return make


def rid() -> str:
    return uuid.uuid4().hex


async def send(dm: pb_grpc.MessageServiceStub, user: User, thread_id: str,
               text: str = "hi", **fields: object) -> pb.Message:
    reply = await dm.SendMessage(pb.SendMessageRequest(
        thread_id=thread_id, request_id=rid(), text=text, **fields), metadata=user.md)
    return reply.message


async def direct(dm: pb_grpc.MessageServiceStub, user: User, other: User) -> pb.Thread:
    return (await dm.OpenDirectThread(pb.OpenDirectThreadRequest(user_id=other.user_id),
                                      metadata=user.md)).thread


async def threads(dm: pb_grpc.MessageServiceStub, user: User,
                  folder: int = pb.FOLDER_INBOX) -> list[pb.Thread]:
    return list((await dm.ListThreads(pb.ListThreadsRequest(folder=folder),
                                      metadata=user.md)).threads)
