"""Redis side of notifications: the unread counter per user and the per-user channel
that StreamNotifications listens on.

The counter is a cache of "inbox entries above the read watermark": rebuilt from CQL when
absent, incremented by the worker only while present, re-set after MarkNotificationsRead,
and expiring after UNREAD_CACHE_SECONDS so any drift from racing writers heals.
"""

from __future__ import annotations

from redis.asyncio import Redis

from services.runtime.cache import KeySpace

UNREAD_CACHE_SECONDS = 600

_INCR_IF_PRESENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCR', KEYS[1])
end
return false
"""


class NotificationCache:
    def __init__(self, redis: Redis, keys: KeySpace) -> None:
        self._redis = redis
        self._keys = keys
        self._incr = redis.register_script(_INCR_IF_PRESENT)

    def _unread(self, user_id: str) -> str:
        return self._keys.key("unread", user_id)

    def channel(self, user_id: str) -> str:
        return self._keys.key("stream", user_id)

    @property
    def channel_pattern(self) -> str:
        return self._keys.key("stream", "*")

    def user_of_channel(self, channel: str) -> str:
        return channel.rsplit(":", 1)[-1]

    async def unread(self, user_id: str) -> int | None:
        value = await self._redis.get(self._unread(user_id))
        return int(value) if value is not None else None

    async def set_unread(self, user_id: str, count: int) -> None:
        await self._redis.set(self._unread(user_id), count, ex=UNREAD_CACHE_SECONDS)

    async def one_more_unread(self, user_id: str) -> int | None:
        """Count one more unread if the counter is warm; its new value, or None if cold."""
        value = await self._incr(keys=[self._unread(user_id)])
        return int(value) if value is not None else None

    async def publish(self, user_id: str, payload: bytes) -> None:
        await self._redis.publish(self.channel(user_id), payload)
