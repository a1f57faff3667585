"""Follower and following counts in Redis, rebuilt from the CQL store when cold.

The durable truth is the edge rows in CQL (`GraphStore.count` pages through a user's
list partition). Redis holds the counts for fast reads:

* a read of a missing key rebuilds it from CQL and stores it with a TTL;
* a change is applied with `add` only when the change's lightweight transaction actually
  applied (so a retried Follow never counts twice), and only to keys that exist (a cold
  key stays cold and is rebuilt from the truth, never incremented from zero);
* when a change fails between its commit and its count update, `forget` drops the keys so
  the next read rebuilds them. If Redis itself was down at that moment the key may be off
  by one until its TTL expires: the TTL bounds any drift;
* one rebuild at a time per key: concurrent reads in a process share one, and across
  processes a Redis lock (``rb``) lets one rebuild while the others wait for its value
  (a celebrity's cold count is paged through once, not once per reader).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

from redis.asyncio import Redis

from services.runtime.cache import KeySpace

log = logging.getLogger(__name__)

FOLLOWERS = "followers"
FOLLOWING = "following"

# INCRBY only if the key exists (a cold key is rebuilt from CQL, never started from 0).
_ADD_IF_WARM = """
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, ARGV[i]) end
end
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
REBUILD_LOCK_MS = 30_000  # a rebuilder that died stops holding its key after this
REBUILD_WAIT_SECONDS = 30.0  # then a waiting reader counts on its own
POLL_SECONDS = 0.01


class FollowCounts:
    def __init__(self, redis: Redis, keys: KeySpace, ttl_seconds: int) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl = ttl_seconds
        self._add = redis.register_script(_ADD_IF_WARM)
        self._release = redis.register_script(_RELEASE)
        self._rebuilds: dict[str, asyncio.Future[int]] = {}
        self.rebuilds = 0  # counts paged through CQL by this process

    def key(self, kind: str, user_id: str) -> str:
        return self._keys.key("count", kind, user_id)

    async def get_many(self, kind: str, user_ids: Sequence[str],
                       rebuild: Callable[[str], Awaitable[int]]) -> dict[str, int]:
        """Counts of `kind` for each user; cold ones are rebuilt with `rebuild(user_id)`,
        concurrently, one rebuild per key at a time."""
        if not user_ids:
            return {}
        keys = [self.key(kind, u) for u in user_ids]
        values = await self._redis.mget(keys)
        counts: dict[str, int] = {}
        cold = []
        for user_id, value in zip(user_ids, values, strict=True):
            if value is None:
                cold.append(user_id)
            else:
                counts[user_id] = max(int(value), 0)
        rebuilt = await asyncio.gather(*(asyncio.shield(self._rebuilt(kind, u, rebuild))
                                         for u in cold))
        counts.update(zip(cold, rebuilt, strict=True))
        return counts

    def _rebuilt(self, kind: str, user_id: str, rebuild: Callable[[str], Awaitable[int]]
                 ) -> asyncio.Future[int]:
        """The one rebuild of (kind, user) in this process (started unless running)."""
        key = self.key(kind, user_id)
        running = self._rebuilds.get(key)
        if running is None:
            running = asyncio.ensure_future(self._rebuild(key, user_id, rebuild))
            self._rebuilds[key] = running

            def done(task: asyncio.Future[int], key: str = key) -> None:
                self._rebuilds.pop(key, None)
                if not task.cancelled() and task.exception() is not None:
                    log.warning("follow counts: rebuild of %s failed: %r", key,
                                task.exception())
            running.add_done_callback(done)
        return running

    async def _rebuild(self, key: str, user_id: str,
                       rebuild: Callable[[str], Awaitable[int]]) -> int:
        lock, token = key + ":rb", uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REBUILD_WAIT_SECONDS
        while True:
            if await self._redis.set(lock, token, nx=True, px=REBUILD_LOCK_MS):
                try:
                    self.rebuilds += 1
                    counted = await rebuild(user_id)
                    # NX: a concurrent increment that landed first wins.
                    await self._redis.set(key, counted, ex=self._ttl, nx=True)
                    return counted
                finally:
                    await self._release(keys=[lock], args=[token])
            while loop.time() < deadline:  # another process rebuilds it: wait for it
                await asyncio.sleep(POLL_SECONDS)
                value, locked = await self._redis.mget([key, lock])
                if value is not None:
                    return max(int(value), 0)
                if locked is None:
                    break
            else:
                self.rebuilds += 1
                return await rebuild(user_id)

    async def add(self, changes: Sequence[tuple[str, str, int]]) -> None:
        """Apply (kind, user_id, delta) changes to the warm keys."""
        await self._add(keys=[self.key(kind, user) for kind, user, _ in changes],
                        args=[delta for _, _, delta in changes])

    async def forget(self, pairs: Sequence[tuple[str, str]]) -> None:
        await self._redis.delete(*(self.key(kind, user) for kind, user in pairs))
