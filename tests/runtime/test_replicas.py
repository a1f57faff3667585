"""Replicas: every process of a service serves its share of the calls (peers and the edge
balance over all of them), and each makes its own Snowflake ids. The assertions hold for
any layout; `./photomesh test` runs this module with two processes of every service and
worker (infra/checks.py REPLICA_SUBSET), where they mean something."""

from __future__ import annotations

import asyncio
import uuid

from photomesh.post.v1 import post_service_pb2 as ppb

from infra.backends.envoy import EnvoyBackend
from infra.layout import SERVICES
from infra.sandbox import Mesh
from services.runtime.ids import SEQUENCE_BITS, WORKER_BITS
from tests.feed.support import World, eventually
from tests.runtime.test_metrics import scrape, value


def _worker_id(snowflake: int) -> int:
    return (snowflake >> SEQUENCE_BITS) & ((1 << WORKER_BITS) - 1)


def _handled(mesh: Mesh, service: str, method: str) -> list[float]:
    """Calls of `method` each instance of `service` answered."""
    return [value(scrape(mesh.metrics_url(service, i.replica)), "grpc_server_handled_total",
                  grpc_method=method) for i in mesh.layout.of(service)]


async def test_every_instance_answers_and_makes_its_own_ids(mesh: Mesh, channel_to) -> None:
    replicas = mesh.layout.replicas
    world = World(channel_to)
    author, reader = await world.users(2)
    await world.follow([reader], author)
    post = await world.post(author)
    comments = [await world.posts.CreateComment(ppb.CreateCommentRequest(
        request_id=str(uuid.uuid4()), post_id=post.post_id, text=f"comment {i}"),
        metadata=author.md) for i in range(4 * replicas)]
    # Round-robin over the post processes: each made some of the ids, with its own worker id.
    workers = {_worker_id(c.comment.comment_id) for c in comments}
    assert len(workers) == replicas
    assert set(_worker_id(c.comment.comment_id) for c in comments) == \
        {i.worker_id for i in mesh.layout.of("post")}
    handled = await asyncio.to_thread(_handled, mesh, "post", "CreateComment")
    assert all(n >= 1 for n in handled) and sum(handled) >= 4 * replicas

    # The feed reads its peers (post, graph) over balanced channels: after a few pages every
    # graph and post process has answered the feed's calls, not only the first one.
    await eventually(lambda: world.home(reader),
                     lambda page: any(i.post.post_id == post.post_id for i in page.items),
                     what="the post in the follower's feed")
    for _ in range(4 * replicas):
        await world.home(reader)
    for service in ("feed", "graph", "post"):
        samples = [await asyncio.to_thread(scrape, mesh.metrics_url(service, i.replica))
                   for i in mesh.layout.of(service)]
        non_health = [value(s, "grpc_server_handled_total") -
                      value(s, "grpc_server_handled_total",
                            grpc_service="grpc.health.v1.Health") for s in samples]
        assert all(n >= 1 for n in non_health), (service, non_health)


async def test_the_edge_routes_to_every_instance(mesh: Mesh, edge: EnvoyBackend) -> None:
    health = await asyncio.to_thread(edge.cluster_health)
    for service in {"auth", "graph", "post", "feed", "story", "media", "notification",
                    "message"}:
        live = health[f"svc_{service}"]
        # The test edge adds one dead auth replica on purpose (tests/conftest.py).
        assert live.count(True) == mesh.layout.replicas, (service, live)


async def test_every_worker_process_consumes(mesh: Mesh) -> None:
    for name in SERVICES:
        if name not in ("media_worker", "feed_fanout", "notification_worker",
                        "message_worker"):
            continue
        for instance in mesh.layout.of(name):
            samples = await asyncio.to_thread(scrape, mesh.metrics_url(name, instance.replica))
            durables = {dict(labels)["durable"] for (n, labels), _ in samples.items()
                        if n == "photomesh_jetstream_consumer_pending_messages"}
            assert durables, f"{instance.label} consumes nothing"
