"""Run the graph service: ``python -m services.graph``."""

from __future__ import annotations

from photomesh.graph.v1 import social_graph_service_pb2 as pb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as pb_grpc

from services.graph.cache import FollowCounts
from services.graph.events import DOMAIN, GraphEvents
from services.graph.listing import Listing
from services.graph.profiles import Profiles
from services.graph.relations import Relations
from services.graph.server import SocialGraphServicer
from services.graph.settings import GraphSettings
from services.graph.store import GraphStore
from services.peers.epochs import Epochs
from services.runtime.app import Built, Needs, definition, main
from services.runtime.backends import Backends
from services.runtime.cache import KeySpace
from services.runtime.pagination import mesh_page_tokens


async def build(settings: GraphSettings, backends: Backends) -> Built:
    assert backends.cql and backends.redis and backends.redis_settings and backends.events
    await backends.events.ensure_stream(DOMAIN)
    secret = settings.page_token_secret
    tokens = mesh_page_tokens(secret.get_secret_value() if secret else None)
    store = GraphStore(backends.cql)
    counts = FollowCounts(backends.redis, KeySpace(backends.redis_settings, "graph"),
                          settings.count_cache_ttl_seconds)
    events = GraphEvents(backends.events,
                         Epochs(backends.redis, KeySpace(backends.redis_settings, "graph")))
    relations = Relations(store, counts, events)
    listing = Listing(store, counts, tokens)
    profiles = Profiles(store, listing, relations, events, tokens)
    return Built(definition("graph", pb, pb_grpc, "SocialGraphService",
                            SocialGraphServicer(profiles, relations, listing)))


if __name__ == "__main__":
    main("graph", GraphSettings, Needs(cql=True, redis=True, nats=True), build)
