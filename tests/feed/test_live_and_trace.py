"""StreamHomeFeed pushes fan-out as it lands; one post is one trace end to end."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from opentelemetry.sdk.trace import TracerProvider
from photomesh.feed.v1 import feed_service_pb2 as fpb
from photomesh.post.v1 import post_service_pb2 as ppb
from photomesh.post.v1 import post_service_pb2_grpc as pgrpc

from tests.feed.support import World, eventually
from tests.media_support import ready_media_ids


@pytest.fixture
def world(feed_mesh, channel_to) -> World:
    return World(channel_to)


async def test_the_stream_receives_a_new_post(world: World) -> None:
    author, follower = await world.users(2)
    await world.follow([follower], author)
    call = world.feed.StreamHomeFeed(fpb.StreamHomeFeedRequest(), metadata=follower.md)
    try:
        await asyncio.wait_for(call.initial_metadata(), 10)  # subscribed
        post = await world.post(author, "live")
        reply = await asyncio.wait_for(call.read(), 20)
        assert reply.item.post.post_id == post.post_id
        assert reply.item.post.caption == "live"
    finally:
        call.cancel()


async def test_the_stream_needs_a_signed_in_user(world: World) -> None:
    call = world.feed.StreamHomeFeed(fpb.StreamHomeFeedRequest())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call.read()
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_one_post_is_one_trace_from_create_to_timeline_writes(
        world: World, feed_mesh, collector) -> None:
    author, *followers = await world.users(4)  # 3 followers: two fan-out batches of 2
    await world.follow(followers, author)
    (media_id,) = await ready_media_ids(world.channel_to("media"), author.token, 1)
    provider = TracerProvider()
    channel = grpc.aio.insecure_channel(feed_mesh.target("post"),
                                        interceptors=aio_client_interceptors(provider))
    try:
        with provider.get_tracer("test").start_as_current_span("client") as root:
            await pgrpc.PostServiceStub(channel).CreatePost(ppb.CreatePostRequest(
                request_id=str(uuid.uuid4()), caption="traced", media_ids=[media_id]),
                metadata=author.md, timeout=10)
        trace_id = format(root.get_span_context().trace_id, "032x")
    finally:
        await channel.close()

    def spans() -> list:
        return [s for s in collector.spans if s.trace_id == trace_id]

    async def current() -> list:
        return spans()

    # Each process exports its spans in its own batches: wait for the post service's too.
    found = await eventually(current, lambda s: sum(
        x.name == "feed.timelines.write" for x in s) == 2 and sum(
        x.service == "photomesh-post" and (x.name.endswith("/CreatePost")
                                           or x.name.endswith("post.created publish"))
        for x in s) >= 2, what="both batches written, all exported")
    names = {(s.service, s.name) for s in found}
    assert ("photomesh-post", "/photomesh.post.v1.PostService/CreatePost") in names
    assert any(s == "photomesh-post" and n.endswith("post.created publish") for s, n in names)
    assert any(s == "photomesh-feed_fanout" and n.endswith("post.created process")
               for s, n in names)
    fanout = [s for s in found if s.name.endswith("feed.fanout publish")]
    assert len(fanout) == 1  # the first batch is written by the event's handler itself
    assert sum(s.name.endswith("feed.fanout process") for s in found) == 1
