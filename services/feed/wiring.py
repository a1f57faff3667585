"""Building the feed's timeline layer from settings and connected backends (shared by
the service and the fan-out worker)."""

from __future__ import annotations

from services.feed.cache import TimelineCache
from services.feed.live import LiveUpdates
from services.feed.settings import FeedSettings
from services.feed.store import TimelineStore
from services.feed.timelines import Timelines
from services.runtime.backends import Backends
from services.runtime.cache import KeySpace


def timelines_from(settings: FeedSettings, backends: Backends, *, live: bool) -> Timelines:
    assert backends.cql and backends.redis and backends.redis_settings and backends.events
    store = TimelineStore(backends.cql, ttl_seconds=settings.timeline_ttl_days * 86400,
                          batch_rows=settings.cql_batch_rows)
    cache = TimelineCache(backends.redis, KeySpace(backends.redis_settings, "feed"),
                          cap=settings.cache_cap, active_seconds=settings.active_days * 86400,
                          author_cap=settings.author_cache_cap)
    return Timelines(store, cache, LiveUpdates(backends.events) if live else None,
                     cache_cap=settings.cache_cap, author_cap=settings.author_cache_cap,
                     backfill_posts=settings.backfill_posts)
