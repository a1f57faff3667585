"""gRPC transport of NotificationService: proto in, domain call, proto out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from grpc import aio
from photomesh.common.v1.page_token_pb2 import PageTokenPayload
from photomesh.notification.v1 import notification_service_pb2 as pb
from photomesh.notification.v1 import notification_service_pb2_grpc as pb_grpc

from services.notification.inbox import Inbox
from services.notification.peers import GraphPeer
from services.notification.stream import OVERFLOW, StreamHub
from services.runtime.auth import current_principal
from services.runtime.errors import Unavailable
from services.runtime.pagination import PageTokens, page_size


class NotificationServicer(pb_grpc.NotificationServiceServicer):
    def __init__(self, inbox: Inbox, graph: GraphPeer, hub: StreamHub,
                 tokens: PageTokens) -> None:
        self._inbox = inbox
        self._graph = graph
        self._hub = hub
        self._tokens = tokens

    async def _hydrate(self, notifications: Iterable[pb.Notification]) -> None:
        """Fill in each actor's summary (stored with the id only)."""
        items = list(notifications)
        summaries = await self._graph.summaries(a.user_id for n in items for a in n.actors)
        for n in items:
            for actor in n.actors:
                if actor.user_id in summaries:
                    actor.CopyFrom(summaries[actor.user_id])

    async def ListNotifications(self, request: pb.ListNotificationsRequest,
                                context: aio.ServicerContext) -> pb.ListNotificationsResponse:
        me = current_principal()
        size = page_size(request.page_size)
        scope = f"notification.ListNotifications/unread={int(request.unread_only)}"
        cursor = self._tokens.open(request.page_token, scope=scope, viewer=me.user_id)
        notifications, state, watermark = await self._inbox.page(
            me.user_id, request.unread_only, size,
            cursor.paging_state if cursor else None, cursor.last_id if cursor else None)
        await self._hydrate(notifications)
        token = self._tokens.seal(PageTokenPayload(paging_state=state, last_id=watermark),
                                  scope=scope, viewer=me.user_id) if state else ""
        return pb.ListNotificationsResponse(notifications=notifications, next_page_token=token)

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

    async def StreamNotifications(self, request: pb.StreamNotificationsRequest,
                                  context: aio.ServicerContext
                                  ) -> AsyncIterator[pb.StreamNotificationsResponse]:
        me = current_principal()
        async with self._hub.listen(me.user_id) as queue:
            while True:
                payload = await queue.get()
                if payload == OVERFLOW:
                    raise Unavailable("the stream fell behind; reconnect and list what you "
                                      "missed", reason="BACKEND_UNAVAILABLE")
                message = pb.StreamNotificationsResponse.FromString(payload)
                await self._hydrate([message.notification])
                yield message
