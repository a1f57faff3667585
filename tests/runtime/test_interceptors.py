"""The error and auth interceptors on an in-process server (unary and streaming)."""

from __future__ import annotations

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc import aio

from services.peers.mesh import peer_channel
from services.runtime.auth import (
    ServiceCredentials,
    TokenVerifier,
    current_principal,
    require_service,
)
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.interceptors import AuthInterceptor, ErrorInterceptor
from tests.helpers import bearer, error_info, field_violations, signed_token

KEY = Ed25519PrivateKey.generate()
PRIVATE_PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
PUBLIC_PEM = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)


async def whoami(request: bytes, context: aio.ServicerContext) -> bytes:
    return current_principal().user_id.encode()


async def invalid(request: bytes, context: aio.ServicerContext) -> bytes:
    raise InvalidArgument([FieldViolation("caption", "too long"),
                           FieldViolation("media_ids", "at most 10")])


async def crash(request: bytes, context: aio.ServicerContext) -> bytes:
    raise RuntimeError("a bug")


async def stream_then_crash(request: bytes, context: aio.ServicerContext):
    yield current_principal().user_id.encode()
    raise ConnectionError("backend went away")


SERVICE_KEY = Ed25519PrivateKey.generate()
SERVICE_PUBLIC_PEM = ServiceCredentials("x", SERVICE_KEY).public_pem


async def internal(request: bytes, context: aio.ServicerContext) -> bytes:
    return (require_service("feed").service or "").encode()


PEER: dict[str, str] = {}


async def relay(request: bytes, context: aio.ServicerContext) -> bytes:
    """Calls WhoAmI and Deadline on the same server as a peer would, on the caller's behalf."""
    async with peer_channel(PEER["target"]) as peer:
        who = await peer.unary_unary("/demo.Demo/WhoAmI")(b"")
        left = await peer.unary_unary("/demo.Demo/Deadline")(b"")
    return who + b"|" + left


async def deadline(request: bytes, context: aio.ServicerContext) -> bytes:
    return str(context.time_remaining()).encode()


