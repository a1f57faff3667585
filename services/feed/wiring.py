"""The feed's storage and read model, made from its settings and backends (shared by the
service and its fan-out worker)."""

from __future__ import annotations

from services.feed.cache import TimelineCache
from services.feed.live import LiveUpdates
from services.feed.post_cards import PostCards
from services.feed.settings import FeedSettings
from services.feed.store import TimelineStore
from services.feed.timelines import Timelines
from services.peers.social_view import SocialView
from services.runtime.backends import Backends
from services.runtime.cache import KeySpace

NAME = "feed"


def timeline_layers(settings: FeedSettings, backends: Backends
                    ) -> tuple[TimelineStore, TimelineCache]:
    """The CQL timelines (the truth) and their Redis cache."""
    assert backends.cql and backends.redis and backends.redis_settings
    store = TimelineStore(backends.cql, ttl_seconds=settings.timeline_ttl_days * 86400,
                          batch_rows=settings.cql_batch_rows)
    cache = TimelineCache(backends.redis, KeySpace(backends.redis_settings, NAME),
                          cap=settings.cache_cap, active_seconds=settings.active_days * 86400,
                          author_cap=settings.author_cache_cap)
    return store, cache


def timelines_from(settings: FeedSettings, backends: Backends, *, live: bool) -> Timelines:
    assert backends.events
    store, cache = timeline_layers(settings, backends)
    return Timelines(store, cache, LiveUpdates(backends.events) if live else None,
                     cache_cap=settings.cache_cap, author_cap=settings.author_cache_cap,
                     backfill_posts=settings.backfill_posts)


def post_cards_from(settings: FeedSettings, backends: Backends, view: SocialView) -> PostCards:
    assert backends.redis and backends.redis_settings
    return PostCards(backends.redis, KeySpace(backends.redis_settings, NAME), view,
                     card_ttl_seconds=settings.timeline_ttl_days * 86400,
                     cold_ttl_seconds=settings.cold_count_ttl_seconds,
                     liked_ttl_seconds=settings.active_days * 86400)
