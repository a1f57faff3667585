"""Follower and following counts in Redis, rebuilt from the CQL store when cold.

The durable truth is the edge rows in CQL (`GraphStore.count` pages through a user's
list partition). Redis holds the counts for fast reads:

* a read of a missing key rebuilds it from CQL and stores it with a TTL;
* a change is applied with `add` only when the change's lightweight transaction actually
  applied (so a retried Follow never counts twice), and only to keys that exist (a cold
  key stays cold and is rebuilt from the truth, never incremented from zero);
* when a change fails between its commit and its count update, `forget` drops the keys so
  the next read rebuilds them. If Redis itself was down at that moment the key may be off
  by one until its TTL expires: the TTL bounds any drift.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from redis.asyncio import Redis

from services.runtime.cache import KeySpace

FOLLOWERS = "followers"
FOLLOWING = "following"

# INCRBY only if the key exists (a cold key is rebuilt from CQL, never started from 0).
_ADD_IF_WARM = """
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, ARGV[i]) end
end
return 1
"""


class FollowCounts:
    def __init__(self, redis: Redis, keys: KeySpace, ttl_seconds: int) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl = ttl_seconds
        self._add = redis.register_script(_ADD_IF_WARM)

    def key(self, kind: str, user_id: str) -> str:
        return self._keys.key("count", kind, user_id)

    async def get_many(self, kind: str, user_ids: Sequence[str],
                       rebuild: Callable[[str], Awaitable[int]]) -> dict[str, int]:
        """Counts of `kind` for each user; cold ones are rebuilt with `rebuild(user_id)`."""
        if not user_ids:
            return {}
        keys = [self.key(kind, u) for u in user_ids]
        values = await self._redis.mget(keys)
        counts: dict[str, int] = {}
        for user_id, key, value in zip(user_ids, keys, values, strict=True):
            if value is None:
                counted = await rebuild(user_id)
                # NX: a concurrent rebuild or increment that landed first wins.
                await self._redis.set(key, counted, ex=self._ttl, nx=True)
                value = counted
            counts[user_id] = max(int(value), 0)
        return counts

    async def add(self, changes: Sequence[tuple[str, str, int]]) -> None:
        """Apply (kind, user_id, delta) changes to the warm keys."""
        await self._add(keys=[self.key(kind, user) for kind, user, _ in changes],
                        args=[delta for _, _, delta in changes])

    async def forget(self, pairs: Sequence[tuple[str, str]]) -> None:
        await self._redis.delete(*(self.key(kind, user) for kind, user in pairs))
