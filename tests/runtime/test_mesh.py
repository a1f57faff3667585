"""Every service of the mesh: health, reflection, authentication and tracing."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from opentelemetry.sdk.trace import TracerProvider

# One non-public RPC per service, called with an empty request, to check authentication.
from photomesh.feed.v1 import feed_service_pb2, feed_service_pb2_grpc
from photomesh.graph.v1 import social_graph_service_pb2, social_graph_service_pb2_grpc
from photomesh.media.v1 import media_service_pb2, media_service_pb2_grpc
from photomesh.message.v1 import message_service_pb2, message_service_pb2_grpc
from photomesh.notification.v1 import notification_service_pb2, notification_service_pb2_grpc
from photomesh.post.v1 import post_service_pb2, post_service_pb2_grpc
from photomesh.story.v1 import story_service_pb2, story_service_pb2_grpc

from infra.services import SERVICES
from tests.helpers import bearer, error_info, private_key, register, signed_token

PROTECTED = {
    "graph": lambda ch, md: social_graph_service_pb2_grpc.SocialGraphServiceStub(ch).GetProfile(
        social_graph_service_pb2.GetProfileRequest(), metadata=md),
    "post": lambda ch, md: post_service_pb2_grpc.PostServiceStub(ch).GetPost(
        post_service_pb2.GetPostRequest(), metadata=md),
    "feed": lambda ch, md: feed_service_pb2_grpc.FeedServiceStub(ch).GetHomeFeed(
        feed_service_pb2.GetHomeFeedRequest(), metadata=md),
    "story": lambda ch, md: story_service_pb2_grpc.StoryServiceStub(ch).GetStoryTray(
        story_service_pb2.GetStoryTrayRequest(), metadata=md),
    "media": lambda ch, md: media_service_pb2_grpc.MediaServiceStub(ch).GetMedia(
        media_service_pb2.GetMediaRequest(), metadata=md),
    "notification": lambda ch, md: notification_service_pb2_grpc.NotificationServiceStub(
        ch).GetUnreadCount(notification_service_pb2.GetUnreadCountRequest(), metadata=md),
    "message": lambda ch, md: message_service_pb2_grpc.MessageServiceStub(ch).GetUnreadCount(
        message_service_pb2.GetUnreadCountRequest(), metadata=md),
}


@pytest.mark.parametrize("service", SERVICES)
async def test_every_service_answers_its_health_check(service: str, channel_to) -> None:
    stub = health_pb2_grpc.HealthStub(channel_to(service))
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_every_photomesh_service(channel_to) -> None:
    listed: set[str] = set()
    for service in SERVICES:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel_to(service))
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        async for response in responses:
            listed |= {s.name for s in response.list_services_response.service}
    expected = {
        "photomesh.auth.v1.AuthService", "photomesh.graph.v1.SocialGraphService",
        "photomesh.post.v1.PostService", "photomesh.feed.v1.FeedService",
        "photomesh.story.v1.StoryService", "photomesh.media.v1.MediaService",
        "photomesh.notification.v1.NotificationService",
        "photomesh.message.v1.MessageService",
    }
    assert expected <= listed
    assert "grpc.health.v1.Health" in listed


@pytest.mark.parametrize("service", sorted(PROTECTED))
async def test_calls_without_a_token_are_unauthenticated(service: str, channel_to) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await PROTECTED[service](channel_to(service), ())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    info = error_info(err.value)
    assert info.reason == "TOKEN_MISSING"
    assert info.domain == f"{service}.photomesh"


@pytest.mark.parametrize("service", sorted(PROTECTED))
async def test_forged_and_expired_tokens_are_refused(service: str, channel_to, mesh) -> None:
    forged = signed_token(None)
    expired = signed_token(private_key(mesh.settings.run_dir), ttl=-120)
    for token, reason in ((forged, "TOKEN_INVALID"), (expired, "TOKEN_EXPIRED"),
                          ("not.a.jwt", "TOKEN_INVALID")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await PROTECTED[service](channel_to(service), bearer(token))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, token
        assert error_info(err.value).reason == reason


async def test_a_valid_token_gets_past_authentication(channel_to) -> None:
    account = await register(channel_to("auth"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await PROTECTED["post"](channel_to("post"), bearer(account.tokens.access_token))
    # Authenticated: the answer comes from the service's own validation (post id 0).
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(err.value).domain == "post.photomesh"


async def test_a_client_trace_contains_the_server_span(mesh, collector) -> None:
    from photomesh.auth.v1 import auth_service_pb2, auth_service_pb2_grpc

    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    channel = grpc.aio.insecure_channel(mesh.target("auth"),
                                        interceptors=aio_client_interceptors(provider))
    try:
        with tracer.start_as_current_span("client-root") as root:
            await auth_service_pb2_grpc.AuthServiceStub(channel).GetPublicKeys(
                auth_service_pb2.GetPublicKeysRequest(), timeout=5)
        trace_id = format(root.get_span_context().trace_id, "032x")
    finally:
        await channel.close()
    spans = await collector.wait_for(trace_id, "photomesh-auth")
    server = [s for s in spans if s.service == "photomesh-auth"]
    assert any(s.name == "/photomesh.auth.v1.AuthService/GetPublicKeys" for s in server)
    # The server span is a child within the client's trace, not a new root.
    assert all(s.parent_span_id for s in server)
