"""Follower and following counts in Redis, rebuilt from the CQL store when cold.

The durable truth is the edge rows in CQL (`GraphStore.count` pages through a user's
list partition). Redis holds a copy per (kind, user), its keys under one hash tag
``{kind:user}`` (one Redis Cluster slot, so a script sees them all):

* ``n`` — the count, with a TTL (`ttl_seconds` bounds any drift);
* ``o`` — the previous value, set aside when the truth became unknown, served while one
  rebuild runs;
* ``chg`` — a change sequence, bumped by every change and every set-aside;
* ``pend`` — changes in flight (their list rows being written), raised by `begin`;
* ``rb`` — the rebuild lock.

A change raises ``pend`` before it writes the list rows (`begin`), then `add` lowers it,
bumps ``chg`` and moves ``n`` (or ``o``) — only keys that exist: a cold key is rebuilt
from the truth, never incremented from zero. A change that applied nothing (a repeated
Follow, Unfollow or Block) calls neither, so it changes nothing cached. When a change
fails between its commit and its count update, `forget` moves ``n`` aside to ``o``: readers
get the old value at once while one rebuild counts.

One rebuild at a time per key: concurrent reads in a process share one, and across
processes the lock lets one count while the others wait for its value (or serve ``o``),
so a celebrity's cold count is paged through once, not once per reader. A rebuild caches
its count only if no change was in flight and none committed meanwhile (``pend`` 0,
``chg`` unchanged), so a cached count never misses or doubles a concurrent follow; else it
counts again (a few times), and at worst answers without caching.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from services.runtime.cache import KeySpace

log = logging.getLogger(__name__)

FOLLOWERS = "followers"
FOLLOWING = "following"

# KEYS n, o, chg, pend; ARGV delta, ending ('1': lowers pend). Moves the warm value.
_ADD = """
if ARGV[2] == '1' then
  local pend = tonumber(redis.call('GET', KEYS[4]) or '0')
  if pend > 0 then redis.call('DECR', KEYS[4]) end
end
redis.call('INCR', KEYS[3])
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCRBY', KEYS[2], ARGV[1]) end
return nil
"""

# KEYS n, o, chg, pend; ARGV ending ('1': lowers pend). The value is set aside (served while
# one rebuild runs); the change sequence moves so no rebuild in flight caches its count.
_SET_ASIDE = """
if ARGV[1] == '1' then
  local pend = tonumber(redis.call('GET', KEYS[4]) or '0')
  if pend > 0 then redis.call('DECR', KEYS[4]) end
end
redis.call('INCR', KEYS[3])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[2]) end
return 1
"""

# KEYS n, o, chg, pend; ARGV value, chg seen before counting, ttl.
_STORE_IF_QUIET = """
local pend = tonumber(redis.call('GET', KEYS[4]) or '0')
if (redis.call('GET', KEYS[3]) or '0') == ARGV[2] and pend <= 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
PENDING_TTL_SECONDS = 30  # a change that died mid-way stops blocking rebuilds after this
REBUILD_LOCK_MS = 30_000  # a rebuilder that died stops holding its key after this
REBUILD_WAIT_SECONDS = 30.0  # then a waiting reader counts on its own
REBUILD_ATTEMPTS = 3  # counts per rebuild while changes keep the key busy
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class CountKeys:
    """The Redis keys of one count (one hash tag)."""

    n: str
    old: str
    chg: str
    pend: str
    rebuild: str

    @property
    def script_keys(self) -> list[str]:
        return [self.n, self.old, self.chg, self.pend]


