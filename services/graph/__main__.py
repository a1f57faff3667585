"""Run the graph service: ``python -m services.graph``."""

from __future__ import annotations

from photomesh.graph.v1 import social_graph_service_pb2 as pb

from services.graph.avatars import Avatars
from services.graph.cache import FollowCounts
from services.graph.events import DOMAIN, GraphEvents
from services.graph.listing import Listing
from services.graph.profiles import PROFILE, Profiles
from services.graph.relations import PAIR, Relations
from services.graph.server import SocialGraphServicer
from services.graph.settings import GraphSettings
from services.graph.store import GraphStore
from services.graph.suggestions import Suggestions
from services.peers.epochs import Epochs
from services.runtime.app import Built, Context, Needs, definition, main
from services.runtime.cache import KeySpace
from services.runtime.pending import PendingChanges, Sweeper

NAME = "graph"


async def build(ctx: Context[GraphSettings]) -> Built:
    backends = ctx.backends
    assert backends.cql and backends.redis and backends.redis_settings and backends.events
    await backends.events.ensure_stream(DOMAIN)
    keys = KeySpace(backends.redis_settings, NAME)
    store = GraphStore(backends.cql)
    counts = FollowCounts(backends.redis, keys, ctx.settings.count_cache_ttl_seconds)
    events = GraphEvents(backends.events, Epochs(backends.redis, keys))
    # Changes whose event did not go out are finished by the sweeper without the client.
    pending = PendingChanges(backends.cql, NAME, ctx.settings.sweep_timing())
    relations = Relations(store, counts, events, pending)
    listing = Listing(store, counts, ctx.page_tokens)
    profiles = Profiles(store, listing, relations, events, ctx.page_tokens,
                        Avatars(ctx.peers.media), pending)
    sweeper = Sweeper(pending, {PAIR: relations.settle, PROFILE: profiles.settle})
    return Built(definition(NAME, pb, "SocialGraphService",
                            SocialGraphServicer(profiles, relations, listing,
                                                Suggestions(store, listing, ctx.page_tokens))),
                 background=[sweeper.run()], domain=profiles)


if __name__ == "__main__":
    main(NAME, GraphSettings, Needs(cql=True, redis=True, nats=True), build)
