"""Fan-in of the per-user Redis channels for StreamMessages (services/message/cache.py).

One pattern subscription per service process receives every user's channel; each
connected stream registers a bounded queue for its user. A client too slow to keep up is
cut off (it reconnects and lists what it missed) rather than slowing everyone else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from services.message.cache import MessageCache

log = logging.getLogger(__name__)

OVERFLOW = b""  # queued when a listener falls behind: its stream ends


class StreamHub:
    def __init__(self, redis: Redis, cache: MessageCache, queue_size: int) -> None:
        self._redis = redis
        self._cache = cache
        self._queue_size = queue_size
        self._listeners: dict[str, set[asyncio.Queue[bytes]]] = {}
        self._ready = asyncio.Event()

    async def run(self) -> None:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.psubscribe(self._cache.channel_pattern)
            self._ready.set()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    channel = message["channel"]
                    user = self._cache.user_of_channel(
                        channel.decode() if isinstance(channel, bytes) else channel)
                    for queue in list(self._listeners.get(user, ())):
                        self._offer(queue, message["data"])
        finally:
            self._ready.clear()
            await pubsub.aclose()

    def _offer(self, queue: asyncio.Queue[bytes], payload: bytes) -> None:
        if queue.qsize() >= self._queue_size - 1:
            if queue.qsize() < self._queue_size:
                queue.put_nowait(OVERFLOW)
            return
        queue.put_nowait(payload)

    @asynccontextmanager
    async def listen(self, user_id: str) -> AsyncIterator[asyncio.Queue[bytes]]:
        """A queue of the user's stream payloads while the block runs."""
        await asyncio.wait_for(self._ready.wait(), timeout=10)
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=self._queue_size)
        self._listeners.setdefault(user_id, set()).add(queue)
        try:
            yield queue
        finally:
            listeners = self._listeners.get(user_id)
            if listeners is not None:
                listeners.discard(queue)
                if not listeners:
                    del self._listeners[user_id]
