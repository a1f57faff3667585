"""Sign-in throttling keyed so that a stranger cannot lock the owner out, and a cap on
concurrent password hashing (a private auth service with small limits)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc import aio
from photomesh.auth.v1 import auth_service_pb2 as pb
from photomesh.auth.v1 import auth_service_pb2_grpc as pb_grpc

from infra.sandbox import Mesh
from tests.helpers import error_info, new_username
from tests.private_service import private_service

PASSWORD = "correct horse battery"
PER_ADDRESS, PER_ACCOUNT = 3, 5


@pytest.fixture(scope="module")
def small_auth(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("auth-throttle")
    with private_service(mesh, "auth", Path(logs), {
            "PHOTOMESH_AUTH_LOGIN_ATTEMPTS_PER_WINDOW": str(PER_ADDRESS),
            "PHOTOMESH_AUTH_LOGIN_ATTEMPTS_PER_ACCOUNT_WINDOW": str(PER_ACCOUNT),
            "PHOTOMESH_AUTH_ARGON2_MEMORY_KIB": "8192",
            "PHOTOMESH_AUTH_ARGON2_TIME_COST": "1",
            "PHOTOMESH_AUTH_MAX_CONCURRENT_HASHES": "1",
            "PHOTOMESH_AUTH_MAX_WAITING_HASHES": "2"}) as target:
        yield target


def _from(address: str) -> tuple[tuple[str, str], ...]:
    return (("x-photomesh-client-address", address),)


async def _login(stub: pb_grpc.AuthServiceStub, username: str, password: str,
                 address: str) -> str:
    """"OK" or the ErrorInfo reason of the answer."""
    try:
        await stub.Login(pb.LoginRequest(username=username, password=password),
                         metadata=_from(address), timeout=30)
    except aio.AioRpcError as err:
        return error_info(err).reason
    return "OK"


async def test_a_stranger_cannot_lock_the_owner_out(small_auth: str) -> None:
    async with aio.insecure_channel(small_auth) as channel:
        auth = pb_grpc.AuthServiceStub(channel)
        owner = new_username()
        await auth.Register(pb.RegisterRequest(request_id=str(uuid.uuid4()), username=owner,
                                               password=PASSWORD), metadata=_from("10.0.0.1"))
        # A stranger spends their own address's budget, then is refused even when right.
        stranger = [await _login(auth, owner, f"guess {i}", "203.0.113.9")
                    for i in range(PER_ADDRESS + 1)]
        assert stranger == ["INVALID_CREDENTIALS"] * PER_ADDRESS + ["RATE_LIMITED"]
        assert await _login(auth, owner, PASSWORD, "203.0.113.9") == "RATE_LIMITED"
        # The owner, from where they signed up, is untouched.
        assert await _login(auth, owner, PASSWORD, "10.0.0.1") == "OK"
        # Guessing spread over many addresses spends the account's budget ...
        spread = [await _login(auth, owner, "guess", f"198.51.100.{i}")
                  for i in range(PER_ACCOUNT - PER_ADDRESS + 1)]
        assert spread[:-1] == ["INVALID_CREDENTIALS"] * (PER_ACCOUNT - PER_ADDRESS)
        assert spread[-1] == "RATE_LIMITED"
        # ... which stops a new address, never the addresses the owner signed in from.
        assert await _login(auth, owner, PASSWORD, "192.0.2.50") == "RATE_LIMITED"
        assert await _login(auth, owner, PASSWORD, "10.0.0.1") == "OK"
        # A right password refunds its attempt: the owner signs in again and again.
        for _ in range(PER_ADDRESS + 2):
            assert await _login(auth, owner, PASSWORD, "10.0.0.1") == "OK"


async def test_concurrent_password_hashing_is_capped(small_auth: str) -> None:
    async with aio.insecure_channel(small_auth) as channel:
        auth = pb_grpc.AuthServiceStub(channel)
        users = [new_username() for _ in range(12)]

        async def register(username: str) -> str:
            try:
                await auth.Register(pb.RegisterRequest(
                    request_id=str(uuid.uuid4()), username=username, password=PASSWORD),
                    metadata=_from(f"10.1.0.{len(username)}"), timeout=60)
            except aio.AioRpcError as err:
                assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
                info = error_info(err)
                assert info.reason == "RATE_LIMITED"
                assert info.metadata["retry_after_seconds"] == "1"
                return "refused"
            return "OK"

        outcomes = await asyncio.gather(*(register(u) for u in users))
    # One hashes, two wait; the rest are refused at once instead of queueing up.
    assert "refused" in outcomes and "OK" in outcomes
