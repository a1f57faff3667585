"""Run the notification service: ``python -m services.notification``."""

from __future__ import annotations

from photomesh.notification.v1 import notification_service_pb2 as pb

from services.notification import wiring
from services.notification.listing import Listing
from services.notification.server import NotificationServicer
from services.notification.settings import NotificationSettings
from services.runtime.app import Built, Context, Needs, definition, main
from services.runtime.stream_hub import StreamHub


async def build(ctx: Context[NotificationSettings]) -> Built:
    assert ctx.backends.redis
    parts = await wiring.connect(ctx)
    hub = StreamHub(wiring.NAME, ctx.backends.redis, parts.inbox.cache,
                    ctx.settings.stream_queue_size)
    listing = Listing(parts.inbox, parts.view, ctx.page_tokens)
    servicer = NotificationServicer(parts.inbox, listing, hub)
    return Built(definition(wiring.NAME, pb, "NotificationService", servicer),
                 background=[hub.run(), *(c.run() for c in parts.view_consumers)],
                 domain=listing)


if __name__ == "__main__":
    main(wiring.NAME, NotificationSettings,
         Needs(cql=True, redis=True, nats=True, ids=True), build)
