"""Run the feed service: ``python -m services.feed``."""

from __future__ import annotations

from photomesh.feed.v1 import feed_service_pb2 as pb
from photomesh.feed.v1 import feed_service_pb2_grpc as pb_grpc

from services.feed.home_feed import Feeds
from services.feed.live import LiveUpdates
from services.feed.peers import Graph, Posts
from services.feed.server import FeedServicer
from services.feed.settings import FeedSettings
from services.feed.wiring import timelines_from
from services.runtime.app import Built, Needs, definition, main, service_credentials
from services.runtime.backends import Backends
from services.runtime.settings import PeerSettings, load


async def build(settings: FeedSettings, backends: Backends) -> Built:
    assert backends.events is not None
    await backends.events.ensure_stream("feed")
    peers = load(PeerSettings)
    graph = Graph(peers.graph_target, service_credentials("feed"))
    posts = Posts(peers.post_target)
    feeds = Feeds(timelines_from(settings, backends, live=False), graph, posts,
                  LiveUpdates(backends.events), settings)
    return Built(definition("feed", pb, pb_grpc, "FeedService", FeedServicer(feeds)),
                 on_stop=[graph.close, posts.close])


if __name__ == "__main__":
    main("feed", FeedSettings, Needs(cql=True, redis=True, nats=True), build)
