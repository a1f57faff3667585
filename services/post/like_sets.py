"""The likers of each post and comment, held in Redis beside the like count.

The truth is one CQL row per (subject, user) (store.py); this is a copy that says, in one
Redis call, whether a like is new, so the count changes exactly when the set does:

* ``likers`` — a hash user → value (a post like's id, ``?`` appended while its event is not
  known to be out; ``1`` for a comment like), plus the field ``#state``: ``complete`` when
  the hash holds every like in CQL, ``building:<token>`` while one rebuild fills it. The
  count ``n`` is kept equal to the number of likers by the same scripts, and both expire
  together (`ttl_seconds` after the last change).
* ``lock:<user>`` — held by the one call that changes (subject, user) at a time, so
  concurrent likes and unlikes of one user are applied in one order, in CQL and here.
* ``tomb`` — while a rebuild runs, users whose unlike began (the rebuild must not bring
  them back from what it read before).

Order of each change, so that an entry in a complete hash always means a live like whose
event is out: a like is added after its CQL rows are written and its event published; an
unlike removes the entry before it touches CQL. A call that fails half-way can only leave
the count one below the truth, never above, and its retry (or the key's expiry, or a
rebuild) repairs it. A repeated like is answered from the hash in one Redis call and
changes nothing; a repeated unlike removes nothing and changes nothing.

A cold subject is rebuilt once, by one process (the ``building`` state is the lock): it
reads the CQL partition page by page into the hash and marks it complete; likes and
unlikes that land meanwhile are applied to the hash as usual, so none is lost or counted
twice. Other readers wait for that rebuild.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.post.cache import Counter
from services.post.counters import Counters
from services.runtime.errors import Unavailable

log = logging.getLogger(__name__)

STATE = "#state"
UNPUBLISHED = "?"  # appended to a post like's id while its event is not known to be out
LOCK_MS = 15_000  # a holder that died stops blocking its user after this
LOCK_WAIT_SECONDS = 15.0
BUILD_MS = 60_000  # a rebuild that died stops blocking its subject after this

# KEYS likers, n, lock, tomb; ARGV user, token, lock ms, fast ('1': a like that is already
# in a complete set is answered without the lock), remove ('1': an unlike takes the user
# out at once).
_ACQUIRE = """
local state = redis.call('HGET', KEYS[1], '#state')
local mine = false
if state then mine = redis.call('HGET', KEYS[1], ARGV[1]) end
if ARGV[4] == '1' and state == 'complete' and mine and string.sub(mine, -1) ~= '?' then
  local n = redis.call('GET', KEYS[2])
  if n then return {'done', mine, n} end
end
if not redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3]) then return {'busy'} end
if ARGV[5] == '1' then
  if state == 'complete' then
    if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
      local ttl = redis.call('PTTL', KEYS[1])
      if ttl > 0 then redis.call('SET', KEYS[2], redis.call('HLEN', KEYS[1]) - 1, 'PX', ttl) end
    end
  else
    if not state then redis.call('DEL', KEYS[2]) end
    redis.call('HDEL', KEYS[1], ARGV[1])
    redis.call('SADD', KEYS[4], ARGV[1])
    redis.call('PEXPIRE', KEYS[4], ARGV[6])
  end
end
return {'locked', mine, redis.call('GET', KEYS[2])}
"""

# KEYS likers, n, lock, tomb; ARGV user, value, token, ttl ms: add a like, release.
_ADD = """
local state = redis.call('HGET', KEYS[1], '#state')
local added = 0
if state then
  added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  if state == 'complete' then
    redis.call('SET', KEYS[2], redis.call('HLEN', KEYS[1]) - 1, 'PX', ARGV[4])
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
  end
else
  redis.call('DEL', KEYS[2])
end
redis.call('SREM', KEYS[4], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[3] then redis.call('DEL', KEYS[3]) end
return {added, redis.call('GET', KEYS[2])}
"""

# KEYS likers, n, tomb; ARGV token, build ms.
_START = """
local state = redis.call('HGET', KEYS[1], '#state')
if state == 'complete' then
  local n = redis.call('HLEN', KEYS[1]) - 1
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('SET', KEYS[2], n, 'PX', ttl) end
  return {'complete', n}
end
if state then return {'building'} end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], '#state', 'building:' .. ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {'started'}
"""

# KEYS likers, tomb; ARGV token, then user, value pairs read from CQL.
_FILL = """
if redis.call('HGET', KEYS[1], '#state') ~= 'building:' .. ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then
    redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
