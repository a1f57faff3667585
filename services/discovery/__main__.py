"""Run the discovery service (search and explore): ``python -m services.discovery``."""

from __future__ import annotations

from photomesh.discovery.v1 import explore_service_pb2 as explore_pb
from photomesh.discovery.v1 import search_service_pb2 as search_pb

from services.discovery import wiring
from services.discovery.cards import Cards
from services.discovery.explore import Explore
from services.discovery.search import Search
from services.discovery.server import ExploreServicer, SearchServicer
from services.discovery.settings import DiscoverySettings
from services.runtime.app import Built, Context, Needs, combined, definition, main

NAME = wiring.NAME


async def build(ctx: Context[DiscoverySettings]) -> Built:
    settings, backends = ctx.settings, ctx.backends
    assert backends.events and backends.redis and backends.redis_settings
    await backends.events.ensure_stream("graph")
    view = ctx.peers.social_view(backends.redis, backends.redis_settings, NAME,
                                 ttl_seconds=settings.social_view_ttl_seconds)
    store = wiring.index_store(settings, backends)
    engagement = wiring.engagement(settings, backends)
    snapshots = wiring.snapshots(settings, backends)
    cards = Cards(store, engagement, view,
                  wiring.viewer_likes(settings, backends, ctx.peers.post))
    search = Search(store, cards, engagement, snapshots, ctx.page_tokens, settings)
    explore = Explore(cards, engagement, snapshots, view, ctx.page_tokens, settings)
    return Built(combined(NAME,
                          definition(NAME, search_pb, "SearchService", SearchServicer(search)),
                          definition(NAME, explore_pb, "ExploreService",
                                     ExploreServicer(explore))),
                 background=[c.run() for c in view.consumers(backends.events, NAME)],
                 domain=(search, explore))


if __name__ == "__main__":
    main(NAME, DiscoverySettings, Needs(cql=True, redis=True, nats=True), build)
