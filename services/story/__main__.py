"""Run the story service: ``python -m services.story``."""

from __future__ import annotations

from photomesh.story.v1 import story_service_pb2 as pb
from photomesh.story.v1 import story_service_pb2_grpc as pb_grpc

from services.peers.graph import GraphPeer
from services.peers.social_view import social_view
from services.runtime.app import Built, Needs, definition, main, service_credentials
from services.runtime.backends import Backends
from services.runtime.cache import KeySpace
from services.runtime.grpc_clients import peer_channel
from services.runtime.pagination import mesh_page_tokens
from services.runtime.settings import PeerSettings, load
from services.story.archive import ArchiveJob
from services.story.cache import StoryCache
from services.story.clock import Clock
from services.story.close_friends import CloseFriends
from services.story.events import DOMAIN, StoryEvents
from services.story.peers import MediaPeer
from services.story.server import StoryServicer
from services.story.settings import StorySettings
from services.story.store import StoryStore
from services.story.stories import Stories
from services.story.tray import Tray
from services.story.views import Views


async def build(settings: StorySettings, backends: Backends) -> Built:
    assert backends.cql and backends.redis and backends.redis_settings and backends.events
    assert backends.ids
    for domain in (DOMAIN, "graph"):
        await backends.events.ensure_stream(domain)
    peers = load(PeerSettings)
    graph_channel, media_channel = (peer_channel(peers.graph_target),
                                    peer_channel(peers.media_target))
    graph = social_view(backends.redis, backends.redis_settings, "story",
                        GraphPeer(graph_channel, service_credentials("story")),
                        ttl_seconds=settings.social_view_ttl_seconds)
    media = MediaPeer(media_channel)
    store = StoryStore(backends.cql, settings.expiry_bucket_seconds)
    cache = StoryCache(backends.redis, KeySpace(backends.redis_settings, "story"),
                       settings.cache_warm_seconds)
    views = Views(store, cache)
    close_friends = CloseFriends(store, cache, graph)
    clock = Clock(settings.clock_offset_seconds)
    stories = Stories(store, cache, StoryEvents(backends.events), graph, media, views,
                      close_friends, backends.ids, settings.ttl_seconds, clock)
    tray = Tray(store, cache, graph, views, close_friends, settings.max_following)
    servicer = StoryServicer(stories, tray, views, close_friends,
                             mesh_page_tokens(settings.page_token_secret), clock)
    archive = ArchiveJob(store, settings.archive_interval_seconds,
                         settings.archive_lookback_seconds, clock)

    async def close_channels() -> None:
        await graph_channel.close()
        await media_channel.close()

    return Built(definition("story", pb, pb_grpc, "StoryService", servicer),
                 background=[archive.run(),
                             *(c.run() for c in graph.consumers(backends.events, "story"))],
                 on_stop=[close_channels], domain=servicer)


if __name__ == "__main__":
    main("story", StorySettings, Needs(cql=True, redis=True, nats=True, ids=True), build)
