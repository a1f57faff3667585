"""StreamMessages: each pushed event as the listening user may see it.

The worker and the service publish one event per member on that member's channel
(services/message/cache.py); here the rules of the read paths are applied per listener
before it goes out: a group message from a member the listener blocks or who blocks them
is dropped, a shared post shows only if the listener may see its author (the social view,
no call to another service), and the unread total is added.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from photomesh.message.v1 import message_service_pb2 as pb

from services.message import messages
from services.message.inbox import Inbox
from services.peers.social_view import SocialView
from services.runtime.errors import Unavailable
from services.runtime.stream_hub import OVERFLOW, StreamHub


class Live:
    def __init__(self, hub: StreamHub, inbox: Inbox, view: SocialView) -> None:
        self._hub = hub
        self._inbox = inbox
        self._view = view

    async def events(self, viewer_id: str) -> AsyncIterator[pb.StreamMessagesResponse]:
        async with self._hub.listen(viewer_id) as queue:
            while True:
                payload = await queue.get()
                if payload == OVERFLOW:
                    raise Unavailable("the stream fell behind; reconnect and list what you "
                                      "missed", reason="BACKEND_UNAVAILABLE")
                event = pb.StreamMessagesResponse.FromString(payload)
                if event.HasField("message") and not await self._shown(viewer_id, event):
                    continue
                if not event.HasField("receipt"):
                    event.unread_message_count = await self._inbox.unread_total(viewer_id)
                yield event

    async def _shown(self, viewer_id: str, event: pb.StreamMessagesResponse) -> bool:
        message = event.message
        if message.sender_user_id == viewer_id:
            return True
        author = message.shared_post.post.author.user_id
        audience = await self._view.audience(viewer_id, [message.sender_user_id,
                                                         *([author] if author else [])])
        if message.sender_user_id in audience.blocked:
            return False
        messages.for_viewer(message, not author or author in audience.visible)
        return True
