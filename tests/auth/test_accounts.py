"""AuthService against the real CQL store and Redis, through its gRPC contract."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import jwt
import pytest
from photomesh.auth.v1 import auth_service_pb2 as pb
from photomesh.auth.v1 import auth_service_pb2_grpc as pb_grpc

from tests.helpers import error_info, field_violations, new_username, register, retry_info

PASSWORD = "correct horse battery"


@pytest.fixture
def auth(channel_to) -> pb_grpc.AuthServiceStub:
    return pb_grpc.AuthServiceStub(channel_to("auth"))


async def test_register_issues_a_token_that_verifies_with_the_published_key(auth) -> None:
    username = new_username()
    reply = await auth.Register(pb.RegisterRequest(
        request_id=str(uuid.uuid4()), username=username.upper(), password=PASSWORD))
    keys = await auth.GetPublicKeys(pb.GetPublicKeysRequest())
    key = keys.keys[0]
    claims = jwt.decode(reply.tokens.access_token, key.public_key_pem.encode(),
                        algorithms=[key.alg], audience="photomesh")
    assert claims["sub"] == reply.user_id
    assert claims["name"] == username  # stored lower case
    assert jwt.get_unverified_header(reply.tokens.access_token)["kid"] == key.kid
    assert reply.tokens.token_type == "Bearer"
    assert reply.tokens.access_token_expire_time.seconds == claims["exp"]


async def test_register_retry_with_same_request_id_returns_the_same_account(auth) -> None:
    request = pb.RegisterRequest(request_id=str(uuid.uuid4()), username=new_username(),
                                 password=PASSWORD)
    first = await auth.Register(request)
    again = await auth.Register(request)
    assert again.user_id == first.user_id


async def test_request_id_reused_for_another_username_is_refused(auth) -> None:
    request_id = str(uuid.uuid4())
    await auth.Register(pb.RegisterRequest(request_id=request_id, username=new_username(),
                                           password=PASSWORD))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await auth.Register(pb.RegisterRequest(request_id=request_id, username=new_username(),
                                               password=PASSWORD))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(err.value).reason == "REQUEST_ID_REUSED"


async def test_taken_username_is_already_exists(auth, channel_to) -> None:
    username = new_username()
    await register(channel_to("auth"), username)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await auth.Register(pb.RegisterRequest(request_id=str(uuid.uuid4()), username=username,
                                               password=PASSWORD))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    info = error_info(err.value)
    assert (info.reason, info.domain) == ("USERNAME_TAKEN", "auth.photomesh")
    assert info.metadata["username"] == username


async def test_concurrent_registrations_of_one_username_yield_exactly_one_account(auth) -> None:
    username = new_username()
    attempts = [auth.Register(pb.RegisterRequest(
        request_id=str(uuid.uuid4()), username=username, password=PASSWORD))
        for _ in range(8)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    winners = [r for r in results if isinstance(r, pb.RegisterResponse)]
    losers = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(winners) == 1, results
    assert len(losers) == 7
    assert all(e.code() == grpc.StatusCode.ALREADY_EXISTS for e in losers)
    login = await auth.Login(pb.LoginRequest(username=username, password=PASSWORD))
    assert login.user_id == winners[0].user_id


async def test_bad_registration_lists_each_field_violation(auth) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await auth.Register(pb.RegisterRequest(request_id="x", username="A!", password="short",
                                               display_name="d" * 65))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(err.value)) == {"request_id", "username", "password",
                                                "display_name"}


async def test_login_with_wrong_password_is_unauthenticated(auth) -> None:
    username = new_username()
    await auth.Register(pb.RegisterRequest(request_id=str(uuid.uuid4()), username=username,
                                           password=PASSWORD))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await auth.Login(pb.LoginRequest(username=username, password="wrong password"))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(err.value).reason == "INVALID_CREDENTIALS"
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await auth.Login(pb.LoginRequest(username=new_username(), password=PASSWORD))
    assert unknown.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_repeated_failed_logins_are_rate_limited_with_retry_info(auth) -> None:
    username = new_username()
    await auth.Register(pb.RegisterRequest(request_id=str(uuid.uuid4()), username=username,
                                           password=PASSWORD))
    for _ in range(10):
        with pytest.raises(grpc.aio.AioRpcError):
            await auth.Login(pb.LoginRequest(username=username, password="wrong password"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await auth.Login(pb.LoginRequest(username=username, password=PASSWORD))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info = error_info(err.value)
    assert info.reason == "RATE_LIMITED"
    retry_after = int(info.metadata["retry_after_seconds"])
    assert 0 < retry_after <= 300  # the window's remainder
    # The standard detail a client acts on without reading ErrorInfo's metadata.
    assert retry_info(err.value).retry_delay.ToSeconds() == retry_after


async def test_refresh_rotates_and_a_replayed_token_revokes_the_family(auth) -> None:
    first = await auth.Register(pb.RegisterRequest(
        request_id=str(uuid.uuid4()), username=new_username(), password=PASSWORD))
    second = await auth.Refresh(pb.RefreshRequest(refresh_token=first.tokens.refresh_token))
    assert second.user_id == first.user_id
    assert second.tokens.refresh_token != first.tokens.refresh_token
    # Presenting the spent token again: refused, and the newer one dies with it.
    for token in (first.tokens.refresh_token, second.tokens.refresh_token):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await auth.Refresh(pb.RefreshRequest(refresh_token=token))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(err.value).reason == "REFRESH_TOKEN_INVALID"


async def test_logout_revokes_the_refresh_token(auth) -> None:
    reply = await auth.Register(pb.RegisterRequest(
        request_id=str(uuid.uuid4()), username=new_username(), password=PASSWORD))
    await auth.Logout(pb.LogoutRequest(refresh_token=reply.tokens.refresh_token))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await auth.Refresh(pb.RefreshRequest(refresh_token=reply.tokens.refresh_token))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
