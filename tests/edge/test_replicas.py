"""The edge's runtime behaviour against live replicas: reads (only reads) are retried on
UNAVAILABLE, a replica that keeps failing is ejected, a client's grpc-timeout is capped.

An edge of its own routes post, graph and media to replicas the test scripts (in-process
grpc.aio servers answering health SERVING, and every other call as the test decides),
beside the real graph service:

* post  -> `flaky`:  the first attempt of every request is UNAVAILABLE, a second succeeds;
* graph -> the mesh's graph service and `broken` (every call UNAVAILABLE);
* media -> `holding`: a call waits until the test lets it go (the edge's cap: 1 s).

Only the edge's behaviour is under test here; the replicas misbehave on cue, which a real
service cannot do deterministically.
"""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as ggrpc
from photomesh.media.v1 import media_service_pb2 as mpb
from photomesh.media.v1 import media_service_pb2_grpc as mgrpc
from photomesh.post.v1 import post_service_pb2 as ppb
from photomesh.post.v1 import post_service_pb2_grpc as pgrpc

from infra.backends.envoy import EnvoyBackend
from infra.edge import EdgeSettings
from infra.sandbox import Mesh
from infra.settings import InfraSettings
from tests.edge.conftest import another_edge
from tests.edge.http import request
from tests.graph_support import User, Users

CAP_SECONDS = 1.0  # the edge's cap on a client's grpc-timeout here

Answer = Callable[["Call", aio.ServicerContext], Awaitable[bytes]]


@dataclass
class Call:
    method: str       # /photomesh.post.v1.PostService/GetPost
    request: bytes
    attempt: int      # how many times this replica has seen these exact request bytes
    time_remaining: float | None


@dataclass
class ScriptedReplica:
    """A gRPC server standing in for one replica: health SERVING, every other call
    answered by `answer`, and every call recorded."""

    answer: Answer
    calls: list[Call] = field(default_factory=list)
    port: int = 0
    _server: aio.Server | None = None

    async def start(self) -> None:
        self._server = aio.server()
        checker = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(checker, self._server)
        self._server.add_generic_rpc_handlers((_Script(self),))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        await checker.set("", health_pb2.HealthCheckResponse.SERVING)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(0)

    def seen(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.endswith(f"/{method}")]


class _Script(grpc.GenericRpcHandler):
    def __init__(self, replica: ScriptedReplica) -> None:
        self._replica = replica

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method  # type: ignore[attr-defined]
        if method.startswith("/grpc.health.v1."):
            return None
        replica = self._replica

        async def behave(request: bytes, context: aio.ServicerContext) -> bytes:
            attempt = 1 + sum(1 for c in replica.calls
                              if c.method == method and c.request == request)
            call = Call(method, request, attempt, context.time_remaining())
            replica.calls.append(call)
            return await replica.answer(call, context)

        return grpc.unary_unary_rpc_method_handler(behave)


async def _unavailable(context: aio.ServicerContext) -> bytes:
    await context.abort(grpc.StatusCode.UNAVAILABLE, "scripted: try another replica")
    raise AssertionError("unreachable")


async def flaky_answer(call: Call, context: aio.ServicerContext) -> bytes:
    """UNAVAILABLE the first time a request is seen; a success the second time."""
    if call.attempt == 1:
        return await _unavailable(context)
    if call.method.endswith("/GetPost"):
        post_id = ppb.GetPostRequest.FromString(call.request).post_id
        return ppb.GetPostResponse(post=ppb.Post(post_id=post_id)).SerializeToString()
    return b""  # an empty response message of any type


async def broken_answer(call: Call, context: aio.ServicerContext) -> bytes:
    return await _unavailable(context)


@dataclass
class Replicas:
    flaky: ScriptedReplica
    broken: ScriptedReplica
    holding: ScriptedReplica
    release: asyncio.Event
    edge: EnvoyBackend
    user: User

    @property
    def target(self) -> str:
        return f"{self.edge.settings.host}:{self.edge.settings.envoy_port}"


