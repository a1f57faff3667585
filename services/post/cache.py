"""Counters (likes, comments, replies, posts per user) served from Redis, rebuilt from CQL;
and the cache of post bodies (`PostBodies`, at the end).

The durable truth of every count is the number of rows in one CQL partition; Redis holds
a copy that changes by +1/-1 only when a CQL write actually changed a row. Three keys per
counter: the value ``n``, a change sequence ``chg`` and ``pend`` (writers in flight). A
writer raises ``pend`` before its CQL write (`begin`), and after it atomically lowers
``pend``, bumps ``chg`` and adjusts ``n`` if cached (`commit`). A cold read counts the rows
and caches the result only if no writer was in flight and nothing committed meanwhile, so
a count is never cached that misses or doubles a concurrent change.

When the outcome of a write is unknown (the CQL call failed, or a retry found the row
already there so an earlier attempt may not have counted it) the cached value is dropped
(`invalidate`) and the next read recounts. When Redis itself fails, the durable write
still stands: the key is remembered as dirty, reads of it recount from CQL, and a
background task drops the cached value once Redis answers again. Cached values also
expire (`ttl_seconds`), which bounds any staleness left by a crashed process.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from photomesh.common.v1.media_pb2 import MediaRef
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.post.store import Mention, PostRecord, PostStore
from services.runtime.cache import KeySpace

log = logging.getLogger(__name__)

PENDING_TTL_SECONDS = 30  # a writer that died mid-call stops blocking rebuilds after this

_COMMIT = """
local pend = tonumber(redis.call('GET', KEYS[2]) or '0')
if pend > 0 then redis.call('DECR', KEYS[2]) end
redis.call('INCR', KEYS[3])
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return nil
"""

_DROP = """
if ARGV[1] == '1' then
  local pend = tonumber(redis.call('GET', KEYS[2]) or '0')
  if pend > 0 then redis.call('DECR', KEYS[2]) end
end
redis.call('INCR', KEYS[3])
redis.call('DEL', KEYS[1])
return 1
"""

_STORE_IF_QUIET = """
local pend = tonumber(redis.call('GET', KEYS[2]) or '0')
local chg = redis.call('GET', KEYS[3]) or '0'
if chg == ARGV[2] and pend <= 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Counter:
    """One count: `kind` (likes, comments, replies, posts, comment_likes) and its subject."""

    kind: str
    subject: str


def likes(post_id: int) -> Counter:
    return Counter("likes", str(post_id))


def comments(post_id: int) -> Counter:
    return Counter("comments", str(post_id))


def replies(post_id: int, comment_id: int) -> Counter:
    return Counter("replies", f"{post_id}:{comment_id}")


def posts(user_id: str) -> Counter:
    return Counter("posts", user_id)


def comment_likes(comment_id: int) -> Counter:
    return Counter("comment_likes", str(comment_id))


Recount = Callable[[Counter], Awaitable[int]]


