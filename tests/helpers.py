"""Small helpers shared by tests: accounts, tokens, rich error details."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc import aio
from photomesh.auth.v1 import auth_service_pb2 as auth_pb
from photomesh.auth.v1 import auth_service_pb2_grpc as auth_grpc

D = TypeVar("D", bound=Message)


def new_username(prefix: str = "u") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def register(channel: aio.Channel, username: str | None = None,
                   password: str = "correct horse battery") -> auth_pb.RegisterResponse:
    stub = auth_grpc.AuthServiceStub(channel)
    return await stub.Register(auth_pb.RegisterRequest(
        request_id=str(uuid.uuid4()), username=username or new_username(), password=password,
        display_name="Test User"))


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def _required_detail(err: grpc.RpcError, kind: type[D]) -> D:
    """The `kind` detail of a failed call (fails the test if absent)."""
    for detail in _details(err):
        if detail.Is(kind.DESCRIPTOR):
            found = kind()
            detail.Unpack(found)
            return found
    raise AssertionError(f"no {kind.DESCRIPTOR.name} in {err!r}")


def error_info(err: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo detail of a failed call (fails the test if absent)."""
    return _required_detail(err, error_details_pb2.ErrorInfo)


def field_violations(err: grpc.RpcError) -> dict[str, str]:
    for detail in _details(err):
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            return {v.field: v.description for v in bad.field_violations}
    return {}


def retry_info(err: grpc.RpcError) -> error_details_pb2.RetryInfo:
    """The RetryInfo detail of a failed call (fails the test if absent)."""
    return _required_detail(err, error_details_pb2.RetryInfo)


def _details(err: grpc.RpcError) -> list:
    for key, value in err.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            return list(status_pb2.Status.FromString(value).details)
    return []


def signed_token(private_key_pem: bytes | None, *, sub: str = "someone", ttl: int = 300,
                 typ: str = "access") -> str:
    """A token signed by `private_key_pem`, or by a fresh unrelated key when None (forged)."""
    from cryptography.hazmat.primitives import serialization

    key = (serialization.load_pem_private_key(private_key_pem, None) if private_key_pem
           else Ed25519PrivateKey.generate())
    now = int(time.time())
    claims = {"sub": sub, "name": "x", "iss": "photomesh-auth", "aud": "photomesh",
              "iat": now - 600, "nbf": now - 600, "exp": now + ttl, "typ": typ}
    return jwt.encode(claims, key, algorithm="EdDSA")


def private_key(run_dir: Path) -> bytes:
    return (run_dir / "keys" / "jwt_private.pem").read_bytes()


async def stream_messages(env: Mapping[str, str], domain: str, event: str,
                          match: Callable[[object], bool] = lambda m: True, *, want: int = 0,
                          timeout: float = 10.0) -> list:
    """The raw messages of `<domain>.<event>` on this run's JetStream stream for which
    `match` holds (read with an ephemeral consumer); polls until at least `want` are there
    or `timeout` passes."""
    import nats
    from nats.errors import TimeoutError as NatsTimeout

    nc = await nats.connect(env["PHOTOMESH_NATS_URL"])
    try:
        js = nc.jetstream()
        stream = f"{env['PHOTOMESH_NATS_STREAM_PREFIX']}_{domain.upper()}"
        subject = f"{env['PHOTOMESH_NATS_SUBJECT_PREFIX']}.{domain}.{event}"
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            sub = await js.pull_subscribe(subject, stream=stream)
            found = []
            while True:
                try:
                    batch = await sub.fetch(256, timeout=0.5)
                except (TimeoutError, NatsTimeout):  # nats-py raises both
                    break
                found += [m for m in batch if match(m)]
            await sub.unsubscribe()
            if len(found) >= want or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def wait_serving(target: str, proc: asyncio.subprocess.Process,
                       timeout: float = 60.0) -> None:
    """Until the gRPC health check of `target` answers SERVING (without blocking the event
    loop, which may be serving a proxy the process needs); fails if `proc` exits first."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    async with aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert proc.returncode is None, f"the process for {target} exited early"
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{target} never became SERVING")
