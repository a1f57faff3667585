"""Counters (likes, comments, replies, posts per user, comment likes) served from Redis,
rebuilt from CQL (the counters' names are in cache.py).

The durable truth of every count is the rows of one CQL partition; Redis holds a copy. All
keys of one counter share a hash tag (one Redis Cluster slot), so a script sees them all.

Like counts (`likes`, `comment_likes`) are kept by `like_sets.LikeSets`: the likers
themselves are held in Redis beside the count, and a like or unlike changes the count only
when it changes that set, so a repeated like or unlike changes nothing cached.

The other counts (comments, replies, posts) change by +1/-1 only when a CQL write actually
changed a row. Keys: the value ``n``, a change sequence ``chg``, ``pend`` (writers in
flight), ``o`` (the previous value, served while a rebuild runs) and ``op:<id>`` (a change
that was applied). A writer raises ``pend`` before its CQL write (`begin`), and after it
atomically lowers ``pend``, bumps ``chg``, adjusts ``n`` (or ``o``) and records its
operation id (`commit`). A rebuild counts the rows and caches the result only if no writer
was in flight and nothing committed meanwhile, so a count is never cached that misses or
doubles a concurrent change.

When the outcome of a write is unknown (its CQL call failed) the value is moved aside to
``o`` (`invalidate`): readers get it while one rebuild runs. A retried create or delete
whose first attempt may have stopped half-way calls `settle`, which does the same only if
that attempt's commit is not recorded, and never once that attempt is older than a cached
value lives: repeating a finished call changes nothing cached, however old it is.
One rebuild runs at a time per key across processes (a Redis lock, ``rb``); the other
readers of that key get the old value or wait for that rebuild, never count themselves.

When Redis itself fails, the durable write still stands: the key is remembered as dirty,
reads of it count in CQL, and a background task drops every cached key of it once Redis
answers again. Cached values also expire (`ttl_seconds`), which bounds any staleness left
by a crashed process.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.post.cache import Counter
from services.runtime.cache import KeySpace

log = logging.getLogger(__name__)

PENDING_TTL_SECONDS = 30  # a writer that died mid-call stops blocking rebuilds after this
REBUILD_LOCK_MS = 10_000  # a rebuilder that died stops holding its key after this
REBUILD_WAIT_SECONDS = 5.0  # a reader waits this long for another's rebuild, then counts
REBUILD_ATTEMPTS = 3  # recounts per rebuild while writers keep the key busy
POLL_SECONDS = 0.01

# KEYS n, pend, chg, o, op; ARGV delta, op ttl, record op ('1'/'0').
_COMMIT = """
local pend = tonumber(redis.call('GET', KEYS[2]) or '0')
if pend > 0 then redis.call('DECR', KEYS[2]) end
redis.call('INCR', KEYS[3])
if ARGV[3] == '1' then redis.call('SET', KEYS[5], '1', 'EX', ARGV[2]) end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('INCRBY', KEYS[4], ARGV[1]) end
return nil
"""

# KEYS n, pend, chg, o, op; ARGV ending_write ('1'/'0'), only unless op recorded ('1'/'0').
# Moves the value aside (to o, served while one rebuild runs); 0 if op was recorded.
_SET_ASIDE = """
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
if ARGV[1] == '1' then
  local pend = tonumber(redis.call('GET', KEYS[2]) or '0')
  if pend > 0 then redis.call('DECR', KEYS[2]) end
end
redis.call('INCR', KEYS[3])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[4]) end
return 1
"""

# KEYS n, chg, o, likers, tomb: forget everything cached of a counter.
_DROP = """
redis.call('INCR', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4], KEYS[5])
return 1
"""

# KEYS n, pend, chg, o; ARGV value, chg seen before counting, ttl.
_STORE_IF_QUIET = """
local pend = tonumber(redis.call('GET', KEYS[2]) or '0')
local chg = redis.call('GET', KEYS[3]) or '0'
if chg == ARGV[2] and pend <= 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
  redis.call('DEL', KEYS[4])
  return 1
