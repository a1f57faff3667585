"""Run the story service: ``python -m services.story``."""

from __future__ import annotations

from photomesh.story.v1 import story_service_pb2 as pb

from services.runtime.app import Built, Context, Needs, definition, main
from services.runtime.cache import KeySpace
from services.runtime.pending import PendingChanges, Sweeper
from services.story.archive import ArchiveJob
from services.story.cache import StoryCache
from services.story.clock import Clock
from services.story.close_friends import CloseFriends
from services.story.events import DOMAIN, StoryEvents
from services.story.server import StoryServicer
from services.story.settings import StorySettings
from services.story.store import StoryStore
from services.story.stories import PUBLISHED, Stories
from services.story.tray import Tray
from services.story.views import Views

NAME = "story"


async def build(ctx: Context[StorySettings]) -> Built:
    settings, backends = ctx.settings, ctx.backends
    assert backends.cql and backends.redis and backends.redis_settings and backends.events
    assert backends.ids
    for domain in (DOMAIN, "graph"):
        await backends.events.ensure_stream(domain)
    view = ctx.peers.social_view(backends.redis, backends.redis_settings, NAME,
                                 ttl_seconds=settings.social_view_ttl_seconds)
    store = StoryStore(backends.cql, settings.expiry_bucket_seconds)
    cache = StoryCache(backends.redis, KeySpace(backends.redis_settings, NAME),
                       settings.cache_warm_seconds)
    views = Views(store, cache)
    clock = Clock(settings.clock_offset_seconds)
    close_friends = CloseFriends(store, cache, view, ctx.page_tokens)
    # Stories whose event did not go out are published by the sweeper without the client.
    pending = PendingChanges(backends.cql, NAME, settings.sweep_timing())
    stories = Stories(store, cache, StoryEvents(backends.events), view, ctx.peers.media, views,
                      close_friends, backends.ids, ctx.page_tokens, settings.ttl_seconds, clock,
                      pending)
    sweeper = Sweeper(pending, {PUBLISHED: stories.finish_published})
    tray = Tray(store, cache, view, views, close_friends, ctx.page_tokens,
                settings.max_following, clock)
    archive = ArchiveJob(store, settings.archive_interval_seconds,
                         settings.archive_lookback_seconds, clock)
    return Built(definition(NAME, pb, "StoryService", StoryServicer(stories, tray, close_friends)),
                 background=[archive.run(), sweeper.run(),
                             *(c.run() for c in view.consumers(backends.events, NAME))],
                 domain=stories)


if __name__ == "__main__":
    main(NAME, StorySettings, Needs(cql=True, redis=True, nats=True, ids=True), build)
