"""`Client`: one grpc.aio channel per photomesh service, each with the caller's token, a
default deadline, retries of reads (service_config.py) and typed errors (errors.py).

    async with Client(Targets(edge="edge.internal:18080"), token=my_token) as mesh:
        reply = await mesh.post.GetPost(post_pb.GetPostRequest(post_id=post_id))

`mesh.post` (and `mesh.stub(PostServiceStub)`) is the generated stub, typed by its .pyi;
every call takes the usual `timeout=`, `metadata=` … to override the defaults.

A mesh service builds its peers on the same class: its own token provider (the user being
served, or its service token), its tracing and deadline-forwarding interceptors (run before
the client's own, so a forwarded deadline wins over the default), its channel options.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc import aio
from photomesh.auth.v1 import auth_service_pb2_grpc as auth_grpc
from photomesh.discovery.v1 import explore_service_pb2_grpc as explore_grpc
from photomesh.discovery.v1 import search_service_pb2_grpc as search_grpc
from photomesh.feed.v1 import feed_service_pb2_grpc as feed_grpc
from photomesh.graph.v1 import social_graph_service_pb2_grpc as graph_grpc
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc
from photomesh.message.v1 import message_service_pb2_grpc as message_grpc
from photomesh.notification.v1 import notification_service_pb2_grpc as notification_grpc
from photomesh.post.v1 import post_service_pb2_grpc as post_grpc
from photomesh.story.v1 import story_service_pb2_grpc as story_grpc

from photomesh_client.contracts import mesh_name, service_of
from photomesh_client.interceptors import CallDefaults, client_interceptors
from photomesh_client.service_config import RetryPolicy, channel_options
from photomesh_client.targets import Targets
from photomesh_client.tokens import TokenProvider

if TYPE_CHECKING:
    from photomesh.auth.v1.auth_service_pb2_grpc import AuthServiceAsyncStub
    from photomesh.discovery.v1.explore_service_pb2_grpc import ExploreServiceAsyncStub
    from photomesh.discovery.v1.search_service_pb2_grpc import SearchServiceAsyncStub
    from photomesh.feed.v1.feed_service_pb2_grpc import FeedServiceAsyncStub
    from photomesh.graph.v1.social_graph_service_pb2_grpc import SocialGraphServiceAsyncStub
    from photomesh.media.v1.media_service_pb2_grpc import MediaServiceAsyncStub
    from photomesh.message.v1.message_service_pb2_grpc import MessageServiceAsyncStub
    from photomesh.notification.v1.notification_service_pb2_grpc import (
        NotificationServiceAsyncStub,
    )
    from photomesh.post.v1.post_service_pb2_grpc import PostServiceAsyncStub
    from photomesh.story.v1.story_service_pb2_grpc import StoryServiceAsyncStub

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_RETRY = RetryPolicy()
#: Messages up to this size both ways (a feed page of 50 posts is far below it).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

S = TypeVar("S", covariant=True)


class StubFactory(Protocol[S]):
    """A generated stub class: called with an aio channel, it gives the async stub."""

    def __call__(self, channel: aio.Channel) -> S: ...


class Client:
    """Stubs of every photomesh service for one caller.

    `token`: the caller's access token provider (None: public RPCs only).
    `timeout`: default deadline (seconds) of unary calls; `stream_timeout` of server
    streams (None = none). `retry`: how reads are retried on UNAVAILABLE (None: never).
    `credentials`: TLS channel credentials (None: plaintext, for a private network).
    `interceptors`: more client interceptors, run before (outside) the client's own.
    `options`: more channel options (keepalive, message sizes …); they win over ours.
    """

    def __init__(self, targets: Targets, *, token: TokenProvider | None = None,
                 timeout: float | None = DEFAULT_TIMEOUT_SECONDS,
                 stream_timeout: float | None = None,
                 retry: RetryPolicy | None = DEFAULT_RETRY,
                 credentials: grpc.ChannelCredentials | None = None,
                 interceptors: Sequence[aio.ClientInterceptor] = (),
                 options: Sequence[tuple[str, Any]] = ()) -> None:
        self.targets = targets
        self._defaults = CallDefaults(timeout, stream_timeout, token)
        self._retry = retry
        self._credentials = credentials
        self._interceptors = tuple(interceptors)
        self._options = tuple(options)
        self._channels: dict[str, aio.Channel] = {}
        self._stubs: dict[type, Any] = {}

    # --- stubs ---------------------------------------------------------------------------

    def stub(self, stub_class: StubFactory[S]) -> S:
        """The async stub of a generated stub class (``PostServiceStub``), on its service's
        channel."""
        key = cast(type, stub_class)
        found = self._stubs.get(key)
        if found is None:
            found = stub_class(self._channel(service_of(key)))
            self._stubs[key] = found
        return cast(S, found)

    @property
    def auth(self) -> AuthServiceAsyncStub:
        return self.stub(auth_grpc.AuthServiceStub)

    @property
    def graph(self) -> SocialGraphServiceAsyncStub:
        return self.stub(graph_grpc.SocialGraphServiceStub)

    @property
    def post(self) -> PostServiceAsyncStub:
        return self.stub(post_grpc.PostServiceStub)

    @property
    def feed(self) -> FeedServiceAsyncStub:
        return self.stub(feed_grpc.FeedServiceStub)

    @property
    def story(self) -> StoryServiceAsyncStub:
        return self.stub(story_grpc.StoryServiceStub)

    @property
    def media(self) -> MediaServiceAsyncStub:
        return self.stub(media_grpc.MediaServiceStub)

    @property
    def notification(self) -> NotificationServiceAsyncStub:
        return self.stub(notification_grpc.NotificationServiceStub)

    @property
    def message(self) -> MessageServiceAsyncStub:
        return self.stub(message_grpc.MessageServiceStub)

    @property
    def search(self) -> SearchServiceAsyncStub:
        return self.stub(search_grpc.SearchServiceStub)

    @property
    def explore(self) -> ExploreServiceAsyncStub:
        return self.stub(explore_grpc.ExploreServiceStub)

    # --- channels ------------------------------------------------------------------------

    def _channel(self, service: ServiceDescriptor) -> aio.Channel:
        """The channel to `service`, opened on first use."""
        channel = self._channels.get(service.full_name)
        if channel is None:
            channel = self._open(service)
            self._channels[service.full_name] = channel
        return channel

    def _open(self, service: ServiceDescriptor) -> aio.Channel:
        options = dict([("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                        *channel_options(service, self._retry), *self._options])
        interceptors = [*self._interceptors, *client_interceptors(self._defaults)]
        target = self.targets.address(mesh_name(service))
        if self._credentials is None:
            return aio.insecure_channel(target, options=list(options.items()),
                                        interceptors=interceptors)
        return aio.secure_channel(target, self._credentials, options=list(options.items()),
                                  interceptors=interceptors)

    def with_token(self, token: TokenProvider | None) -> Client:
        """A client like this one for another caller, with channels of its own (opened
        on first use). Close it when done."""
        return Client(self.targets, token=token, timeout=self._defaults.timeout,
                      stream_timeout=self._defaults.stream_timeout, retry=self._retry,
                      credentials=self._credentials, interceptors=self._interceptors,
                      options=self._options)

    async def close(self, grace: float | None = None) -> None:
        """Close every channel (calls in flight get `grace` seconds, then are cancelled)."""
        channels, self._channels = self._channels, {}
        self._stubs.clear()
        for channel in channels.values():
            await channel.close(grace)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

