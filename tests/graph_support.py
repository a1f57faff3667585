"""Helpers for tests that need users and a social graph (graph, post, feed, stories …).

    users = await Users.register(channel_to("auth"), 3)
    graph = graph_stub(channel_to("graph"))
    await follow(graph, users[0], users[1].user_id)
    await make_private(graph, users[1])
    await graph.GetProfile(gpb.GetProfileRequest(user_id=...), metadata=users[0].md)
    await graph.BatchCheckFollowing(..., metadata=service_metadata(mesh, "post"))
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from google.protobuf.field_mask_pb2 import FieldMask
from grpc import aio
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as ggrpc

from infra.sandbox import Mesh
from infra.services import service_key_path
from services.runtime.auth import ServiceCredentials
from tests.helpers import bearer, new_username, register


@dataclass(frozen=True)
class User:
    """A registered user: id, username and an access token (`md` is its call metadata)."""

    user_id: str
    username: str
    token: str

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return bearer(self.token)


class Users:
    @staticmethod
    async def register(auth_channel: aio.Channel, count: int, prefix: str = "u") -> list[User]:
        """Register `count` users concurrently (each gets its profile from the auth service)."""
        async def one() -> User:
            username = new_username(prefix)
            reply = await register(auth_channel, username)
            return User(reply.user_id, username, reply.tokens.access_token)
        return list(await asyncio.gather(*(one() for _ in range(count))))


def graph_stub(channel: aio.Channel) -> ggrpc.SocialGraphServiceStub:
    return ggrpc.SocialGraphServiceStub(channel)


async def follow(graph: ggrpc.SocialGraphServiceStub, user: User, target_id: str
                 ) -> gpb.RelationshipStatus.ValueType:
    """`user` follows `target_id`; FOLLOWING, or REQUESTED for a private account."""
    reply = await graph.Follow(gpb.FollowRequest(user_id=target_id), metadata=user.md)
    return reply.relationship


async def approve(graph: ggrpc.SocialGraphServiceStub, owner: User, requester_id: str) -> None:
    await graph.ApproveFollowRequest(
        gpb.ApproveFollowRequestRequest(requester_user_id=requester_id), metadata=owner.md)


async def block(graph: ggrpc.SocialGraphServiceStub, user: User, target_id: str) -> None:
    await graph.Block(gpb.BlockRequest(user_id=target_id), metadata=user.md)


async def make_private(graph: ggrpc.SocialGraphServiceStub, user: User,
                       private: bool = True) -> gpb.Profile:
    reply = await graph.UpdateProfile(gpb.UpdateProfileRequest(
        profile=gpb.Profile(private=private), update_mask=FieldMask(paths=["private"])),
        metadata=user.md)
    return reply.profile


def service_metadata(mesh: Mesh, service: str) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying `service`'s own service token (for internal RPCs)."""
    creds = ServiceCredentials.load(service, service_key_path(mesh.settings, service))
    return bearer(creds.principal().token)
