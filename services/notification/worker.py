"""The notification worker: ``python -m services.notification.worker``.

Its own process (scaled by running more of them; JetStream shares each durable consumer
between them). It consumes graph, post and story events on durable consumers and writes
the recipients' inboxes; it serves only gRPC health.
"""

from __future__ import annotations

from photomesh.graph.v1 import events_pb2 as graph_events
from photomesh.post.v1 import events_pb2 as post_events
from photomesh.story.v1 import events_pb2 as story_events

from services.notification.cache import NotificationCache
from services.notification.delivery import Deliverer
from services.notification.inbox import Inbox
from services.notification.peers import GraphPeer
from services.notification.settings import NotificationWorkerSettings
from services.notification.store import InboxStore
from services.runtime import migrations
from services.runtime.app import Built, Needs, main, service_credentials, worker_definition
from services.runtime.backends import Backends
from services.runtime.cache import KeySpace
from services.runtime.events import Consumer
from services.runtime.grpc_clients import peer_channel
from services.runtime.settings import PeerSettings, load

NAME = "notification_worker"


async def build(settings: NotificationWorkerSettings, backends: Backends) -> Built:
    assert backends.cql and backends.redis and backends.redis_settings and backends.events
    assert backends.ids
    await migrations.require_current(backends.cql, "notification")
    bus = backends.events
    for domain in ("graph", "post", "story"):
        await bus.ensure_stream(domain)
    channel = peer_channel(load(PeerSettings).graph_target)
    cache = NotificationCache(backends.redis, KeySpace(backends.redis_settings, "notification"))
    inbox = Inbox(InboxStore(backends.cql, settings.inbox_ttl_seconds), cache,
                  backends.ids, settings.group_window_seconds)
    deliverer = Deliverer(inbox, cache, GraphPeer(channel, service_credentials(NAME)),
                          stories_to_followers=settings.notify_followers_of_stories,
                          posts_to_followers=settings.notify_followers_of_posts,
                          fanout_max_followers=settings.fanout_max_followers,
                          concurrency=settings.fanout_concurrency)
    subscriptions = (
        ("graph", "followed", graph_events.FollowedEvent, deliverer.on_followed),
        ("graph", "follow_requested", graph_events.FollowRequestedEvent,
         deliverer.on_follow_requested),
        ("graph", "follow_approved", graph_events.FollowApprovedEvent,
         deliverer.on_follow_approved),
        ("post", "liked", post_events.PostLikedEvent, deliverer.on_post_liked),
        ("post", "comment_added", post_events.CommentAddedEvent, deliverer.on_comment_added),
        ("post", "created", post_events.PostCreatedEvent, deliverer.on_post_created),
        ("story", "published", story_events.StoryPublishedEvent, deliverer.on_story_published),
    )
    consumers = [Consumer(bus, domain=domain, durable=f"notification_{domain}_{event}",
                          events=[event], message_type=message_type,  # type: ignore[arg-type]
                          handler=handler,  # type: ignore[arg-type]
                          concurrency=settings.consume_concurrency)
                 for domain, event, message_type, handler in subscriptions]

    async def close_channel() -> None:
        await channel.close()

    return Built(worker_definition(NAME), background=[c.run() for c in consumers],
                 on_stop=[close_channel])


if __name__ == "__main__":
    main(NAME, NotificationWorkerSettings, Needs(cql=True, redis=True, nats=True, ids=True),
         build)