@pytest.fixture(scope="module")
async def replicas(mesh: Mesh, backends: InfraSettings, test_run_dir
                   ) -> AsyncIterator[Replicas]:
    release = asyncio.Event()

    async def hold(call: Call, context: aio.ServicerContext) -> bytes:
        await release.wait()
        return b""

    flaky, broken, holding = (ScriptedReplica(flaky_answer), ScriptedReplica(broken_answer),
                              ScriptedReplica(hold))
    for replica in (flaky, broken, holding):
        await replica.start()
    # The edge routes to each service's target (every instance: infra/layout.py).
    env = {**mesh.env, "PHOTOMESH_POST_TARGET": f"127.0.0.1:{flaky.port}",
           "PHOTOMESH_MEDIA_TARGET": f"127.0.0.1:{holding.port}"}
    limits = EdgeSettings(replicas={"graph": [f"127.0.0.1:{broken.port}"]},
                          max_grpc_timeout_seconds=CAP_SECONDS,
                          health_check_interval_seconds=0.5,
                          rate_limit_requests=100_000, rate_limit_burst=100_000,
                          anonymous_rate_limit_requests=100_000,
                          anonymous_rate_limit_burst=100_000)
    async with aio.insecure_channel(mesh.target("auth")) as auth:
        (user,) = await Users.register(auth, 1)
    with ExitStack() as stack:
        # Started in a thread: the replicas answer Envoy's health checks on this loop.
        edge = await asyncio.to_thread(stack.enter_context, another_edge(
            backends.model_copy(update={"run_dir": test_run_dir}), "replicas", env, limits))
        try:
            yield Replicas(flaky, broken, holding, release, edge, user)
        finally:
            release.set()
            await asyncio.to_thread(stack.close)
            for replica in (flaky, broken, holding):
                await replica.stop()


async def test_reads_are_retried_on_unavailable_and_writes_are_not(replicas: Replicas) -> None:
    md = replicas.user.md
    async with aio.insecure_channel(replicas.target) as channel:
        posts = pgrpc.PostServiceStub(channel)
        got = await posts.GetPost(ppb.GetPostRequest(post_id=4242), metadata=md, timeout=20)
        assert got.post.post_id == 4242
        with pytest.raises(aio.AioRpcError) as err:
            await posts.LikePost(ppb.LikePostRequest(post_id=4242), metadata=md, timeout=20)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    # REST alike: a GET route is retried, a POST is not.
    port, token = replicas.edge.settings.envoy_port, replicas.user.token
    read = await asyncio.to_thread(request, port, "GET", "/v1/posts/4343", token=token)
    assert read.status == 200, read.body
    write = await asyncio.to_thread(request, port, "POST", "/v1/posts/4343:like", {},
                                    token=token)
    assert write.status == 503, write.body
    flaky = replicas.flaky
    assert [c.attempt for c in flaky.seen("GetPost")] == [1, 2, 1, 2]  # retried once each
    assert [c.attempt for c in flaky.seen("LikePost")] == [1, 1]  # never retried


def _ejected_ports(edge: EnvoyBackend) -> set[int]:
    """Ports of the graph cluster's endpoints that outlier detection has ejected."""
    with urllib.request.urlopen(f"{edge.admin_endpoint()}/clusters", timeout=5) as reply:
        lines = reply.read().decode().splitlines()
    return {int(parts[1].rsplit(":", 1)[1]) for line in lines
            if (parts := line.split("::"))[0] == "svc_graph" and len(parts) == 4
            and parts[2] == "health_flags" and "failed_outlier_check" in parts[3]}


async def test_a_replica_that_keeps_failing_is_ejected(replicas: Replicas, mesh: Mesh) -> None:
    md, me = replicas.user.md, replicas.user.user_id
    async with aio.insecure_channel(replicas.target) as channel:
        graph = ggrpc.SocialGraphServiceStub(channel)
        for _ in range(30):  # reads: a failed attempt is retried on the live replica
            reply = await graph.GetProfile(gpb.GetProfileRequest(user_id=me), metadata=md,
                                           timeout=20)
            assert reply.profile.user_id == me
    # Five failures in a row and the broken replica gets nothing more (ejected for 10 s).
    assert len(replicas.broken.calls) == 5
    assert _ejected_ports(replicas.edge) == {replicas.broken.port}


async def test_a_clients_grpc_timeout_is_capped(replicas: Replicas) -> None:
    async with aio.insecure_channel(replicas.target) as channel:
        media = mgrpc.MediaServiceStub(channel)
        with pytest.raises(aio.AioRpcError) as err:
            await media.GetMedia(mpb.GetMediaRequest(media_id=str(uuid.uuid4())),
                                 metadata=replicas.user.md, timeout=8)
    # The call ended while the replica still held it (never released), and the edge had
    # passed the replica the capped deadline, not the client's 8 s: the cap, whichever of
    # the edge and the replica's own deadline then ends the call first.
    assert not replicas.release.is_set()
    assert err.value.code() in (grpc.StatusCode.DEADLINE_EXCEEDED,
                                grpc.StatusCode.UNAVAILABLE), err.value
    (held,) = replicas.holding.seen("GetMedia")
    assert held.time_remaining is not None and held.time_remaining <= CAP_SECONDS
