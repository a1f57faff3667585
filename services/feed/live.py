"""Live feed updates on core NATS: after a fan-out batch is stored, the writer publishes a
`TimelineDeliveredEvent` on ``<prefix>.feedlive.<user_id>`` for each active recipient;
`StreamHomeFeed` subscribes to its caller's subject. Core NATS (not JetStream): a client
that is not connected needs no replay, its next GetHomeFeed shows everything."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from nats.aio.msg import Msg
from photomesh.feed.v1 import events_pb2

from services.runtime.events import EventBus

DOMAIN = "feedlive"


class LiveUpdates:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    def subject(self, user_id: str) -> str:
        return self._bus.subject(DOMAIN, user_id)

    async def delivered(self, user_ids: Sequence[str], post_id: int, author_id: str) -> None:
        """Tell connected streams of `user_ids` that `post_id` is in their timelines."""
        if not user_ids:
            return
        now = time.time()
        for user_id in user_ids:
            event = events_pb2.TimelineDeliveredEvent(
                event_id=f"{post_id}:{user_id}", user_id=user_id, post_id=post_id,
                author_user_id=author_id)
            event.event_time.FromNanoseconds(int(now * 1e9))
            await self._bus.nc.publish(self.subject(user_id), event.SerializeToString())

    @asynccontextmanager
    async def subscription(self, user_id: str, *, queue_size: int = 256
                           ) -> AsyncIterator[Subscription]:
        """Events for `user_id` from the moment this is entered (the server has registered
        the subscription) until it is left."""
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)

        async def on_message(msg: Msg) -> None:
            if not queue.full():  # a stalled client loses live items, not its feed
                queue.put_nowait(msg.data)

        sub = await self._bus.nc.subscribe(self.subject(user_id), cb=on_message)
        try:
            await self._bus.nc.flush()
            yield Subscription(queue)
        finally:
            await sub.unsubscribe()


class Subscription:
    def __init__(self, queue: asyncio.Queue[bytes]) -> None:
        self._queue = queue

    async def next(self) -> events_pb2.TimelineDeliveredEvent:
        return events_pb2.TimelineDeliveredEvent.FromString(await self._queue.get())
