"""Run the feed's fan-out worker: ``python -m services.feed.fanout_worker``.

A process of its own (``feed_fanout`` in infra/services.py): it serves only gRPC health and
runs the durable consumers of services/feed/fanout.py. Run more processes to fan out
faster: they share the same durable consumers, so each message goes to one of them.
"""

from __future__ import annotations

from services.feed.fanout import Fanout
from services.feed.settings import FanoutWorkerSettings, FeedSettings
from services.feed.wiring import post_cards_from, social_view_from, timelines_from
from services.peers.graph import GraphPeer
from services.runtime import migrations
from services.runtime.app import Built, Needs, main, service_credentials, worker_definition
from services.runtime.backends import Backends
from services.runtime.grpc_clients import peer_channel
from services.runtime.settings import PeerSettings, load

NAME = "feed_fanout"


async def build(settings: FanoutWorkerSettings, backends: Backends) -> Built:
    assert backends.cql and backends.events
    await migrations.require_current(backends.cql, "feed")
    feed_settings = load(FeedSettings)
    for domain in ("post", "graph", "feed"):
        await backends.events.ensure_stream(domain)
    channel = peer_channel(load(PeerSettings).graph_target)
    graph = GraphPeer(channel, service_credentials(NAME))
    cards = post_cards_from(feed_settings, backends,
                            social_view_from(feed_settings, backends, graph))
    fanout = Fanout(timelines_from(feed_settings, backends, live=True), cards, graph,
                    backends.events, feed_settings)
    return Built(worker_definition(NAME),
                 background=[c.run() for c in fanout.consumers()], on_stop=[channel.close])


if __name__ == "__main__":
    main(NAME, FanoutWorkerSettings, Needs(cql=True, redis=True, nats=True), build)