class FollowCounts:
    def __init__(self, redis: Redis, keys: KeySpace, ttl_seconds: int) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl = ttl_seconds
        self._add = redis.register_script(_ADD)
        self._set_aside = redis.register_script(_SET_ASIDE)
        self._store = redis.register_script(_STORE_IF_QUIET)
        self._release = redis.register_script(_RELEASE)
        self._rebuilds: dict[str, asyncio.Future[int]] = {}
        self.rebuilds = 0  # counts paged through CQL by this process

    def keys(self, kind: str, user_id: str) -> CountKeys:
        base = self._keys.key("count", f"{{{kind}:{user_id}}}")
        return CountKeys(base, base + ":o", base + ":chg", base + ":pend", base + ":rb")

    def key(self, kind: str, user_id: str) -> str:
        """The key holding the count itself."""
        return self.keys(kind, user_id).n

    # --- reads ---------------------------------------------------------------------------

    async def get_many(self, kind: str, user_ids: Sequence[str],
                       rebuild: Callable[[str], Awaitable[int]]) -> dict[str, int]:
        """Counts of `kind` for each user: a cached value, or the value set aside while
        one rebuild runs, or (cold) the one rebuild's result."""
        if not user_ids:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                k = self.keys(kind, user_id)
                pipe.mget([k.n, k.old])
            cached = await pipe.execute()
        counts: dict[str, int] = {}
        cold = []
        for user_id, (value, old) in zip(user_ids, cached, strict=True):
            if value is not None:
                counts[user_id] = max(int(value), 0)
            elif old is not None:
                counts[user_id] = max(int(old), 0)
                self._rebuilt(kind, user_id, rebuild)  # in the background; served now
            else:
                cold.append(user_id)
        rebuilt = await asyncio.gather(*(asyncio.shield(self._rebuilt(kind, u, rebuild))
                                         for u in cold))
        counts.update(zip(cold, rebuilt, strict=True))
        return counts

    def _rebuilt(self, kind: str, user_id: str, rebuild: Callable[[str], Awaitable[int]]
                 ) -> asyncio.Future[int]:
        """The one rebuild of (kind, user) in this process (started unless running)."""
        k = self.keys(kind, user_id)
        running = self._rebuilds.get(k.n)
        if running is None:
            running = asyncio.ensure_future(self._rebuild(k, user_id, rebuild))
            self._rebuilds[k.n] = running

            def done(task: asyncio.Future[int], key: str = k.n) -> None:
                self._rebuilds.pop(key, None)
                if not task.cancelled() and task.exception() is not None:
                    log.warning("follow counts: rebuild of %s failed: %r", key,
                                task.exception())
            running.add_done_callback(done)
        return running

    async def _rebuild(self, k: CountKeys, user_id: str,
                       rebuild: Callable[[str], Awaitable[int]]) -> int:
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REBUILD_WAIT_SECONDS
        while True:
            if await self._redis.set(k.rebuild, token, nx=True, px=REBUILD_LOCK_MS):
                try:
                    return await self._count_and_store(k, user_id, rebuild)
                finally:
                    await self._release(keys=[k.rebuild], args=[token])
            while loop.time() < deadline:  # another process rebuilds it: wait for it
                await asyncio.sleep(POLL_SECONDS)
                value, locked = await self._redis.mget([k.n, k.rebuild])
                if value is not None:
                    return max(int(value), 0)
                if locked is None:
                    break
            else:
                self.rebuilds += 1
                return await rebuild(user_id)

    async def _count_and_store(self, k: CountKeys, user_id: str,
                               rebuild: Callable[[str], Awaitable[int]]) -> int:
        counted = 0
        for attempt in range(REBUILD_ATTEMPTS):
            seen = (await self._redis.get(k.chg) or b"0").decode()
            self.rebuilds += 1
            counted = await rebuild(user_id)
            if await self._store(keys=k.script_keys, args=[counted, seen, self._ttl]):
                return counted
            await asyncio.sleep(0.02 * (attempt + 1))  # changes in flight: count again
        return counted

    # --- changes -------------------------------------------------------------------------

    async def begin(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Before writing the list rows of a change to these (kind, user_id) counts."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for kind, user in pairs:
                pend = self.keys(kind, user).pend
                pipe.incr(pend)
                pipe.expire(pend, PENDING_TTL_SECONDS)
            await pipe.execute()

    async def add(self, changes: Sequence[tuple[str, str, int]], *, ending: bool = True
                  ) -> None:
        """Apply (kind, user_id, delta) changes to the warm values; `ending` when this ends
        a change that called `begin`."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for kind, user, delta in changes:
                await self._add(keys=self.keys(kind, user).script_keys,
                                args=[delta, "1" if ending else "0"], client=pipe)
            await pipe.execute()

    async def forget(self, pairs: Sequence[tuple[str, str]], *, ending: bool = True) -> None:
        """The truth of these counts is unknown (a change failed half-way): their values
        are set aside, served while one rebuild runs."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for kind, user in pairs:
                await self._set_aside(keys=self.keys(kind, user).script_keys,
                                      args=["1" if ending else "0"], client=pipe)
            await pipe.execute()
