"""Run the feed's fan-out worker: ``python -m services.feed.fanout_worker``.

A process of its own (``feed_fanout`` in infra/services.py): it serves only gRPC health and
runs the durable consumers of services/feed/fanout.py. Run more processes to fan out
faster: they share the same durable consumers, so each message goes to one of them.
"""

from __future__ import annotations

from services.feed.fanout import Fanout
from services.feed.settings import FanoutWorkerSettings, FeedSettings
from services.feed.wiring import timelines_from
from services.runtime import migrations
from services.runtime.app import Built, Needs, main, service_credentials, worker_definition
from services.runtime.backends import Backends
from services.runtime.settings import PeerSettings, load

NAME = "feed_fanout"


async def build(settings: FanoutWorkerSettings, backends: Backends) -> Built:
    assert backends.cql and backends.events
    await migrations.require_current(backends.cql, "feed")
    feed_settings = load(FeedSettings)
    for domain in ("post", "graph", "feed"):
        await backends.events.ensure_stream(domain)
    from services.feed.peers import Graph

    graph = Graph(load(PeerSettings).graph_target, service_credentials(NAME))
    fanout = Fanout(timelines_from(feed_settings, backends, live=True), graph,
                    backends.events, feed_settings)
    return Built(worker_definition(NAME),
                 background=[c.run() for c in fanout.consumers()], on_stop=[graph.close])


if __name__ == "__main__":
    main(NAME, FanoutWorkerSettings, Needs(cql=True, redis=True, nats=True), build)
