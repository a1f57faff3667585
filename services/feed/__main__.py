"""Run the feed service: ``python -m services.feed``."""

from __future__ import annotations

from photomesh.feed.v1 import feed_service_pb2 as pb
from photomesh.feed.v1 import feed_service_pb2_grpc as pb_grpc

from services.feed.server import FeedServicer
from services.feed.settings import FeedSettings
from services.runtime.app import Built, Needs, definition, main
from services.runtime.backends import Backends


async def build(settings: FeedSettings, backends: Backends) -> Built:
    assert backends.events is not None
    await backends.events.ensure_stream("feed")
    return Built(definition("feed", pb, pb_grpc, "FeedService", FeedServicer()))


if __name__ == "__main__":
    main("feed", FeedSettings, Needs(cql=True, redis=True, nats=True), build)
