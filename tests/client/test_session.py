"""Session against the real auth service: sign-in, a refresh before expiry that concurrent
calls share (refresh tokens rotate and a reused one revokes the session), sign-out."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from photomesh.auth.v1 import auth_service_pb2 as auth_pb
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh_client import Client, Session, Targets, Unauthenticated

from infra.sandbox import Mesh
from tests.helpers import new_username

PASSWORD = "correct horse battery"


@pytest.fixture
async def anonymous(mesh: Mesh) -> AsyncIterator[Client]:
    client = Client(Targets(services={name: mesh.target(name) for name in ("auth", "graph")}))
    yield client
    await client.close()


async def _signed_up(anonymous: Client) -> str:
    username = new_username("session")
    await anonymous.auth.Register(auth_pb.RegisterRequest(
        request_id=str(uuid.uuid4()), username=username, password=PASSWORD))
    return username


async def test_a_session_signs_in_and_its_token_is_accepted(anonymous: Client) -> None:
    username = await _signed_up(anonymous)
    session = await Session.sign_in(anonymous.auth, username, PASSWORD)
    assert session.expires_at > time.time() + 60
    async with anonymous.with_token(session) as user:
        profile = await user.graph.GetProfile(graph_pb.GetProfileRequest(
            user_id=session.user_id))
    assert profile.profile.username == username


async def test_a_stale_token_is_refreshed_once_for_concurrent_calls(anonymous: Client) -> None:
    username = await _signed_up(anonymous)
    login = await anonymous.auth.Login(auth_pb.LoginRequest(username=username,
                                                            password=PASSWORD))
    late = time.time() + 10 ** 6  # a clock past the access token's expiry
    session = Session(anonymous.auth, login.user_id, login.tokens, clock=lambda: late)
    async with anonymous.with_token(session) as user:
        replies = await asyncio.gather(*(
            user.graph.GetProfile(graph_pb.GetProfileRequest(user_id=login.user_id))
            for _ in range(5)))
    assert {r.profile.username for r in replies} == {username}
    # Two refreshes with the same token would have revoked the session; it still refreshes.
    await session.refresh()
    # The sign-in's refresh token was spent by the (one) refresh.
    with pytest.raises(Unauthenticated) as spent:
        await anonymous.auth.Refresh(auth_pb.RefreshRequest(
            refresh_token=login.tokens.refresh_token))
    assert spent.value.reason == "REFRESH_TOKEN_INVALID"


async def test_after_sign_out_the_session_cannot_refresh(anonymous: Client) -> None:
    username = await _signed_up(anonymous)
    session = await Session.sign_in(anonymous.auth, username, PASSWORD)
    await session.sign_out()
    with pytest.raises(Unauthenticated) as revoked:
        await session.refresh()
    assert (revoked.value.reason, revoked.value.domain) == (
        "REFRESH_TOKEN_INVALID", "auth.photomesh")