end
return 0
"""

# KEYS lock; ARGV token: release a lock only if it is still ours.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""



@dataclass(frozen=True)
class CounterKeys:
    """The Redis keys of one counter (one hash tag: one Redis Cluster slot)."""

    keys: KeySpace
    tag: str

    def _k(self, name: str, *more: object) -> str:
        return self.keys.key(name, self.tag, *more)

    @property
    def n(self) -> str:
        return self._k("n")

    @property
    def pend(self) -> str:
        return self._k("pend")

    @property
    def chg(self) -> str:
        return self._k("chg")

    @property
    def old(self) -> str:
        return self._k("o")

    @property
    def rebuild(self) -> str:
        return self._k("rb")

    @property
    def likers(self) -> str:
        return self._k("likers")

    @property
    def tomb(self) -> str:
        return self._k("tomb")

    def op(self, op_id: str) -> str:
        return self._k("op", op_id)

    def lock(self, user_id: str) -> str:
        return self._k("lock", user_id)


Recount = Callable[[Counter], Awaitable[int]]
Rebuild = Callable[[Counter], Awaitable[int]]


class Counters:
    def __init__(self, redis: Redis, keys: KeySpace, recount: Recount,
                 ttl_seconds: int = 3600) -> None:
        self._redis = redis
        self._keys = keys
        self._recount_in_cql = recount
        self.ttl_seconds = ttl_seconds
        self._commit = redis.register_script(_COMMIT)
        self._store = redis.register_script(_STORE_IF_QUIET)
        self._set_aside = redis.register_script(_SET_ASIDE)
        self._drop = redis.register_script(_DROP)
        self._release = redis.register_script(RELEASE)
        self._dirty: set[Counter] = set()
        self._rebuilds: dict[Counter, asyncio.Future[int]] = {}
        self._builders: dict[str, Rebuild] = {}
        self.recounts = 0  # counts made in CQL by this process (rebuilds and dirty reads)

    def keys(self, counter: Counter) -> CounterKeys:
        return CounterKeys(self._keys, f"{{{counter.kind}:{counter.subject}}}")

    def rebuild_with(self, kind: str, rebuild: Rebuild) -> None:
        """Counters of `kind` are rebuilt by `rebuild` (which caches ``n`` itself)."""
        self._builders[kind] = rebuild

    async def recount(self, counter: Counter) -> int:
        self.recounts += 1
        return await self._recount_in_cql(counter)

    # --- writes ----------------------------------------------------------------------------

    async def begin(self, counters: Sequence[Counter]) -> None:
        """Before a CQL write that may change these counts."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for counter in counters:
                    pend = self.keys(counter).pend
                    pipe.incr(pend)
                    pipe.expire(pend, PENDING_TTL_SECONDS)
                await pipe.execute()
        except RedisError as exc:
            self.mark_dirty(counters, exc)

    async def commit(self, changes: Mapping[Counter, int], op: str = "") -> None:
        """After the CQL write: apply each delta (0 only ends the write); `op` names the
        change, so that a retry of it can tell it was applied (`settle`)."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for counter, delta in changes.items():
                    k = self.keys(counter)
                    await self._commit(keys=[k.n, k.pend, k.chg, k.old, k.op(op)],
                                       args=[delta, self.ttl_seconds, "1" if op else "0"],
                                       client=pipe)
                await pipe.execute()
        except RedisError as exc:
            self.mark_dirty(changes, exc)

    async def invalidate(self, counters: Sequence[Counter], *, ending_write: bool = False
                         ) -> None:
        """The truth of these counts is unknown (a CQL write failed): their values are set
        aside, served while one rebuild runs; `ending_write` when this ends a write that
        called `begin`."""
        await self._aside(counters, ending_write=ending_write, op="")

    async def settle(self, counters: Sequence[Counter], op: str, *,
                     written_ms: int | None = None) -> None:
        """A retry of the change `op`, whose first attempt may have stopped between its CQL
        write and its `commit`: counts that did not record `op` are set aside and rebuilt;
        the others are right and stay as they are.

        `written_ms` is when that attempt's CQL write was made, if known. The record of
        `op` lives as long as a cached value (`ttl_seconds`), so once it may have expired
        the record cannot tell; but then every value still cached was stored after that
        write and after the attempt stopped blocking rebuilds (``pend`` expires), so it
        counts the write: nothing is set aside. A repeat of an old delete cannot force a
        recount."""
        if written_ms is not None and time.time() * 1000 - written_ms > self.settled_after_ms:
            return
        await self._aside(counters, ending_write=False, op=op)

    @property
    def settled_after_ms(self) -> int:
        """How long after its CQL write a change's count can no longer be unsettled."""
        return (self.ttl_seconds + 2 * PENDING_TTL_SECONDS) * 1000

    async def _aside(self, counters: Sequence[Counter], *, ending_write: bool, op: str
                     ) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for counter in counters:
                    k = self.keys(counter)
                    await self._set_aside(keys=[k.n, k.pend, k.chg, k.old, k.op(op)],
                                          args=["1" if ending_write else "0",
                                                "1" if op else "0"], client=pipe)
                await pipe.execute()
        except RedisError as exc:
            self.mark_dirty(counters, exc)

    async def drop(self, counters: Sequence[Counter]) -> None:
        """Forget everything cached of these counters (their subject is gone, or Redis
        may hold stale values)."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for counter in counters:
                    k = self.keys(counter)
                    await self._drop(keys=[k.n, k.chg, k.old, k.likers, k.tomb], client=pipe)
                await pipe.execute()
        except RedisError as exc:
            self.mark_dirty(counters, exc)
        else:
            self._dirty.difference_update(counters)

    # --- reads -----------------------------------------------------------------------------

    async def get_many(self, counters: Sequence[Counter]) -> dict[Counter, int]:
        """Current values: one pipeline; a missing one is rebuilt (one rebuild at a time
        per key; a value set aside is served meanwhile)."""
        unique = list(dict.fromkeys(counters))
        if not unique:
            return {}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for counter in unique:
                    k = self.keys(counter)
                    pipe.mget([k.n, k.old])
                cached = await pipe.execute()
        except RedisError as exc:
            log.warning("counters: Redis unavailable, counting in CQL: %r", exc)
            values = await asyncio.gather(*(self.recount(c) for c in unique))
            return dict(zip(unique, values, strict=True))
        result: dict[Counter, int] = {}
        missing: list[Counter] = []
        for counter, (value, old) in zip(unique, cached, strict=True):
            if counter in self._dirty:
                missing.append(counter)
            elif value is not None:
                result[counter] = max(0, int(value))
            elif old is not None:
                result[counter] = max(0, int(old))
                self._rebuilt(counter)  # in the background; this read is served now
            else:
                missing.append(counter)
        if missing:
            counts = await asyncio.gather(*(
                self.recount(c) if c in self._dirty else asyncio.shield(self._rebuilt(c))
                for c in missing))
            result.update(zip(missing, counts, strict=True))
        return result

    async def get(self, counter: Counter) -> int:
        return (await self.get_many([counter]))[counter]

    def _rebuilt(self, counter: Counter) -> asyncio.Future[int]:
        """The one rebuild of `counter` in this process (started unless running)."""
        running = self._rebuilds.get(counter)
        if running is None:
            builder = self._builders.get(counter.kind, self._rebuild)
            running = asyncio.ensure_future(builder(counter))
            self._rebuilds[counter] = running

            def done(task: asyncio.Future[int], counter: Counter = counter) -> None:
                self._rebuilds.pop(counter, None)
                if not task.cancelled() and task.exception() is not None:
                    log.warning("counters: rebuild of %s failed: %r", counter,
                                task.exception())
            running.add_done_callback(done)
        return running

    async def _rebuild(self, counter: Counter) -> int:
        """Count in CQL and cache it, holding the key's rebuild lock; or wait for the
        process that holds it."""
        k = self.keys(counter)
        token = uuid.uuid4().hex
        deadline = asyncio.get_running_loop().time() + REBUILD_WAIT_SECONDS
        while True:
            try:
                ours = await self._redis.set(k.rebuild, token, nx=True, px=REBUILD_LOCK_MS)
            except RedisError:
                return await self.recount(counter)
            if ours:
                try:
                    return await self._count_and_store(counter)
                finally:
                    await self.release(k.rebuild, token)
            value = await self.wait_for(k.n, k.rebuild, deadline)
            if value is not None:
                return value
            if asyncio.get_running_loop().time() >= deadline:
                return await self.recount(counter)  # that rebuild is stuck: count alone

    async def _count_and_store(self, counter: Counter) -> int:
        k = self.keys(counter)
        value = 0
        for attempt in range(REBUILD_ATTEMPTS):
            seen = (await self._redis.get(k.chg) or b"0").decode()
            value = await self.recount(counter)
            if counter in self._dirty:
                return value
            stored = await self._store(keys=[k.n, k.pend, k.chg, k.old],
                                       args=[value, seen, self.ttl_seconds])
            if stored:
                return value
            await asyncio.sleep(0.02 * (attempt + 1))  # writers in flight: count again
        return value

    async def wait_for(self, key: str, lock: str, deadline: float) -> int | None:
        """Poll `key` while another process holds `lock` (its rebuild); None when that
        rebuild ended without a value or the deadline passed."""
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            await asyncio.sleep(POLL_SECONDS)
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.get(key)
                    pipe.exists(lock)
                    value, locked = await pipe.execute()
            except RedisError:
                return None
            if value is not None:
                return max(0, int(value))
            if not locked:
                return None
        return None

    async def release(self, lock: str, token: str) -> None:
        try:
            await self._release(keys=[lock], args=[token])
        except RedisError as exc:  # it expires on its own
            log.warning("counters: could not release %s: %r", lock, exc)

    # --- Redis failures --------------------------------------------------------------------

    def mark_dirty(self, counters: Sequence[Counter] | Mapping[Counter, int],
                   exc: BaseException) -> None:
        log.warning("counters: Redis unavailable (%r); %d counter(s) will be recounted",
                    exc, len(counters))
        self._dirty.update(counters)

    @property
    def dirty(self) -> frozenset[Counter]:
        return frozenset(self._dirty)

    async def heal(self, interval_seconds: float = 1.0) -> None:
        """Background task: drop cached values of dirty counters once Redis is back."""
        while True:
            await asyncio.sleep(interval_seconds)
            if self._dirty:
                await self.drop(list(self._dirty))


