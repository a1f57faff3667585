"""Fan-in of per-user Redis channels for a service's server streams (StreamNotifications,
StreamMessages).

One pattern subscription per service process receives every user's channel; each
connected stream registers a bounded queue for its user. A client too slow to keep up is
cut off (it reconnects and lists what it missed) rather than slowing everyone else. When
Redis goes away the subscription is made again once it answers, and every stream open
meanwhile is cut off the same way (what was published in between never reached it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

OVERFLOW = b""  # queued when a listener falls behind: its stream ends
RESUBSCRIBE_SECONDS = 1.0  # after Redis failed, subscribe again this often


class UserChannels(Protocol):
    """Where a service publishes each user's stream payloads (its cache module)."""

    @property
    def channel_pattern(self) -> str: ...

    def user_of_channel(self, channel: str) -> str: ...


class StreamHub:
    def __init__(self, name: str, redis: Redis, channels: UserChannels,
                 queue_size: int) -> None:
        self._name = name
        self._redis = redis
        self._cache = channels
        self._queue_size = queue_size
        self._listeners: dict[str, set[asyncio.Queue[bytes]]] = {}
        self._ready = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                await self._subscribed()
            except (RedisError, OSError) as exc:
                log.warning("%s streams: Redis subscription lost (%r); subscribing again",
                            self._name, exc)
                for queues in list(self._listeners.values()):
                    for queue in list(queues):
                        self._cut_off(queue)
                await asyncio.sleep(RESUBSCRIBE_SECONDS)

    async def _subscribed(self) -> None:
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
            try:
                await pubsub.aclose()
            except (RedisError, OSError):
                pass  # the connection is gone already

    @staticmethod
    def _cut_off(queue: asyncio.Queue[bytes]) -> None:
        if queue.full():
            return  # ends with OVERFLOW already queued
        queue.put_nowait(OVERFLOW)

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
