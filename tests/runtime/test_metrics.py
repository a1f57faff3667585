"""Every process serves Prometheus metrics: the RED series of the RPCs it answered (by final
gRPC code), its backends' latency, its consumers' lag and outcomes, and the domain series
(fan-out rows, media jobs, cache lookups), read from its real /metrics endpoint."""

from __future__ import annotations

import asyncio
import urllib.request

import grpc
import pytest
from photomesh.auth.v1 import auth_service_pb2 as auth_pb
from photomesh.auth.v1 import auth_service_pb2_grpc as auth_grpc
from prometheus_client.parser import text_string_to_metric_families

from infra.layout import SERVICES
from infra.sandbox import Mesh
from tests.feed.support import World, eventually

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=5) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape_all(urls: list[str]) -> Samples:
    """The samples of several processes (every replica of a service), summed."""
    total: Samples = {}
    for url in urls:
        for key, sample in scrape(url).items():
            total[key] = total.get(key, 0.0) + sample
    return total


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over the samples whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


REGISTER = {"grpc_service": "photomesh.auth.v1.AuthService", "grpc_method": "Register"}


async def test_the_red_series_of_a_real_call_are_on_the_process_endpoint(mesh: Mesh,
                                                                         channel_to) -> None:
    urls = [mesh.metrics_url("auth", i.replica) for i in mesh.layout.of("auth")]
    before = scrape_all(urls)
    stub = auth_grpc.AuthServiceStub(channel_to("auth"))
    await stub.Register(auth_pb.RegisterRequest(
        request_id="metrics-ok-1", username="metrics_ok_user", password="correct horse battery",
        display_name="Metrics"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.Register(auth_pb.RegisterRequest(request_id="metrics-bad-1", username="x",
                                                    password="short"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    after = scrape_all(urls)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("grpc_server_started_total", **REGISTER, grpc_type="unary") == 2
    assert delta("grpc_server_handled_total", **REGISTER, grpc_code="OK") == 1
    assert delta("grpc_server_handled_total", **REGISTER, grpc_code="INVALID_ARGUMENT") == 1
    assert delta("grpc_server_handling_seconds_count", **REGISTER) == 2
    assert delta("grpc_server_handling_seconds_sum", **REGISTER) > 0
    # A bucket below the largest holds the fast refusal: the histogram has real buckets.
    assert value(after, "grpc_server_handling_seconds_bucket", **REGISTER, le="+Inf") \
        >= value(after, "grpc_server_handling_seconds_bucket", **REGISTER, le="1.0") >= 1
    # Its backends, timed as the client sees them.
    assert value(after, "photomesh_cql_request_seconds_count", operation="insert") >= 1


async def test_every_process_serves_its_endpoint(mesh: Mesh) -> None:
    for name in SERVICES:
        samples = await asyncio.to_thread(scrape, mesh.metrics_url(name))
        # Health checks (the readiness probe) are RPCs like any other.
        assert value(samples, "grpc_server_handled_total",
                     grpc_service="grpc.health.v1.Health", grpc_code="OK") >= 1, name
        assert value(samples, "process_resident_memory_bytes") > 0, name


async def test_a_post_shows_fan_out_events_media_jobs_and_caches(mesh: Mesh,
                                                                  channel_to) -> None:
    def every(name: str) -> list[str]:  # the work may land on any replica
        return [mesh.metrics_url(name, i.replica) for i in mesh.layout.of(name)]

    world = World(channel_to)
    author, reader = await world.users(2)
    await world.follow([reader], author)
    post = await world.post(author)
    await eventually(lambda: world.home(reader),
                     lambda page: any(i.post.post_id == post.post_id for i in page.items),
                     what="the post in the follower's feed")

    worker = await asyncio.to_thread(scrape_all, every("feed_fanout"))
    assert value(worker, "photomesh_fanout_rows_total") >= 1
    assert value(worker, "photomesh_fanout_lag_seconds_count") >= 1
    assert value(worker, "photomesh_jetstream_messages_total", durable="feed_post_created",
                 outcome="acked") >= 1
    assert value(worker, "photomesh_jetstream_message_age_seconds_count",
                 durable="feed_post_created") >= 1
    pending = [v for (n, ls), v in worker.items()
               if n == "photomesh_jetstream_consumer_pending_messages"
               and ("durable", "feed_post_created") in ls]
    assert pending and all(v >= 0 for v in pending)
    assert value(worker, "photomesh_redis_command_seconds_count") >= 1

    media = await asyncio.to_thread(scrape_all, every("media_worker"))
    assert value(media, "photomesh_media_jobs_total", kind="image", outcome="ready") >= 1
    assert value(media, "photomesh_media_job_seconds_count", kind="image") >= 1

    feed = await asyncio.to_thread(scrape_all, every("feed"))
    assert value(feed, "photomesh_cache_lookups_total", cache="feed_timeline") >= 1
    assert value(feed, "photomesh_cache_lookups_total", cache="feed_post_cards") >= 1
    post_side = await asyncio.to_thread(scrape_all, every("post"))
    assert value(post_side, "photomesh_jetstream_publish_seconds_count") >= 1
