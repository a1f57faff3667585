"""gRPC transport of FeedService: proto in, domain call, serialized proto out (responses
are assembled from the read model's stored bytes, see wire.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from grpc import aio
from photomesh.feed.v1 import feed_service_pb2 as pb
from photomesh.feed.v1 import feed_service_pb2_grpc as pb_grpc

from services.feed.home_feed import Feeds
from services.runtime.auth import current_principal


class FeedServicer(pb_grpc.FeedServiceServicer):
    def __init__(self, feeds: Feeds) -> None:
        self._feeds = feeds

    async def GetHomeFeed(self, request: pb.GetHomeFeedRequest, context: aio.ServicerContext
                          ) -> bytes:
        caller = current_principal()
        page = await self._feeds.home(caller.user_id, request.page_size, request.page_token,
                                      request.mode)
        return page.response()

    async def GetProfileFeed(self, request: pb.GetProfileFeedRequest,
                             context: aio.ServicerContext) -> bytes:
        caller = current_principal()
        page = await self._feeds.profile(caller.user_id, request.user_id, request.page_size,
                                         request.page_token)
        return page.response()

    async def StreamHomeFeed(self, request: pb.StreamHomeFeedRequest,
                             context: aio.ServicerContext) -> AsyncIterator[bytes]:
        """Initial metadata goes out once the subscription is live: a client that has
        received it misses no post delivered afterwards."""
        caller = current_principal()

        async def ready() -> None:
            await context.send_initial_metadata(())

        async for response in self._feeds.stream(caller.user_id, caller.expires_at, ready):
            yield response
