"""gRPC-Web through the edge with @connectrpc/connect-web (npm), unary and server stream."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from infra.sandbox import Mesh
from tests.edge.conftest import PASSWORD, Account
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
