"""The feed's fan-out worker: ``python -m services.feed.workers.fanout`` (process
``feed_fanout``). It serves only gRPC health and runs the durable consumers declared here,
with the handlers of services/feed/fanout.py. Run more processes to fan out faster: they
share the durable consumers, so each message goes to one of them.
"""

from __future__ import annotations

from photomesh.feed.v1 import events_pb2 as feed_events
from photomesh.graph.v1 import events_pb2 as graph_events
from photomesh.post.v1 import events_pb2 as post_events

from services.feed.fanout import Fanout
from services.feed.settings import FeedSettings
from services.feed.wiring import NAME as FEED
from services.feed.wiring import post_cards_from, timelines_from
from services.runtime.app import Built, Context, Needs, main, worker_definition
from services.runtime.events import Consumer, EventBus

NAME = "feed_fanout"


def consumers(fanout: Fanout, bus: EventBus, parallel: int) -> list[Consumer]:
    """The worker's durable consumers. Latency-bound ones take one message per fetch (a
    fetched batch is handled in order, so one slow message would hold the rest back) and
    run `parallel` instances, each with one message in flight."""
    def consumer(domain: str, event: str, message_type: type, handler: object,
                 batch: int = 64) -> Consumer:
        return Consumer(bus, domain=domain, durable=f"feed_{domain}_{event}",
                        events=[event], message_type=message_type,
                        handler=handler, batch=batch)  # type: ignore[arg-type]

    return [
        *(consumer("post", "created", post_events.PostCreatedEvent, fanout.on_post_created,
                   batch=1) for _ in range(parallel)),
        consumer("post", "deleted", post_events.PostDeletedEvent, fanout.on_post_deleted),
        consumer("post", "liked", post_events.PostLikedEvent, fanout.on_post_liked),
        consumer("post", "unliked", post_events.PostUnlikedEvent, fanout.on_post_unliked),
        consumer("post", "comment_added", post_events.CommentAddedEvent,
                 fanout.on_comment_added),
        consumer("post", "comment_deleted", post_events.CommentDeletedEvent,
                 fanout.on_comment_deleted),
        consumer("graph", "followed", graph_events.FollowedEvent, fanout.on_followed),
        consumer("graph", "unfollowed", graph_events.UnfollowedEvent, fanout.on_unfollowed),
        consumer("graph", "blocked", graph_events.BlockedEvent, fanout.on_blocked),
        *(consumer("feed", "fanout", feed_events.FanoutTask, fanout.on_task, batch=1)
          for _ in range(parallel)),
    ]


async def build(ctx: Context[FeedSettings]) -> Built:
    settings, backends = ctx.settings, ctx.backends
    assert backends.events and backends.redis and backends.redis_settings
    for domain in ("post", "graph", "feed"):
        await backends.events.ensure_stream(domain)
    view = ctx.peers.social_view(backends.redis, backends.redis_settings, FEED,
                                 ttl_seconds=settings.social_view_ttl_seconds)
    fanout = Fanout(timelines_from(settings, backends, live=True),
                    post_cards_from(settings, backends, view), ctx.peers.graph,
                    backends.events, settings)
    return Built(worker_definition(NAME), background=[
        c.run() for c in consumers(fanout, backends.events, settings.fanout_concurrency)])


if __name__ == "__main__":
    main(NAME, FeedSettings, Needs(cql=True, redis=True, nats=True), build)
