"""gRPC-Web through the edge with @connectrpc/connect-web (npm), unary and server stream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from infra.sandbox import Mesh
from tests.edge.conftest import PASSWORD, Account
from tests.graph_support import Users, follow, graph_stub
from tests.media_support import ready_media

AUTH = "photomesh.auth.v1.AuthService"
Web = Callable[..., dict[str, Any]]


def test_login_over_grpc_web(web: Web, account: Account) -> None:
    result = web("unary", AUTH, "Login", {"username": account.username, "password": PASSWORD})
    assert result["ok"], result
    assert result["response"]["userId"] == account.user_id
    assert result["response"]["tokens"]["accessToken"].count(".") == 2


def test_errors_keep_code_and_details_over_grpc_web(web: Web, account: Account) -> None:
    result = web("unary", AUTH, "Login", {"username": account.username, "password": "wrong!!!x"})
    assert not result["ok"]
    assert result["code"] == "Unauthenticated"
    assert result["details"] == ["google.rpc.ErrorInfo"]


def test_token_required_over_grpc_web(web: Web, account: Account) -> None:
    request = {"mediaId": str(uuid.uuid4())}
    missing = web("unary", "photomesh.media.v1.MediaService", "GetMedia", request)
    assert (missing["ok"], missing["code"], missing["message"]) == (
        False, "Unauthenticated", "Jwt is missing")
    signed_in = web("unary", "photomesh.media.v1.MediaService", "GetMedia", request,
                    token=account.access_token)
    assert (signed_in["ok"], signed_in["code"]) == (False, "NotFound"), signed_in


async def test_get_media_over_grpc_web(web: Web, mesh: Mesh, account: Account) -> None:
    photo = await ready_media(mesh.target("media"), account.access_token)
    result = web("unary", "photomesh.media.v1.MediaService", "GetMedia",
                 {"mediaId": photo.media_id}, token=account.access_token)
    assert result["ok"], result
    media = result["response"]["media"]
    assert media["status"] == "MEDIA_STATUS_READY"
    assert len(media["variants"]) == len(photo.variants)


def test_server_stream_over_grpc_web(web: Web) -> None:
    result = web("stream", "grpc.health.v1.Health", "Watch", {"service": ""}, count=1)
    assert result == {"ok": True, "messages": [{"status": "SERVING"}]}


async def test_notification_stream_over_grpc_web(web: Web, account: Account, channel_to
                                                 ) -> None:
    """A photomesh server stream end to end: the browser client listens through the edge
    while new followers arrive; the worker's notification is pushed to it."""
    listening = asyncio.ensure_future(asyncio.to_thread(
        web, "stream", "photomesh.notification.v1.NotificationService", "StreamNotifications",
        {}, token=account.access_token, count=1))
    fans = await Users.register(channel_to("auth"), 5)
    graph = graph_stub(channel_to("graph"))
    for fan in fans:  # until the client has subscribed, a follow may come before it listens
        await follow(graph, fan, account.user_id)
        done, _ = await asyncio.wait({listening}, timeout=2.0)
        if done:
            break
    result = await listening
    assert result["ok"], result
    (message,) = result["messages"]
    assert message["notification"]["type"] == "NOTIFICATION_TYPE_NEW_FOLLOWER"
    assert message["notification"]["actors"][0]["userId"] in {f.user_id for f in fans}
    assert int(message["unreadCount"]) >= 1
