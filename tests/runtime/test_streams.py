"""Server streams end at their token's expiry and when their session signs out, and a user
holds at most PHOTOMESH_STREAMS_MAX_PER_USER of them (the real feed, notification and
message services, the real auth service)."""

from __future__ import annotations

import asyncio
import time
import uuid

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from grpc import aio
from photomesh.auth.v1 import auth_service_pb2 as auth_pb
from photomesh.auth.v1 import auth_service_pb2_grpc as auth_grpc
from photomesh.feed.v1 import feed_service_pb2 as feed_pb
from photomesh.feed.v1 import feed_service_pb2_grpc as feed_grpc
from photomesh.message.v1 import message_service_pb2 as message_pb
from photomesh.message.v1 import message_service_pb2_grpc as message_grpc
from photomesh.notification.v1 import notification_service_pb2 as note_pb
from photomesh.notification.v1 import notification_service_pb2_grpc as note_grpc

from infra.sandbox import Mesh
from tests.helpers import bearer, error_info, new_username, private_key

PASSWORD = "correct horse battery"


async def _account(channel_to) -> auth_pb.RegisterResponse:  # type: ignore[no-untyped-def]
    return await auth_grpc.AuthServiceStub(channel_to("auth")).Register(auth_pb.RegisterRequest(
        request_id=str(uuid.uuid4()), username=new_username("stream"), password=PASSWORD))


async def _ended(call, within: float) -> aio.AioRpcError:  # type: ignore[no-untyped-def]
    """The error that ended `call`, which must come within `within` seconds."""
    with pytest.raises(aio.AioRpcError) as err:
        async with asyncio.timeout(within):
            async for _ in call:
                pass
    return err.value


async def test_a_stream_ends_when_its_token_expires(mesh: Mesh, channel_to,
                                                    test_run_dir) -> None:
    account = await _account(channel_to)
    key = serialization.load_pem_private_key(private_key(test_run_dir), None)
    now = int(time.time())
    short = jwt.encode({"sub": account.user_id, "name": "x", "iss": "photomesh-auth",
                        "aud": "photomesh", "iat": now, "nbf": now, "exp": now + 3,
                        "typ": "access"}, key, algorithm="EdDSA")
    started = time.monotonic()
    calls = [note_grpc.NotificationServiceStub(channel_to("notification")).StreamNotifications(
        note_pb.StreamNotificationsRequest(), metadata=bearer(short)),
        message_grpc.MessageServiceStub(channel_to("message")).StreamMessages(
            message_pb.StreamMessagesRequest(), metadata=bearer(short))]
    for err in await asyncio.gather(*(_ended(call, 30) for call in calls)):
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(err).reason == "TOKEN_EXPIRED"
    assert time.monotonic() - started < 20


async def test_streams_end_when_the_session_signs_out(mesh: Mesh, channel_to) -> None:
    account = await _account(channel_to)
    md = bearer(account.tokens.access_token)
    feed = feed_grpc.FeedServiceStub(channel_to("feed")).StreamHomeFeed(
        feed_pb.StreamHomeFeedRequest(), metadata=md)
    notes = note_grpc.NotificationServiceStub(channel_to("notification")).StreamNotifications(
        note_pb.StreamNotificationsRequest(), metadata=md)
    messages = message_grpc.MessageServiceStub(channel_to("message")).StreamMessages(
        message_pb.StreamMessagesRequest(), metadata=md)
    await feed.initial_metadata()  # the feed stream is live
    await asyncio.sleep(1)
    await auth_grpc.AuthServiceStub(channel_to("auth")).Logout(
        auth_pb.LogoutRequest(refresh_token=account.tokens.refresh_token))
    for call in (feed, notes, messages):
        err = await _ended(call, 15)
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(err).reason == "SESSION_REVOKED"


async def test_streams_are_capped_per_user(mesh: Mesh, channel_to) -> None:
    account = await _account(channel_to)
    md = bearer(account.tokens.access_token)
    feed = feed_grpc.FeedServiceStub(channel_to("feed"))
    notes = note_grpc.NotificationServiceStub(channel_to("notification"))
    # The cap is per user over every service and replica: 3 feed streams, a notification
    # and a message stream.
    opened = [feed.StreamHomeFeed(feed_pb.StreamHomeFeedRequest(), metadata=md)
              for _ in range(3)]
    for call in opened:
        await call.initial_metadata()
    opened += [notes.StreamNotifications(note_pb.StreamNotificationsRequest(), metadata=md),
               message_grpc.MessageServiceStub(channel_to("message")).StreamMessages(
                   message_pb.StreamMessagesRequest(), metadata=md)]
    await asyncio.sleep(2)  # the notification and message streams are admitted
    refused = feed.StreamHomeFeed(feed_pb.StreamHomeFeedRequest(), metadata=md)
    err = await _ended(refused, 15)
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_info(err).reason == "TOO_MANY_STREAMS"
    # Another user is not affected; closing one stream makes room.
    other = await _account(channel_to)
    theirs = feed.StreamHomeFeed(feed_pb.StreamHomeFeedRequest(),
                                 metadata=bearer(other.tokens.access_token))
    await theirs.initial_metadata()
    theirs.cancel()
    opened[0].cancel()
    await asyncio.sleep(1)
    again = feed.StreamHomeFeed(feed_pb.StreamHomeFeedRequest(), metadata=md)
    await asyncio.wait_for(again.initial_metadata(), 15)
    for call in (*opened, again):
        call.cancel()
