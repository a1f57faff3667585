"""The mesh's health from its replicas: real gRPC health servers (in this process) stand in
for the processes, so replicas can be made to stop serving or disappear."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from infra.sandbox import free_port
from services.introspection.mesh_health import MeshHealth, Topology, health_statuses, resolve

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
FEED = "photomesh.feed.v1.FeedService"
POST = "photomesh.post.v1.PostService"


def test_statuses_need_one_replica_per_process_and_every_process_for_the_mesh() -> None:
    topology = Topology.of({"post": ["a", "b"], "feed": ["c"], "feed_fanout": ["d"]},
                           [POST, FEED, "photomesh.story.v1.StoryService"])
    assert topology.services == {POST: "post", FEED: "feed"}  # story: no process here
    statuses = health_statuses(topology, {"post": {"a": False, "b": True},
                                          "feed": {"c": True}, "feed_fanout": {"d": True}})
    assert statuses == {"": True, "post": True, "feed": True, "feed_fanout": True,
                        POST: True, FEED: True}
    statuses = health_statuses(topology, {"post": {"a": False, "b": True}, "feed": {},
                                          "feed_fanout": {"d": True}})
    assert (statuses[""], statuses["feed"], statuses[FEED], statuses["post"]) == (
        False, False, False, True)


async def test_resolve_expands_names_and_keeps_addresses() -> None:
    assert await resolve("10.1.2.3:50053") == {"10.1.2.3:50053"}
    assert await resolve("[::1]:50053") == {"[::1]:50053"}
    assert "127.0.0.1:50053" in await resolve("localhost:50053")


class Replica:
    """A gRPC server answering grpc.health.v1, on a port of its own."""

    def __init__(self) -> None:
        self.server = aio.server()
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, status: int = SERVING) -> None:
        await self.server.start()
        await self.health.set("", status)


@pytest.fixture
async def replicas() -> AsyncIterator[Callable[[], Replica]]:
    made: list[Replica] = []

    def make() -> Replica:
        made.append(Replica())
        return made[-1]

    yield make
    for replica in made:
        await replica.server.stop(0)


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_watches_every_replica_and_follows_changes(replicas) -> None:  # type: ignore[no-untyped-def]
    post_a, post_b, feed = replicas(), replicas(), replicas()
    dead = f"127.0.0.1:{free_port()}"  # nothing listens: a replica down from the start
    for replica in (post_a, post_b, feed):
        await replica.start()
    servicer = health.aio.HealthServicer()
    server = aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    topology = Topology.of({"post": [post_a.target, post_b.target, dead],
                            "feed": [f"localhost:{feed.port}"]}, [POST, FEED])
    mesh = MeshHealth(topology, servicer, resolve_interval=0.2, retry_max=0.2)
    await mesh.publish()
    running = asyncio.ensure_future(asyncio.sleep(0))
    async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        async def status(name: str) -> int:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=2)
            return int(reply.status)

        async def statuses() -> dict[str, int]:
            return {n: await status(n) for n in ("", "post", "feed", POST, FEED)}

        watch = stub.Watch(health_pb2.HealthCheckRequest(service=""))
        try:
            assert (await watch.read()).status == NOT_SERVING
            running = asyncio.ensure_future(mesh.run())
            await until(lambda: mesh.replicas()["feed"].get(feed.target) is True)
            await until(lambda: mesh.replicas()["post"].get(dead) is False)
            assert await statuses() == dict.fromkeys(("", "post", "feed", POST, FEED), SERVING)

            # One post replica stops serving: the other still serves post.
            await post_a.health.set("", NOT_SERVING)
            await until(lambda: mesh.replicas()["post"][post_a.target] is False)
            assert await status("post") == SERVING and await status("") == SERVING
            # The last one goes away: post, its service and the mesh are down.
            await post_b.server.stop(0)
            await until(lambda: mesh.replicas()["post"][post_b.target] is False)
            assert await statuses() == {"": NOT_SERVING, "post": NOT_SERVING, POST: NOT_SERVING,
                                        "feed": SERVING, FEED: SERVING}
            # Watch("") followed the mesh: up once the replicas answered, then down.
            seen = [(await watch.read()).status for _ in range(2)]
            assert seen == [SERVING, NOT_SERVING]
            # It serves again: the mesh with it.
            await post_a.health.set("", SERVING)
            await until(lambda: mesh.replicas()["post"][post_a.target] is True)
            assert await status("") == SERVING
        finally:
            watch.cancel()
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await server.stop(0)
