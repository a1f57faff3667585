"""Per-user local rate limits at the edge: 429 with retry-after over REST,
RESOURCE_EXHAUSTED over gRPC, one bucket per verified `sub` (a client cannot pick one)."""

from __future__ import annotations

import uuid

import grpc
import pytest
from grpc import aio
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc

from infra.backends.envoy import EnvoyBackend
from tests.conftest import TEST_EDGE
from tests.edge.conftest import Account
from tests.edge.http import request
from tests.helpers import bearer

LIMIT = TEST_EDGE["rate_limit_burst"]


def _get(edge: EnvoyBackend, token: str, headers: dict[str, str] | None = None) -> int:
    return request(edge.settings.envoy_port, "GET", f"/v1/media/{uuid.uuid4()}",
                   token=token, headers=headers).status


async def test_limit_per_user(edge: EnvoyBackend, account: Account) -> None:
    statuses = [_get(edge, account.access_token) for _ in range(LIMIT)]
    assert 429 not in statuses
    limited = request(edge.settings.envoy_port, "GET", f"/v1/media/{uuid.uuid4()}",
                      token=account.access_token)
    assert limited.status == 429
    assert limited.headers["retry-after"] == str(TEST_EDGE["rate_limit_interval_seconds"])

    async with aio.insecure_channel(f"{edge.settings.host}:{edge.settings.envoy_port}"
                                    ) as channel:
        with pytest.raises(aio.AioRpcError) as caught:
            await media_grpc.MediaServiceStub(channel).GetMedia(
                media_pb.GetMediaRequest(media_id=str(uuid.uuid4())),
                metadata=bearer(account.access_token), timeout=5)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert dict(caught.value.initial_metadata() or ()).get("retry-after") or \
        dict(caught.value.trailing_metadata() or ()).get("retry-after")


def test_other_users_and_spoofed_headers_have_their_own_bucket(
        edge: EnvoyBackend, account: Account, request_account: Account) -> None:
    statuses = {_get(edge, account.access_token) for _ in range(LIMIT + 1)}
    assert statuses <= {404, 429}  # the media id does not exist: 404 until limited
    assert _get(edge, account.access_token) == 429
    # Another user naming the exhausted user in the edge's identity header is still
    # counted as themselves: the edge drops that header and sets it from the token. Their
    # call goes through to the media service, which does not know the id.
    spoofed = request(edge.settings.envoy_port, "GET", f"/v1/media/{uuid.uuid4()}",
                      token=request_account.access_token,
                      headers={"x-photomesh-user": account.user_id})
    assert spoofed.status == 404, spoofed.body
    assert spoofed.json()["details"][0]["reason"] == "MEDIA_NOT_FOUND"


def test_a_spoofed_identity_on_anonymous_routes_spends_nobody_s_budget(
        edge: EnvoyBackend, account: Account) -> None:
    # Anonymous routes run without a verified token: a copy of the identity header the
    # client sent must never reach the limiter, or anyone could drain another user's bucket.
    for _ in range(LIMIT + 1):
        keys = request(edge.settings.envoy_port, "GET", "/v1/auth/jwks",
                       headers={"x-photomesh-user": account.user_id})
        assert keys.status == 200, keys.body
    assert _get(edge, account.access_token) == 404
