"""Run the feed service: ``python -m services.feed``."""

from __future__ import annotations

from photomesh.feed.v1 import feed_service_pb2 as pb
from photomesh.feed.v1 import feed_service_pb2_grpc as pb_grpc

from services.feed.home_feed import Feeds
from services.feed.live import LiveUpdates
from services.feed.peers import Posts
from services.feed.server import FeedServicer
from services.feed.settings import FeedSettings
from services.feed.wiring import post_cards_from, social_view_from, timelines_from
from services.peers.graph import GraphPeer
from services.runtime.app import Built, Needs, definition, main, service_credentials
from services.runtime.backends import Backends
from services.runtime.grpc_clients import peer_channel
from services.runtime.settings import PeerSettings, load


async def build(settings: FeedSettings, backends: Backends) -> Built:
    assert backends.events is not None
    for domain in ("feed", "graph"):
        await backends.events.ensure_stream(domain)
    peers = load(PeerSettings)
    graph_channel = peer_channel(peers.graph_target)
    view = social_view_from(settings, backends,
                            GraphPeer(graph_channel, service_credentials("feed")))
    posts = Posts(peers.post_target)
    feeds = Feeds(timelines_from(settings, backends, live=False), view,
                  post_cards_from(settings, backends, view), posts,
                  LiveUpdates(backends.events), settings)
    return Built(definition("feed", pb, pb_grpc, "FeedService", FeedServicer(feeds)),
                 background=[c.run() for c in view.consumers(backends.events, "feed")],
                 on_stop=[graph_channel.close, posts.close], domain=feeds)


if __name__ == "__main__":
    main("feed", FeedSettings, Needs(cql=True, redis=True, nats=True), build)