"""

# KEYS likers, n, tomb; ARGV token, ttl ms ('' abandons the rebuild).
_FINISH = """
if redis.call('HGET', KEYS[1], '#state') ~= 'building:' .. ARGV[1] then return false end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('HSET', KEYS[1], '#state', 'complete')
redis.call('DEL', KEYS[3])
local n = redis.call('HLEN', KEYS[1]) - 1
redis.call('SET', KEYS[2], n, 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
"""

Members = Callable[[Counter], AsyncIterator[Sequence[tuple[str, str]]]]


@dataclass(frozen=True)
class Hold:
    """What `acquire` found: `done` (a like already there; nothing to do, no lock held),
    or the lock (`token`) with the user's cached value; `count` when cached.
    `token` is empty when Redis could not be reached (nothing held)."""

    counter: Counter
    user_id: str
    token: str
    done: bool = False
    cached: str | None = None
    count: int | None = None


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _count(value: bytes | str | None) -> int | None:
    return None if value is None else max(0, int(value))


class LikeSets:
    def __init__(self, redis: Redis, counters: Counters, members: Members) -> None:
        self._redis = redis
        self._counters = counters
        self._members = members
        self._acquire = redis.register_script(_ACQUIRE)
        self._add = redis.register_script(_ADD)
        self._start = redis.register_script(_START)
        self._fill = redis.register_script(_FILL)
        self._finish = redis.register_script(_FINISH)
        for kind in ("likes", "comment_likes"):
            counters.rebuild_with(kind, self.rebuild)

    @property
    def _ttl_ms(self) -> int:
        return self._counters.ttl_seconds * 1000

    async def acquire(self, counter: Counter, user_id: str, *, like: bool) -> Hold:
        """Before changing (counter's subject, user): a like already in the set is `done`;
        otherwise wait for the user's lock. An unlike takes the user out of the set now."""
        k = self._counters.keys(counter)
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOCK_WAIT_SECONDS
        pause = 0.002
        while True:
            try:
                found = await self._acquire(
                    keys=[k.likers, k.n, k.lock(user_id), k.tomb],
                    args=[user_id, token, LOCK_MS, "1" if like else "0",
                          "0" if like else "1", BUILD_MS])
            except RedisError as exc:
                self._counters.mark_dirty([counter], exc)
                return Hold(counter, user_id, "")
            state = _text(found[0])
            if state == "done":
                return Hold(counter, user_id, "", done=True, cached=_text(found[1]),
                            count=_count(found[2]))
            if state == "locked":
                return Hold(counter, user_id, token, cached=_text(found[1]),
                            count=_count(found[2]))
            if loop.time() >= deadline:
                raise Unavailable("another change of this like is still in progress; retry",
                                  reason="BACKEND_UNAVAILABLE")
            await asyncio.sleep(pause)  # busy: the same user's other call is running
            pause = min(pause * 2, 0.05)

    async def add(self, hold: Hold, value: str) -> int | None:
        """The like is stored (and published): enter it, release the lock; the count."""
        if not hold.token:
            return None
        k = self._counters.keys(hold.counter)
        try:
            _, count = await self._add(keys=[k.likers, k.n, k.lock(hold.user_id), k.tomb],
                                       args=[hold.user_id, value, hold.token, self._ttl_ms])
        except RedisError as exc:
            self._counters.mark_dirty([hold.counter], exc)
            return None
        return _count(count)

    async def release(self, hold: Hold) -> None:
        if hold.token:
            await self._counters.release(self._counters.keys(hold.counter).lock(hold.user_id),
                                         hold.token)

    async def drop(self, counters: Sequence[Counter]) -> None:
        """Their subjects are gone (a deleted post or comment)."""
        await self._counters.drop(counters)

    # --- rebuild ---------------------------------------------------------------------------

    async def rebuild(self, counter: Counter) -> int:
        """The count of a cold subject: rebuild its set from CQL (one process at a time),
        or wait for the rebuild another process runs."""
        k = self._counters.keys(counter)
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BUILD_MS / 1000
        try:
            while True:
                started = await self._start(keys=[k.likers, k.n, k.tomb],
                                            args=[token, BUILD_MS])
                state = _text(started[0])
                if state == "complete":
                    return max(0, int(started[1]))
                if state == "started":
                    built = await self._build(counter, token)
                    if built is not None:
                        return built
                    continue
                value = await self._counters.wait_for(k.n, k.likers, deadline)
                if value is not None:
                    return value
                if loop.time() >= deadline:
                    return await self._counters.recount(counter)
        except RedisError as exc:
            self._counters.mark_dirty([counter], exc)
            return await self._counters.recount(counter)

    async def _build(self, counter: Counter, token: str) -> int | None:
        k = self._counters.keys(counter)
        self._counters.recounts += 1
        try:
            async for page in self._members(counter):
                args: list[str] = [token]
                for user_id, value in page:
                    args += [user_id, value]
                if not await self._fill(keys=[k.likers, k.tomb], args=args):
                    return None  # our rebuild expired and another began: wait for it
        except BaseException:
            await self._finish(keys=[k.likers, k.n, k.tomb], args=[token, ""])
            raise
        built = await self._finish(keys=[k.likers, k.n, k.tomb], args=[token, self._ttl_ms])
        return None if built is None else max(0, int(built))
