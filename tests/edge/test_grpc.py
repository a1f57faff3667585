"""gRPC through the edge with grpcurl (reflection, no local protos), and the clusters:
replicas are health-checked, a dead one is routed around. Reflection and the mesh's health
themselves: test_reflection.py."""

from __future__ import annotations

import json
import uuid

import grpc
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from infra.backends.envoy import EnvoyBackend
from infra.sandbox import Mesh
from tests.edge.conftest import PASSWORD, Account, Grpcurl
from tests.helpers import bearer, new_username

AUTH = "photomesh.auth.v1.AuthService"


def test_register_login_and_an_authenticated_call(grpcurl: Grpcurl) -> None:
    username = new_username()
    registered = grpcurl(f"{AUTH}/Register", data={
        "request_id": str(uuid.uuid4()), "username": username, "password": PASSWORD})
    assert registered.returncode == 0, registered.stderr
    logged_in = grpcurl(f"{AUTH}/Login", data={"username": username, "password": PASSWORD})
    assert logged_in.returncode == 0, logged_in.stderr
    body = json.loads(logged_in.stdout)  # proto3 JSON names, as over REST
    assert body["userId"] == json.loads(registered.stdout)["userId"]
    token = body["tokens"]["accessToken"]

    method = "photomesh.graph.v1.SocialGraphService/GetProfile"
    request = {"user_id": body["userId"]}
    anonymous = grpcurl(method, data=request)
    assert "Code: Unauthenticated" in anonymous.stdout + anonymous.stderr
    assert "Jwt is missing" in anonymous.stdout + anonymous.stderr  # refused by the edge
    signed_in = grpcurl(method, data=request, token=token)
    assert signed_in.returncode == 0, signed_in.stdout + signed_in.stderr
    assert json.loads(signed_in.stdout)["profile"]["username"] == username
    unknown = grpcurl("photomesh.media.v1.MediaService/GetMedia", token=token,
                      data={"media_id": str(uuid.uuid4())})
    assert "Code: NotFound" in unknown.stdout + unknown.stderr


def test_wrong_password_keeps_its_error_details(grpcurl: Grpcurl) -> None:
    failed = grpcurl(f"{AUTH}/Login", data={"username": new_username(), "password": PASSWORD})
    out = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "Code: Unauthenticated" in out and "INVALID_CREDENTIALS" in out


async def test_health_watch_streams_through_the_edge_and_direct(edge: EnvoyBackend,
                                                                mesh: Mesh) -> None:
    for target in (f"{edge.settings.host}:{edge.settings.envoy_port}", mesh.target("auth")):
        async with aio.insecure_channel(target) as channel:
            stream = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=""), timeout=10)
            first = await stream.read()
            assert first.status == health_pb2.HealthCheckResponse.SERVING, target
            stream.cancel()


async def test_dead_replica_is_health_checked_out(edge: EnvoyBackend, mesh: Mesh,
                                                  edge_dead_replica: int) -> None:
    health = edge.cluster_health()
    live = mesh.layout.replicas  # the mesh's auth processes
    assert len(health["svc_auth"]) == live + 1
    assert health["svc_auth"].count(True) == live  # the live replicas only
    async with aio.insecure_channel(f"{edge.settings.host}:{edge.settings.envoy_port}"
                                    ) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for _ in range(10):
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_unknown_service_is_unimplemented(edge: EnvoyBackend, account: Account) -> None:
    async with aio.insecure_channel(f"{edge.settings.host}:{edge.settings.envoy_port}"
                                    ) as channel:
        call = channel.unary_unary("/photomesh.nope.v1.NopeService/Get")
        try:
            await call(b"", timeout=5, metadata=bearer(account.access_token))
        except aio.AioRpcError as e:
            assert e.code() == grpc.StatusCode.UNIMPLEMENTED
        else:
            raise AssertionError("an unknown service answered")
