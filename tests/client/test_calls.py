"""What every call of the Client carries and how it fails, seen by a real gRPC server:
the caller's token (fixed, async, refreshed, per-call), the default deadline and its
override, retries of reads only, typed errors from google.rpc details, extra interceptors."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from grpc import aio
from photomesh.feed.v1 import feed_service_pb2 as feed_pb
from photomesh.post.v1 import post_service_pb2 as post_pb
from photomesh.post.v1 import post_service_pb2_grpc as post_grpc
from photomesh_client import (
    Client,
    InvalidArgument,
    NotFound,
    PhotomeshError,
    ResourceExhausted,
    RetryPolicy,
    Targets,
    Unavailable,
    error_from,
)

from tests.client.probe import Script, rich_status

UNAVAILABLE = (grpc.StatusCode.UNAVAILABLE, None)


def client(target: str, **kwargs: Any) -> Client:
    return Client(Targets(services={"post": target, "feed": target}), **kwargs)


async def test_token_from_a_plain_an_async_and_a_changing_provider(
        probe: tuple[Script, str]) -> None:
    script, target = probe
    tokens = iter(["first", "second"])

    async def rotating() -> str:
        return next(tokens)

    async with client(target, token=lambda: "fixed") as fixed:
        await fixed.post.GetPost(post_pb.GetPostRequest(post_id=1))
    async with client(target, token=rotating) as changing:
        await changing.post.GetPost(post_pb.GetPostRequest(post_id=1))
        await changing.post.GetPost(post_pb.GetPostRequest(post_id=2))
        # A call's own authorization wins over the provider's.
        await changing.post.GetPost(post_pb.GetPostRequest(post_id=3),
                                    metadata=(("authorization", "Bearer own"),))
    async with client(target) as anonymous:
        await anonymous.post.GetPost(post_pb.GetPostRequest(post_id=4))
    assert [s.authorization for s in script.calls("GetPost")] == [
        "Bearer fixed", "Bearer first", "Bearer second", "Bearer own", None]


async def test_every_unary_call_has_the_default_deadline_unless_it_sets_one(
        probe: tuple[Script, str]) -> None:
    script, target = probe
    async with client(target, timeout=7.0) as mesh:
        await mesh.post.GetPost(post_pb.GetPostRequest(post_id=1))
        await mesh.post.GetPost(post_pb.GetPostRequest(post_id=1), timeout=30.0)
        async for _ in mesh.feed.StreamHomeFeed(feed_pb.StreamHomeFeedRequest()):
            break
    default, overridden = (s.time_remaining for s in script.calls("GetPost"))
    assert default is not None and 6.0 < default <= 7.5
    assert overridden is not None and 29.0 < overridden <= 30.5  # grpc-timeout rounds up
    # Server streams get no deadline by default (a live feed runs for hours).
    stream = script.calls("StreamHomeFeed")[0].time_remaining
    assert stream is None or stream > 1e6


async def test_reads_are_retried_on_unavailable_writes_never(
        probe: tuple[Script, str]) -> None:
    script, target = probe
    script.failures = {"GetPost": [UNAVAILABLE, UNAVAILABLE], "CreatePost": [UNAVAILABLE]}
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)
    async with client(target, retry=policy) as mesh:
        reply = await mesh.post.GetPost(post_pb.GetPostRequest(post_id=9))
        assert reply.post.post_id == 9
        with pytest.raises(Unavailable):
            await mesh.post.CreatePost(post_pb.CreatePostRequest(caption="once"))
    assert len(script.calls("GetPost")) == 3
    assert len(script.calls("CreatePost")) == 1


async def test_retries_stop_at_max_attempts_and_can_be_turned_off(
        probe: tuple[Script, str]) -> None:
    script, target = probe
    script.failures = {"GetPost": [UNAVAILABLE] * 3}
    async with client(target, retry=RetryPolicy(max_attempts=2, initial_backoff=0.01)) as mesh:
        with pytest.raises(Unavailable):
            await mesh.post.GetPost(post_pb.GetPostRequest(post_id=1))
    assert len(script.calls("GetPost")) == 2
    async with client(target, retry=None) as mesh:
        with pytest.raises(Unavailable):
            await mesh.post.GetPost(post_pb.GetPostRequest(post_id=1))
    assert len(script.calls("GetPost")) == 3


async def test_errors_are_typed_from_their_google_rpc_details(
        probe: tuple[Script, str]) -> None:
    script, target = probe
    script.failures = {
        "CreatePost": [
            (grpc.StatusCode.INVALID_ARGUMENT, rich_status(
                grpc.StatusCode.INVALID_ARGUMENT, "caption: too long", "INVALID_ARGUMENT",
                "post.photomesh", violations=[("caption", "too long"), ("media_ids", "empty")])),
            (grpc.StatusCode.RESOURCE_EXHAUSTED, rich_status(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", "RATE_LIMITED",
                "post.photomesh", retry_seconds=1.5)),
        ],
        "GetPost": [(grpc.StatusCode.NOT_FOUND, rich_status(
            grpc.StatusCode.NOT_FOUND, "post 5 not found", "POST_NOT_FOUND", "post.photomesh",
            metadata={"post_id": "5"}))],
    }
    async with client(target) as mesh:
        with pytest.raises(InvalidArgument) as bad:
            await mesh.post.CreatePost(post_pb.CreatePostRequest(caption="x"))
        with pytest.raises(ResourceExhausted) as limited:
            await mesh.post.CreatePost(post_pb.CreatePostRequest(caption="x"))
        with pytest.raises(NotFound) as missing:
            await mesh.post.GetPost(post_pb.GetPostRequest(post_id=5))
    assert [(v.field, v.description) for v in bad.value.field_violations] == [
        ("caption", "too long"), ("media_ids", "empty")]
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert limited.value.reason == "RATE_LIMITED" and limited.value.retry_after == 1.5
    error = missing.value
    assert (error.reason, error.domain, dict(error.metadata)) == (
        "POST_NOT_FOUND", "post.photomesh", {"post_id": "5"})
    assert error.message == "post 5 not found" and error.details() == "post 5 not found"
    assert str(error) == "NOT_FOUND POST_NOT_FOUND (post.photomesh): post 5 not found"
    # Still an AioRpcError for code written against grpc alone.
    assert isinstance(error, aio.AioRpcError) and isinstance(error, PhotomeshError)


async def test_a_failed_stream_raises_a_typed_error_after_its_messages(
        probe: tuple[Script, str]) -> None:
    _, target = probe
    received = []
    async with client(target) as mesh:
        with pytest.raises(Unavailable) as ended:
            async for message in mesh.feed.StreamHomeFeed(feed_pb.StreamHomeFeedRequest()):
                received.append(message.item.post.post_id)
    assert received == [7]
    assert (ended.value.reason, ended.value.domain) == ("BACKEND_UNAVAILABLE", "feed.photomesh")


async def test_a_plain_grpc_failure_is_typed_without_details(
        probe: tuple[Script, str]) -> None:
    script, target = probe
    script.failures = {"GetPost": [(grpc.StatusCode.PERMISSION_DENIED, None)]}
    async with client(target) as mesh:
        with pytest.raises(PhotomeshError) as denied:
            await mesh.post.GetPost(post_pb.GetPostRequest(post_id=1))
    assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert (denied.value.reason, denied.value.field_violations, denied.value.status) == (
        "", (), None)


async def test_error_from_types_a_sync_stub_failure_too(probe: tuple[Script, str]) -> None:
    script, target = probe
    script.failures = {"GetPost": [(grpc.StatusCode.NOT_FOUND, rich_status(
        grpc.StatusCode.NOT_FOUND, "gone", "POST_NOT_FOUND", "post.photomesh"))]}

    def call_sync() -> grpc.RpcError:
        with grpc.insecure_channel(target) as channel:
            try:
                post_grpc.PostServiceStub(channel).GetPost(post_pb.GetPostRequest(post_id=1),
                                                           timeout=10)
            except grpc.RpcError as error:
                return error
        raise AssertionError("the call should have failed")

    error = error_from(await asyncio.to_thread(call_sync))
    assert isinstance(error, NotFound)
    assert (error.reason, error.domain, error.message) == (
        "POST_NOT_FOUND", "post.photomesh", "gone")


class _Stamp(aio.UnaryUnaryClientInterceptor):
    """A caller's own interceptor: forwards a deadline of its own, adds a header."""

    async def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        metadata = aio.Metadata(*(details.metadata or ()), ("x-caller", "stamped"))
        return await continuation(aio.ClientCallDetails(
            details.method, 3.0, metadata, details.credentials, details.wait_for_ready),
            request)


async def test_extra_interceptors_run_first_and_their_deadline_wins(
        probe: tuple[Script, str]) -> None:
    script, target = probe
    async with client(target, token=lambda: "t", interceptors=[_Stamp()]) as mesh:
        await mesh.post.GetPost(post_pb.GetPostRequest(post_id=1))
    seen = script.calls("GetPost")[0]
    assert seen.authorization == "Bearer t"
    assert seen.time_remaining is not None and 2.0 < seen.time_remaining <= 3.5


async def test_targets_need_an_address_for_each_service_called() -> None:
    with pytest.raises(ValueError):
        Targets()
    mesh = Client(Targets(services={"post": "127.0.0.1:1"}))
    with pytest.raises(LookupError, match="story"):
        mesh.story  # noqa: B018 - opening the story channel needs its address
    await mesh.close()
