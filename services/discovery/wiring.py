"""The discovery service's storage and read model, made from its settings and backends
(shared by the service and its indexer worker)."""

from __future__ import annotations

from services.discovery.engagement import Engagement
from services.discovery.likes import ViewerLikes
from services.discovery.settings import DiscoverySettings
from services.discovery.snapshots import Snapshots
from services.discovery.store import IndexStore
from services.peers.post import PostPeer
from services.runtime.backends import Backends
from services.runtime.cache import KeySpace

NAME = "discovery"


def index_store(settings: DiscoverySettings, backends: Backends) -> IndexStore:
    assert backends.cql
    return IndexStore(backends.cql, bucket_days=settings.bucket_days)


def engagement(settings: DiscoverySettings, backends: Backends) -> Engagement:
    assert backends.redis and backends.redis_settings
    return Engagement(
        backends.redis, KeySpace(backends.redis_settings, NAME),
        top_cap=settings.top_posts_per_hashtag,
        counts_ttl_seconds=settings.engagement_ttl_days * 86400,
        autocomplete_cap=settings.autocomplete_cap,
        window_hours=settings.trending_window_hours,
        half_life_hours=settings.trending_half_life_hours,
        window_cap=settings.trending_cap, snapshot_seconds=settings.trending_snapshot_seconds,
        list_size=settings.trending_list_size, recent_cap=settings.recent_public_cap)


def snapshots(settings: DiscoverySettings, backends: Backends) -> Snapshots:
    assert backends.redis and backends.redis_settings
    return Snapshots(backends.redis, KeySpace(backends.redis_settings, NAME),
                     ttl_seconds=settings.snapshot_ttl_seconds)


def viewer_likes(settings: DiscoverySettings, backends: Backends, posts: PostPeer | None
                 ) -> ViewerLikes:
    """Viewers' likes (`posts` asks the post service about what they do not hold; the
    indexer, which only records, passes None)."""
    assert backends.redis and backends.redis_settings
    return ViewerLikes(backends.redis, KeySpace(backends.redis_settings, NAME), posts,
                       ttl_seconds=settings.liked_ttl_days * 86400)