class Counters:
    def __init__(self, redis: Redis, keys: KeySpace, recount: Recount,
                 ttl_seconds: int = 3600) -> None:
        self._redis = redis
        self._keys = keys
        self._recount = recount
        self._ttl = ttl_seconds
        self._commit = redis.register_script(_COMMIT)
        self._store = redis.register_script(_STORE_IF_QUIET)
        self._drop = redis.register_script(_DROP)
        self._dirty: set[Counter] = set()

    def _k(self, counter: Counter) -> tuple[str, str, str]:
        # One hash tag per counter: its three keys live in one Redis Cluster slot.
        tag = f"{{{counter.kind}:{counter.subject}}}"
        return (self._keys.key("n", tag), self._keys.key("pend", tag),
                self._keys.key("chg", tag))

    async def begin(self, counters: Sequence[Counter]) -> None:
        """Before a CQL write that may change these counts."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for counter in counters:
                    _, pend, _ = self._k(counter)
                    pipe.incr(pend)
                    pipe.expire(pend, PENDING_TTL_SECONDS)
                await pipe.execute()
        except RedisError as exc:
            self._mark_dirty(counters, exc)

    async def commit(self, changes: Mapping[Counter, int]) -> None:
        """After the CQL write: apply each delta (0 only ends the write)."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for counter, delta in changes.items():
                    await self._commit(keys=list(self._k(counter)), args=[delta], client=pipe)
                await pipe.execute()
        except RedisError as exc:
            self._mark_dirty(changes, exc)

    async def invalidate(self, counters: Sequence[Counter], *, ending_write: bool = False
                         ) -> None:
        """Drop cached values whose truth is unknown (they are recounted on next read);
        `ending_write` when this ends a write that called `begin`."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for counter in counters:
                    await self._drop(keys=list(self._k(counter)),
                                     args=["1" if ending_write else "0"], client=pipe)
                await pipe.execute()
        except RedisError as exc:
            self._mark_dirty(counters, exc)
        else:
            self._dirty.difference_update(counters)

    async def get_many(self, counters: Sequence[Counter]) -> dict[Counter, int]:
        """Current values: one MGET; misses are recounted from CQL and cached when quiet."""
        unique = list(dict.fromkeys(counters))
        if not unique:
            return {}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for counter in unique:
                    n, _, chg = self._k(counter)
                    pipe.mget([n, chg])
                cached = await pipe.execute()
        except RedisError as exc:
            log.warning("counters: Redis unavailable, counting in CQL: %r", exc)
            values = await asyncio.gather(*(self._recount(c) for c in unique))
            return dict(zip(unique, values, strict=True))
        result: dict[Counter, int] = {}
        missing: list[tuple[Counter, bytes | None]] = []
        for counter, (value, chg) in zip(unique, cached, strict=True):
            if value is not None and counter not in self._dirty:
                result[counter] = max(0, int(value))
            else:
                missing.append((counter, chg))
        if missing:
            counts = await asyncio.gather(*(self._recount(c) for c, _ in missing))
            await self._store_quiet([(c, chg, n) for (c, chg), n in
                                     zip(missing, counts, strict=True)])
            result.update({c: n for (c, _), n in zip(missing, counts, strict=True)})
        return result

    async def get(self, counter: Counter) -> int:
        return (await self.get_many([counter]))[counter]

    async def _store_quiet(self, entries: Sequence[tuple[Counter, bytes | None, int]]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for counter, chg, value in entries:
                    if counter in self._dirty:
                        continue
                    seen = (chg or b"0").decode()
                    await self._store(keys=list(self._k(counter)),
                                      args=[value, seen, self._ttl], client=pipe)
                await pipe.execute()
        except RedisError as exc:
            log.warning("counters: could not cache recounted values: %r", exc)

    def _mark_dirty(self, counters: Sequence[Counter] | Mapping[Counter, int],
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
                await self.invalidate(list(self._dirty))


# --- post bodies ---------------------------------------------------------------------------

TOMBSTONE = b"-"  # "read this post from CQL": set before a delete, never overwritten by a fill


def _encode(record: PostRecord) -> bytes:
    return json.dumps({
        "a": record.author_id, "c": record.caption, "h": list(record.hashtags),
        "m": [[m.user_id, m.username] for m in record.mentions],
        "r": [base64.b64encode(r.SerializeToString(deterministic=True)).decode()
              for r in record.media],
        "t": int(record.create_time.timestamp() * 1000)}, separators=(",", ":")).encode()


def _decode(post_id: int, raw: bytes) -> PostRecord:
    body = json.loads(raw)
    return PostRecord(
        post_id=post_id, author_id=body["a"], caption=body["c"], hashtags=tuple(body["h"]),
        mentions=tuple(Mention(u, n) for u, n in body["m"]),
        media=tuple(MediaRef.FromString(base64.b64decode(r)) for r in body["r"]),
        create_time=datetime.fromtimestamp(body["t"] / 1000, UTC), published=True)


class PostBodies:
    """Published, live post rows cached in Redis (a post never changes after it is
    published, except by its deletion), read with one MGET and filled from CQL on a miss.

    A delete first writes a tombstone (`forget`), which a fill never overwrites (SET NX), so
    a fill racing with the delete cannot bring the post back; the tombstone sends readers
    to CQL, whose row is the truth. When Redis fails, reads go to CQL; a delete fails before
    it changes anything (it could not stop readers seeing the cached body)."""

    def __init__(self, redis: Redis, keys: KeySpace, store: PostStore,
                 ttl_seconds: int = 3600) -> None:
        self._redis = redis
        self._keys = keys
        self._store = store
        self._ttl = ttl_seconds

    def _key(self, post_id: int) -> str:
        return self._keys.key("body", str(post_id))

    async def get_many(self, post_ids: Sequence[int]) -> dict[int, PostRecord]:
        """The posts that exist among `post_ids` (deleted ones included, as CQL has them)."""
        ids = list(dict.fromkeys(post_ids))
        if not ids:
            return {}
        try:
            cached = await self._redis.mget([self._key(i) for i in ids])
        except RedisError as exc:
            log.warning("post bodies: Redis unavailable, reading CQL: %r", exc)
            return await self._store.get_posts(ids)
        found: dict[int, PostRecord] = {}
        missing: list[int] = []
        for post_id, raw in zip(ids, cached, strict=True):
            if raw is None or raw == TOMBSTONE:
                missing.append(post_id)
            else:
                found[post_id] = _decode(post_id, raw)
        if missing:
            read = await self._store.get_posts(missing)
            found.update(read)
            fill = [r for r in read.values() if r.published and not r.deleted]
            if fill:
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for record in fill:
                            pipe.set(self._key(record.post_id), _encode(record), ex=self._ttl,
                                     nx=True)
                        await pipe.execute()
                except RedisError as exc:
                    log.warning("post bodies: could not cache: %r", exc)
        return found

    async def get(self, post_id: int) -> PostRecord | None:
        return (await self.get_many([post_id])).get(post_id)

    async def forget(self, post_id: int) -> None:
        """Before deleting a post: readers go to CQL from now on (raises RedisError)."""
        await self._redis.set(self._key(post_id), TOMBSTONE, ex=self._ttl)
