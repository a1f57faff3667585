"""The notification delivery worker: ``python -m services.notification.workers.delivery``
(process ``notification_worker``; scaled by running more, JetStream shares each durable
consumer between them). It consumes graph, post, story and message events on the durable consumers
declared here and writes the recipients' inboxes (services/notification/delivery.py); it
also keeps the social view it checks blocks with, sharing that view's consumers with the
service; it serves only gRPC health.
"""

from __future__ import annotations

from photomesh.graph.v1 import events_pb2 as graph_events
from photomesh.message.v1 import events_pb2 as message_events
from photomesh.post.v1 import events_pb2 as post_events
from photomesh.story.v1 import events_pb2 as story_events

from services.notification import wiring
from services.notification.delivery import Deliverer
from services.notification.settings import NotificationSettings
from services.runtime.app import Built, Context, Needs, main, worker_definition
from services.runtime.events import Consumer, EventBus

NAME = "notification_worker"


def consumers(deliverer: Deliverer, bus: EventBus, concurrency: int) -> list[Consumer]:
    """The worker's durable consumers, each event acked after its inbox writes."""
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
        ("message", "sent", message_events.MessageSentEvent, deliverer.on_message_sent),
    )
    return [Consumer(bus, domain=domain, durable=f"notification_{domain}_{event}",
                     events=[event], message_type=message_type,  # type: ignore[arg-type]
                     handler=handler, concurrency=concurrency)  # type: ignore[arg-type]
            for domain, event, message_type, handler in subscriptions]


async def build(ctx: Context[NotificationSettings]) -> Built:
    settings, bus = ctx.settings, ctx.backends.events
    assert bus is not None
    for domain in ("graph", "post", "story", "message"):
        await bus.ensure_stream(domain)
    parts = await wiring.connect(ctx)
    deliverer = Deliverer(parts.inbox, parts.view,
                          stories_to_followers=settings.notify_followers_of_stories,
                          posts_to_followers=settings.notify_followers_of_posts,
                          fanout_max_followers=settings.fanout_max_followers,
                          concurrency=settings.fanout_concurrency)
    return Built(worker_definition(NAME), background=[
        *(c.run() for c in consumers(deliverer, bus, settings.consume_concurrency)),
        *(c.run() for c in parts.view_consumers)])


if __name__ == "__main__":
    main(NAME, NotificationSettings, Needs(cql=True, redis=True, nats=True, ids=True), build)