@pytest.fixture
async def channel():
    handlers = {
        "Relay": grpc.unary_unary_rpc_method_handler(relay),
        "Deadline": grpc.unary_unary_rpc_method_handler(deadline),
        "WhoAmI": grpc.unary_unary_rpc_method_handler(whoami),
        "Internal": grpc.unary_unary_rpc_method_handler(internal),
        "Invalid": grpc.unary_unary_rpc_method_handler(invalid),
        "Crash": grpc.unary_unary_rpc_method_handler(crash),
        "Stream": grpc.unary_stream_rpc_method_handler(stream_then_crash),
    }
    verifier = TokenVerifier(PUBLIC_PEM, "photomesh-auth", "photomesh",
                             service_public_key_pem=SERVICE_PUBLIC_PEM)
    server = aio.server(interceptors=[ErrorInterceptor("demo.photomesh"),
                                      AuthInterceptor(verifier)])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("demo.Demo",
                                                                          handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    PEER["target"] = f"127.0.0.1:{port}"
    await server.start()
    async with aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    await server.stop(0)


def _call(channel: aio.Channel, name: str):
    return channel.unary_unary(f"/demo.Demo/{name}")


async def test_the_principal_comes_from_the_verified_token(channel) -> None:
    token = signed_token(PRIVATE_PEM, sub="user-42")
    assert await _call(channel, "WhoAmI")(b"", metadata=bearer(token)) == b"user-42"


async def test_domain_errors_carry_error_info_and_field_violations(channel) -> None:
    with pytest.raises(aio.AioRpcError) as err:
        await _call(channel, "Invalid")(b"", metadata=bearer(signed_token(PRIVATE_PEM)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(err.value).domain == "demo.photomesh"
    assert field_violations(err.value) == {"caption": "too long", "media_ids": "at most 10"}


async def test_a_bug_is_internal_never_unknown(channel) -> None:
    with pytest.raises(aio.AioRpcError) as err:
        await _call(channel, "Crash")(b"", metadata=bearer(signed_token(PRIVATE_PEM)))
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert "a bug" not in (err.value.details() or "")  # internals are not leaked


async def test_a_backend_failure_mid_stream_is_unavailable(channel) -> None:
    call = channel.unary_stream("/demo.Demo/Stream")(b"", metadata=bearer(
        signed_token(PRIVATE_PEM, sub="streamer")))
    received = []
    with pytest.raises(aio.AioRpcError) as err:
        async for item in call:
            received.append(item)
    assert received == [b"streamer"]
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_info(err.value).reason == "BACKEND_UNAVAILABLE"


async def test_a_token_of_the_wrong_type_is_refused(channel) -> None:
    with pytest.raises(aio.AioRpcError) as err:
        await _call(channel, "WhoAmI")(b"", metadata=bearer(
            signed_token(PRIVATE_PEM, typ="refresh")))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_peer_calls_forward_the_callers_token_and_deadline(channel) -> None:
    token = signed_token(PRIVATE_PEM, sub="user-7")
    reply = await _call(channel, "Relay")(b"", metadata=bearer(token), timeout=5)
    who, left = reply.split(b"|")
    assert who == b"user-7"  # the peer saw the original caller, not an anonymous call
    # ... and no more time than the caller gave (give or take grpc-timeout's wire rounding).
    assert 0 < float(left) < 5.05


async def test_a_peer_call_without_a_caller_is_unauthenticated(channel) -> None:
    async with peer_channel(PEER["target"]) as peer:
        with pytest.raises(aio.AioRpcError) as err:
            await peer.unary_unary("/demo.Demo/WhoAmI")(b"")
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_service_calls_internal_rpcs_as_itself_but_never_as_a_user(channel) -> None:
    feed = ServiceCredentials("feed", SERVICE_KEY)
    async with peer_channel(PEER["target"]) as peer:
        with feed.acting():
            assert await peer.unary_unary("/demo.Demo/Internal")(b"") == b"feed"
            with pytest.raises(aio.AioRpcError) as as_user:
                await peer.unary_unary("/demo.Demo/WhoAmI")(b"")
        with ServiceCredentials("story", SERVICE_KEY).acting():
            with pytest.raises(aio.AioRpcError) as other_service:
                await peer.unary_unary("/demo.Demo/Internal")(b"")
    assert as_user.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert other_service.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_users_and_foreign_keys_cannot_call_internal_rpcs(channel) -> None:
    with pytest.raises(aio.AioRpcError) as user:
        await _call(channel, "Internal")(b"", metadata=bearer(signed_token(PRIVATE_PEM)))
    assert user.value.code() == grpc.StatusCode.PERMISSION_DENIED
    forged = ServiceCredentials("feed", Ed25519PrivateKey.generate()).principal().token
    with pytest.raises(aio.AioRpcError) as foreign:
        await _call(channel, "Internal")(b"", metadata=bearer(forged))
    assert foreign.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # A service token signed with the *user* key is not a service token either.
    with pytest.raises(aio.AioRpcError) as wrong_key:
        await _call(channel, "Internal")(b"", metadata=bearer(
            signed_token(PRIVATE_PEM, typ="service")))
    assert wrong_key.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_remembered_token_is_still_refused_once_it_expires() -> None:
    import time

    from services.runtime.errors import Unauthenticated

    verifier = TokenVerifier(PUBLIC_PEM, "photomesh-auth", "photomesh", leeway_seconds=0)
    token = signed_token(PRIVATE_PEM, sub="brief", ttl=1)
    assert verifier.verify(token).user_id == "brief"
    assert verifier.verify(token).user_id == "brief"  # answered from the cache
    time.sleep(1.2)
    with pytest.raises(Unauthenticated) as err:
        verifier.verify(token)
    assert err.value.reason == "TOKEN_EXPIRED"
