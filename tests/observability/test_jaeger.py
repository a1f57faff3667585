"""The trace viewer: Jaeger v2 (built from its pinned Go module, infra/install.py) holds one
trace per post created through the edge, spanning edge → post → NATS → fan-out → timeline
write, found through Jaeger's own query API.

The test mesh's services and edge export to the run's OTLP receiver (tests/conftest.py),
which passes every export on to Jaeger unchanged, as a collector pipeline does;
`./photomesh up --observability` points them at Jaeger directly."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from grpc import aio
from photomesh.post.v1 import post_service_pb2 as ppb
from photomesh.post.v1 import post_service_pb2_grpc as pgrpc

from infra.backends.envoy import EnvoyBackend
from infra.backends.jaeger import JaegerBackend, private_jaeger
from infra.settings import InfraSettings
from tests.feed.support import World, eventually
from tests.media_support import ready_media_ids
from tests.otlp_collector import OtlpCollector

CREATE_POST = "/photomesh.post.v1.PostService/CreatePost"


@pytest.fixture(scope="session")
async def jaeger(backends: InfraSettings, test_run_dir: Path,
                 collector: OtlpCollector) -> AsyncIterator[JaegerBackend]:
    with private_jaeger(backends.model_copy(update={"run_dir": test_run_dir})) as running:
        collector.forward_to(running.otlp_endpoint())
        yield running


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.loads(reply.read())


def _traces_of(jaeger: JaegerBackend, service: str, marker: str) -> list[dict[str, Any]]:
    """Jaeger's traces with a span of `service` whose tags mention `marker`."""
    query = urllib.parse.urlencode({"service": service, "lookback": "10m", "limit": 200})
    found = _get(f"{jaeger.ui_url()}/api/traces?{query}")["data"] or []
    return [t for t in found if any(marker in str(tag.get("value"))
                                    for span in t["spans"] for tag in span["tags"])]


async def test_one_trace_spans_edge_post_nats_fanout_and_the_timeline_write(
        jaeger: JaegerBackend, edge: EnvoyBackend, channel_to) -> None:
    world = World(channel_to)
    author, follower = await world.users(2)
    await world.follow([follower], author)
    (media_id,) = await ready_media_ids(channel_to("media"), author.token, 1)
    marker = f"trace-test-{uuid.uuid4().hex[:8]}"  # the client's user agent: a span tag
    async with aio.insecure_channel(f"{edge.settings.host}:{edge.settings.envoy_port}",
                                    options=[("grpc.primary_user_agent", marker)]) as channel:
        created = await pgrpc.PostServiceStub(channel).CreatePost(ppb.CreatePostRequest(
            request_id=str(uuid.uuid4()), caption="seen in Jaeger", media_ids=[media_id]),
            metadata=author.md, timeout=10)
    assert created.post.post_id

    def complete(traces: list[dict[str, Any]]) -> bool:
        names = {(t["processes"][s["processID"]]["serviceName"], s["operationName"])
                 for t in traces for s in t["spans"]}
        return ("photomesh-feed_fanout", "feed.timelines.write") in names

    (trace,) = await eventually(
        lambda: asyncio.to_thread(_traces_of, jaeger, "photomesh-edge", marker), complete,
        timeout=40, what="the whole trace in Jaeger")
    spans = {s["spanID"]: s for s in trace["spans"]}

    def service(span: dict[str, Any]) -> str:
        return str(trace["processes"][span["processID"]]["serviceName"])

    def parent(span: dict[str, Any]) -> dict[str, Any] | None:
        refs = [r for r in span["references"] if r["refType"] == "CHILD_OF"]
        return spans.get(refs[0]["spanID"]) if refs else None

    def ancestors(span: dict[str, Any]) -> list[str]:
        chain, current = [], parent(span)
        while current is not None:
            chain.append(f"{service(current)}:{current['operationName']}")
            current = parent(current)
        return chain

    (edge_root,) = [s for s in spans.values() if parent(s) is None]
    assert service(edge_root) == "photomesh-edge"  # the edge started the trace
    (server,) = [s for s in spans.values()
                 if service(s) == "photomesh-post" and s["operationName"] == CREATE_POST]
    assert service(parent(server) or {}) == "photomesh-edge"
    publish = [s for s in spans.values() if service(s) == "photomesh-post"
               and s["operationName"].endswith(".post.created publish")]
    consume = [s for s in spans.values() if service(s) == "photomesh-feed_fanout"
               and s["operationName"].endswith(".post.created process")]
    write = [s for s in spans.values() if service(s) == "photomesh-feed_fanout"
             and s["operationName"] == "feed.timelines.write"]
    assert publish and consume and write
    # One causal chain: the timeline write under the consumer, under the publish, under the
    # post service's handling of the call the edge forwarded.
    chain = ancestors(write[0])
    assert chain.index(f"photomesh-feed_fanout:{consume[0]['operationName']}") < \
        chain.index(f"photomesh-post:{publish[0]['operationName']}") < \
        chain.index(f"photomesh-post:{CREATE_POST}") < len(chain)
    assert chain[-1].startswith("photomesh-edge:")
