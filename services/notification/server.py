"""gRPC transport of NotificationService: proto in, domain call, proto (or its serialized
bytes) out."""

from __future__ import annotations

from collections.abc import AsyncIterator

from grpc import aio
from photomesh.notification.v1 import notification_service_pb2 as pb
from photomesh.notification.v1 import notification_service_pb2_grpc as pb_grpc

from services.notification.inbox import Inbox
from services.notification.listing import Listing
from services.runtime.auth import current_principal
from services.runtime.errors import Unavailable
from services.runtime.stream_hub import OVERFLOW, StreamHub


class NotificationServicer(pb_grpc.NotificationServiceServicer):
    def __init__(self, inbox: Inbox, listing: Listing, hub: StreamHub) -> None:
        self._inbox = inbox
        self._listing = listing
        self._hub = hub

    async def ListNotifications(self, request: pb.ListNotificationsRequest,  # type: ignore[override]
                                context: aio.ServicerContext) -> bytes:
        return await self._listing.page(current_principal().user_id, request.unread_only,
                                        request.page_size, request.page_token)

    async def GetUnreadCount(self, request: pb.GetUnreadCountRequest,
                             context: aio.ServicerContext) -> pb.GetUnreadCountResponse:
        me = current_principal()
        return pb.GetUnreadCountResponse(unread_count=await self._inbox.unread_count(me.user_id))

    async def MarkNotificationsRead(self, request: pb.MarkNotificationsReadRequest,
                                    context: aio.ServicerContext
                                    ) -> pb.MarkNotificationsReadResponse:
        me = current_principal()
        which = request.WhichOneof("up_to")
        left = await self._inbox.mark_read(
            me.user_id,
            up_to_ms=request.up_to_time.ToMilliseconds() if which == "up_to_time" else None,
            up_to_notification_id=request.up_to_notification_id
            if which == "up_to_notification_id" else None)
        return pb.MarkNotificationsReadResponse(unread_count=left)

    async def StreamNotifications(self, request: pb.StreamNotificationsRequest,  # type: ignore[override]
                                  context: aio.ServicerContext) -> AsyncIterator[bytes]:
        me = current_principal()
        async with self._hub.listen(me.user_id) as queue:
            await self._inbox.warm(me.user_id)
            while True:
                payload = await queue.get()
                if payload == OVERFLOW:
                    raise Unavailable("the stream fell behind; reconnect and list what you "
                                      "missed", reason="BACKEND_UNAVAILABLE")
                pushed = await self._listing.pushed(me.user_id, payload)
                if pushed is not None:
                    yield pushed
