"""Run the notification service: ``python -m services.notification``.

The inbox is written by the worker (``python -m services.notification.worker``); this
process serves reads, read marks and the live stream, from its Redis read model and
social view (wiring.py) when warm.
"""

from __future__ import annotations

from photomesh.notification.v1 import notification_service_pb2 as pb
from photomesh.notification.v1 import notification_service_pb2_grpc as pb_grpc

from services.notification import wiring
from services.notification.listing import Listing
from services.notification.server import NotificationServicer
from services.notification.settings import NotificationSettings
from services.notification.stream import StreamHub
from services.runtime.app import Built, Needs, definition, main
from services.runtime.backends import Backends
from services.runtime.pagination import mesh_page_tokens

NAME = "notification"


async def build(settings: NotificationSettings, backends: Backends) -> Built:
    assert backends.redis
    parts = await wiring.connect(backends, NAME, settings)
    hub = StreamHub(backends.redis, parts.inbox.cache, settings.stream_queue_size)
    listing = Listing(parts.inbox, parts.view, mesh_page_tokens(settings.page_token_secret))
    servicer = NotificationServicer(parts.inbox, listing, hub)

    async def close_channel() -> None:
        await parts.graph_channel.close()

    return Built(definition(NAME, pb, pb_grpc, "NotificationService", servicer),
                 background=[hub.run(), *(c.run() for c in parts.view_consumers)],
                 on_stop=[close_channel], domain=listing)


if __name__ == "__main__":
    main(NAME, NotificationSettings, Needs(cql=True, redis=True, nats=True, ids=True), build)
