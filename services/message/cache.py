"""Redis parts of the message service: each user's unread counts per inbox thread (a hash,
rebuilt from the CQL inbox when missing), and the per-user channels the live stream
listens on.

Layout under ``<prefix>message:``: ``u:<user>`` — thread id -> unread messages, for the
inbox folder only, plus ``~`` (the hash was filled from CQL); ``ch:<user>`` — the channel
the worker and the service publish a user's stream events on (serialized
StreamMessagesResponse without the unread total; the service adds it).

Staleness: the worker writes a thread's count after the CQL writes of each event, so the
hash follows the truth within milliseconds. The service's own changes (read marks,
accepting, declining) drop the hash instead of writing it (a worker's write computed
before the change could land after it), and the next read rebuilds it from CQL. Every
write bumps the hash's version ``~v``, and a rebuild stores its result only if the version
it saw before reading CQL is still there (a write that came meanwhile wins; the next read
rebuilds again). The hash expires after `ttl_seconds` without writes, which bounds what a
lost Redis write could leave.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.runtime.cache import KeySpace

log = logging.getLogger(__name__)
FILLED = "~"
VERSION = "~v"

# KEYS[1] hash; ARGV ttl, then field/value pairs. The version is bumped always; the
# counts are written only into a filled hash (a missing one is rebuilt from CQL).
_SET_IF_FILLED = """
redis.call('HINCRBY', KEYS[1], '~v', 1)
redis.call('EXPIRE', KEYS[1], ARGV[1])
if redis.call('HEXISTS', KEYS[1], '~') == 0 then return 0 end
for i = 2, #ARGV, 2 do
  if tonumber(ARGV[i + 1]) > 0 then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  else redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1
"""

# KEYS[1] hash; ARGV version seen ('' none), ttl, then field/value pairs: the rebuilt
# hash, stored only if no write came since the version was read.
_FILL = """
local v = redis.call('HGET', KEYS[1], '~v') or ''
if v ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '~', 1, unpack(ARGV, 3))
if v ~= '' then redis.call('HSET', KEYS[1], '~v', v) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


class MessageCache:
    def __init__(self, redis: Redis, keys: KeySpace, ttl_seconds: int) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl = ttl_seconds
        self._set = redis.register_script(_SET_IF_FILLED)
        self._fill = redis.register_script(_FILL)

    # --- unread counts ----------------------------------------------------------------------

    def _unread_key(self, user_id: str) -> str:
        return self._keys.key("u", user_id)

    async def set_unread(self, user_id: str, counts: dict[str, int]) -> None:
        """Record the inbox threads' unread counts (0 drops a thread)."""
        args: list[str | int] = [self._ttl]
        for thread_id, count in counts.items():
            args += [thread_id, count]
        try:
            await self._set(keys=[self._unread_key(user_id)], args=args)
        except RedisError as exc:
            log.warning("message cache: unread not kept (rebuilt later): %r", exc)
            await self.forget(user_id)

    async def forget(self, user_id: str) -> None:
        try:
            await self._redis.delete(self._unread_key(user_id))
        except RedisError:
            pass

    async def unread(self, user_id: str,
                     rebuild: Callable[[], Awaitable[dict[str, int]]]) -> dict[str, int]:
        """Thread id -> unread count of the user's inbox threads that have any."""
        key = self._unread_key(user_id)
        try:
            cached = await self._redis.hgetall(key)
        except RedisError as exc:
            log.warning("message cache: Redis unavailable, counting in CQL: %r", exc)
            return await rebuild()
        if FILLED.encode() in cached:
            return {k.decode(): int(v) for k, v in cached.items()
                    if k not in (FILLED.encode(), VERSION.encode())}
        seen = cached.get(VERSION.encode(), b"")
        counts = await rebuild()
        pairs: list[str | int | bytes] = []
        for field, value in counts.items():
            if value:
                pairs += [field, value]
        try:
            await self._fill(keys=[key], args=[seen, self._ttl, *pairs])
        except RedisError as exc:
            log.warning("message cache: unread not kept: %r", exc)
        return counts

    # --- stream channels --------------------------------------------------------------------

    def channel(self, user_id: str) -> str:
        return self._keys.key("ch", user_id)

    @property
    def channel_pattern(self) -> str:
        return self._keys.key("ch", "*")

    def user_of_channel(self, channel: str) -> str:
        return channel.rsplit(":", 1)[-1]

    async def push(self, payloads: dict[str, bytes]) -> None:
        """Publish each user's stream event (live only: a user not listening misses
        nothing durable)."""
        if not payloads:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id, payload in payloads.items():
                    pipe.publish(self.channel(user_id), payload)
                await pipe.execute()
        except RedisError as exc:
            log.warning("message cache: stream events not pushed: %r", exc)
