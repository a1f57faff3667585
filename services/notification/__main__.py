"""Run the notification service: ``python -m services.notification``."""

from __future__ import annotations

from photomesh.notification.v1 import notification_service_pb2 as pb
from photomesh.notification.v1 import notification_service_pb2_grpc as pb_grpc

from services.notification.server import NotificationServicer
from services.notification.settings import NotificationSettings
from services.runtime.app import Built, Needs, definition, main
from services.runtime.backends import Backends


async def build(settings: NotificationSettings, backends: Backends) -> Built:
    assert backends.events is not None
    await backends.events.ensure_stream("notification")
    return Built(definition("notification", pb, pb_grpc, "NotificationService",
                            NotificationServicer()))


if __name__ == "__main__":
    main("notification", NotificationSettings, Needs(cql=True, redis=True, nats=True), build)
