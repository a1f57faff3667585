"""The discovery service's indexer: ``python -m services.discovery.workers.indexer``
(process ``discovery_indexer``). It serves only gRPC health and runs the durable consumers
declared here, with the handlers of services/discovery/indexer.py. Run more processes to
index faster: they share the durable consumers, so each message goes to one of them.
"""

from __future__ import annotations

from photomesh.post.v1 import events_pb2 as post_events

from services.discovery import wiring
from services.discovery.indexer import Indexer
from services.discovery.settings import DiscoverySettings
from services.runtime.app import Built, Context, Needs, main, worker_definition
from services.runtime.events import Consumer, EventBus

NAME = "discovery_indexer"


def consumers(indexer: Indexer, bus: EventBus, concurrency: int) -> list[Consumer]:
    """The worker's durable consumers (``discovery_post_<event>``). Creates and deletes of
    one post may run at once: the tombstone (store.put_post, mark_deleted) orders them."""
    def consumer(event: str, message_type: type, handler: object) -> Consumer:
        return Consumer(bus, domain="post", durable=f"discovery_post_{event}", events=[event],
                        message_type=message_type, handler=handler,  # type: ignore[arg-type]
                        concurrency=concurrency)

    return [
        consumer("created", post_events.PostCreatedEvent, indexer.on_post_created),
        consumer("deleted", post_events.PostDeletedEvent, indexer.on_post_deleted),
        consumer("liked", post_events.PostLikedEvent, indexer.on_post_liked),
        consumer("unliked", post_events.PostUnlikedEvent, indexer.on_post_unliked),
        consumer("comment_added", post_events.CommentAddedEvent, indexer.on_comment_added),
        consumer("comment_deleted", post_events.CommentDeletedEvent,
                 indexer.on_comment_deleted),
    ]


async def build(ctx: Context[DiscoverySettings]) -> Built:
    settings, backends = ctx.settings, ctx.backends
    assert backends.events and backends.redis and backends.redis_settings
    for domain in ("post", "graph"):
        await backends.events.ensure_stream(domain)
    view = ctx.peers.social_view(backends.redis, backends.redis_settings, wiring.NAME,
                                 ttl_seconds=settings.social_view_ttl_seconds)
    indexer = Indexer(wiring.index_store(settings, backends),
                      wiring.engagement(settings, backends), view,
                      wiring.viewer_likes(settings, backends, None))
    return Built(worker_definition(NAME), background=[
        c.run() for c in consumers(indexer, backends.events, settings.index_concurrency)])


if __name__ == "__main__":
    main(NAME, DiscoverySettings, Needs(cql=True, redis=True, nats=True), build)
