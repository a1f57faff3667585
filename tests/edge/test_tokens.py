"""Forged, expired, missing, mis-addressed and service tokens are refused at the edge, and
again by the service when the edge is bypassed (the service never trusts the edge)."""

from __future__ import annotations

import time
import uuid

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from grpc import aio
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc

from infra.backends.envoy import EnvoyBackend
from infra.sandbox import Mesh
from services.runtime.auth import ServiceCredentials
from tests.edge.http import request
from tests.helpers import bearer, error_info, private_key, signed_token


def _tokens(mesh: Mesh, run_dir) -> dict[str, tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    """name -> (token or "", the reason the service gives when called directly)."""
    key = private_key(run_dir)
    return {
        "missing": ("", "TOKEN_MISSING"),
        "forged": (signed_token(None), "TOKEN_INVALID"),
        "expired": (signed_token(key, ttl=-120), "TOKEN_EXPIRED"),
        "garbage": ("not.a.jwt", "TOKEN_INVALID"),
    }


def _service_token(run_dir) -> str:  # type: ignore[no-untyped-def]
    """A real mesh service token (typ service, audience photomesh-internal)."""
    return ServiceCredentials.load("feed", run_dir / "keys" / "services" / "feed_private.pem"
                                   ).principal().token


def _wrong_audience(run_dir) -> str:  # type: ignore[no-untyped-def]
    key = serialization.load_pem_private_key(private_key(run_dir), None)
    now = int(time.time())
    return jwt.encode({"sub": str(uuid.uuid4()), "iss": "photomesh-auth", "aud": "elsewhere",
                       "iat": now, "nbf": now, "exp": now + 300, "typ": "access"}, key,
                      algorithm="EdDSA")


@pytest.fixture
def bad_tokens(mesh: Mesh, test_run_dir) -> dict[str, str]:  # type: ignore[no-untyped-def]
    tokens = {name: token for name, (token, _) in _tokens(mesh, test_run_dir).items()}
    tokens["service"] = _service_token(test_run_dir)
    tokens["wrong-audience"] = _wrong_audience(test_run_dir)
    return tokens


def _metadata(token: str) -> tuple[tuple[str, str], ...]:
    return bearer(token) if token else ()


async def test_refused_at_the_edge(edge: EnvoyBackend, bad_tokens: dict[str, str]) -> None:
    path = f"/v1/media/{uuid.uuid4()}"
    async with aio.insecure_channel(f"{edge.settings.host}:{edge.settings.envoy_port}"
                                    ) as channel:
        stub = media_grpc.MediaServiceStub(channel)
        for name, token in bad_tokens.items():
            # A verified token for another audience is forbidden, anything else unknown.
            forbidden = name == "wrong-audience"
            reply = request(edge.settings.envoy_port, "GET", path, token=token or None)
            assert reply.status == (403 if forbidden else 401), (name, reply.body)
            assert reply.headers["www-authenticate"].startswith("Bearer")
            with pytest.raises(aio.AioRpcError) as caught:
                await stub.GetMedia(media_pb.GetMediaRequest(media_id=str(uuid.uuid4())),
                                    metadata=_metadata(token), timeout=5)
            assert caught.value.code() == (grpc.StatusCode.PERMISSION_DENIED if forbidden
                                           else grpc.StatusCode.UNAUTHENTICATED), name
            # Envoy's words, not the service's: the request never left the edge.
            assert "Jwt" in (caught.value.details() or ""), name


async def test_refused_again_by_the_service_directly(mesh: Mesh, test_run_dir) -> None:  # type: ignore[no-untyped-def]
    async with aio.insecure_channel(mesh.target("media")) as channel:
        stub = media_grpc.MediaServiceStub(channel)
        for name, (token, reason) in _tokens(mesh, test_run_dir).items():
            with pytest.raises(aio.AioRpcError) as caught:
                await stub.GetMedia(media_pb.GetMediaRequest(media_id=str(uuid.uuid4())),
                                    metadata=_metadata(token), timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
            assert error_info(caught.value).reason == reason, name
