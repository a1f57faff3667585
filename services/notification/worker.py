"""The notification worker: ``python -m services.notification.worker``.

Its own process (scaled by running more of them; JetStream shares each durable consumer
between them). It consumes graph, post and story events on durable consumers and writes
the recipients' inboxes; it also keeps the social view it checks blocks with (sharing
that view's consumers with the service); it serves only gRPC health.
"""

from __future__ import annotations

from photomesh.graph.v1 import events_pb2 as graph_events
from photomesh.post.v1 import events_pb2 as post_events
from photomesh.story.v1 import events_pb2 as story_events

from services.notification import wiring
from services.notification.delivery import Deliverer
from services.notification.settings import NotificationWorkerSettings
from services.runtime import migrations
from services.runtime.app import Built, Needs, main, worker_definition
from services.runtime.backends import Backends
from services.runtime.events import Consumer

NAME = "notification_worker"


async def build(settings: NotificationWorkerSettings, backends: Backends) -> Built:
    assert backends.cql and backends.events
    await migrations.require_current(backends.cql, "notification")
    bus = backends.events
    for domain in ("graph", "post", "story"):
        await bus.ensure_stream(domain)
    parts = await wiring.connect(backends, NAME, settings)
    deliverer = Deliverer(parts.inbox, parts.view,
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
        await parts.graph_channel.close()

    return Built(worker_definition(NAME), background=[
        *(c.run() for c in consumers), *(c.run() for c in parts.view_consumers)],
        on_stop=[close_channel])


if __name__ == "__main__":
    main(NAME, NotificationWorkerSettings, Needs(cql=True, redis=True, nats=True, ids=True),
         build)
