"""Run the feed service: ``python -m services.feed``."""

from __future__ import annotations

from photomesh.feed.v1 import feed_service_pb2 as pb

from services.feed.home_feed import Feeds
from services.feed.live import LiveUpdates
from services.feed.server import FeedServicer
from services.feed.settings import FeedSettings
from services.feed.wiring import NAME, post_cards_from, timelines_from
from services.runtime.app import Built, Context, Needs, definition, main


async def build(ctx: Context[FeedSettings]) -> Built:
    settings, backends = ctx.settings, ctx.backends
    assert backends.events and backends.redis and backends.redis_settings
    for domain in ("feed", "graph"):
        await backends.events.ensure_stream(domain)
    view = ctx.peers.social_view(backends.redis, backends.redis_settings, NAME,
                                 ttl_seconds=settings.social_view_ttl_seconds)
    feeds = Feeds(timelines_from(settings, backends, live=False), view,
                  post_cards_from(settings, backends, view), ctx.peers.post,
                  LiveUpdates(backends.events), settings, ctx.page_tokens)
    return Built(definition(NAME, pb, "FeedService", FeedServicer(feeds)),
                 background=[c.run() for c in view.consumers(backends.events, NAME)],
                 domain=feeds)


if __name__ == "__main__":
    main(NAME, FeedSettings, Needs(cql=True, redis=True, nats=True), build)
