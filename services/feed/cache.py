"""Redis side of the feed: cached timelines, authors' recent posts, celebrities, affinity,
ranked-feed snapshots.

Cached timelines are sorted sets whose members are post ids as 19-digit zero-padded
decimals, all with score 0: Redis then orders them lexicographically, which is numeric
order, exactly (a double score would lose the low bits of a 64-bit Snowflake id). Reads are
``ZRANGE … BYLEX REV`` below the page cursor. Two special members sort below every post:

* ``""`` (ACTIVE) — the key exists: the user is active and fan-out writes into it;
* ``"0000000000000000000"`` (COMPLETE) — the cache holds the whole timeline. Trimming to the
  cap removes the lowest members first, so COMPLETE disappears exactly when entries were
  cut off; a read that runs out of a cache without it continues in the CQL store.

A timeline key expires `active_days` after the last read; fan-out writes only into existing
keys. One fan-out batch is one script call per `FANOUT_KEYS` recipients (a call per
recipient, pipelined, cost the worker more than its CQL writes: redis-py packs and parses
each command in Python). A multi-key script needs its keys in one hash slot on Redis
Cluster; photomesh runs one Redis (or Sentinel), so recipients are not grouped by slot.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from redis.asyncio import Redis

from services.runtime.cache import KeySpace

ACTIVE = b""
COMPLETE = b"0" * 19
TOP = b"9" * 19
NEWEST = "+"

# KEYS[1] sorted set; ARGV[1] cap, ARGV[2] create ("1": also when missing), ARGV[3..] members.
# Adds the members if the key exists (or create), trims to the cap; 1 if written, else 0.
_ADD = """
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 3, #ARGV do redis.call('ZADD', KEYS[1], 0, ARGV[i]) end
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1) end
return 1
"""

# KEYS timelines; ARGV[1] cap, ARGV[2..] members. Adds the members to each key that exists
# and trims it to the cap; returns the indexes (1-based) of the keys written.
_ADD_TO_EXISTING = """
local written = {}
for k = 1, #KEYS do
  if redis.call('EXISTS', KEYS[k]) == 1 then
    for i = 2, #ARGV do redis.call('ZADD', KEYS[k], 0, ARGV[i]) end
    local extra = redis.call('ZCARD', KEYS[k]) - tonumber(ARGV[1])
    if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[k], 0, extra - 1) end
    written[#written + 1] = k
  end
end
return written
"""
FANOUT_KEYS = 250  # timelines per script call

# KEYS[1] dedupe key, KEYS[2] affinity hash; ARGV: field, increment, dedupe ttl, hash ttl.
_AFFINITY = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then return 0 end
redis.call('HINCRBYFLOAT', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""


def member(post_id: int) -> bytes:
    return b"%019d" % post_id


def below(post_id: int | None) -> bytes:
    """The BYLEX bound "strictly older than post_id" (everything when None)."""
    return b"(" + (member(post_id) if post_id is not None else TOP + b"9")


_ABOVE_SPECIAL = b"(" + COMPLETE  # lower bound that skips ACTIVE and COMPLETE


def ids_of(members: Iterable[bytes]) -> list[int]:
    return [int(m) for m in members if m not in (ACTIVE, COMPLETE)]


class TimelineCache:
    def __init__(self, redis: Redis, keys: KeySpace, *, cap: int, active_seconds: int,
                 author_cap: int) -> None:
        self._redis = redis
        self._keys = keys
        self._cap = cap
        self._active_seconds = active_seconds
        self._author_cap = author_cap
        self._add = redis.register_script(_ADD)
        self._add_to_existing = redis.register_script(_ADD_TO_EXISTING)
        self._affinity = redis.register_script(_AFFINITY)

    def _timeline(self, user_id: str) -> str:
        return self._keys.key("tl", user_id)

    def _author(self, author_id: str) -> str:
        return self._keys.key("ap", author_id)

    # --- home timelines -----------------------------------------------------------------

    async def read(self, user_id: str, before: int | None, limit: int
                   ) -> tuple[bool, list[int], bool]:
        """(cached, ids older than `before` newest first, complete) and refresh activity."""
        key = self._timeline(user_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.expire(key, self._active_seconds)
            pipe.zrange(key, below(before), _ABOVE_SPECIAL, desc=True, bylex=True,
                        offset=0, num=limit)
            pipe.zscore(key, COMPLETE)
            touched, members, complete = await pipe.execute()
        return bool(touched), ids_of(members), complete is not None

    async def mark_active(self, user_id: str) -> None:
        """Make the key exist before a rebuild reads the CQL store, so fan-out that lands
        meanwhile is written into it (and nothing falls between the two)."""
        key = self._timeline(user_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {ACTIVE: 0})
            pipe.expire(key, self._active_seconds)
            await pipe.execute()

    async def fill(self, user_id: str, post_ids: Sequence[int], complete: bool) -> None:
        """Load a rebuilt timeline (newest `cap` of `post_ids`; COMPLETE if that is all)."""
        members = [member(p) for p in post_ids] + ([COMPLETE] if complete else [])
        key = self._timeline(user_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            if members:
                pipe.zadd(key, dict.fromkeys(members, 0))
            pipe.zadd(key, {ACTIVE: 0})
            pipe.zremrangebyrank(key, 0, -(self._cap + 1))  # a no-op within the cap
            pipe.expire(key, self._active_seconds)
            await pipe.execute()

    async def add_to_active(self, user_ids: Sequence[str], post_ids: Sequence[int]
                            ) -> list[str]:
        """Add posts to the cached timelines of those of `user_ids` that are active;
        returns those users."""
        if not user_ids or not post_ids:
            return []
        members = [member(p) for p in post_ids]
        chunks = [list(user_ids[i:i + FANOUT_KEYS])
                  for i in range(0, len(user_ids), FANOUT_KEYS)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for chunk in chunks:
                await self._add_to_existing(keys=[self._timeline(u) for u in chunk],
                                            args=[self._cap, *members], client=pipe)
            written = await pipe.execute()
        return [chunk[i - 1] for chunk, indexes in zip(chunks, written, strict=True)
                for i in indexes]

    async def remove(self, user_ids: Sequence[str], post_ids: Sequence[int]) -> None:
        if not user_ids or not post_ids:
            return
        members = [member(p) for p in post_ids]
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.zrem(self._timeline(user_id), *members)
            await pipe.execute()

    # --- authors' recent posts ----------------------------------------------------------

    async def add_author_post(self, author_id: str, post_id: int) -> None:
        """Record a new post if the author's list is cached (else the next read loads it)."""
        await self._add(keys=[self._author(author_id)],
                        args=[self._author_cap, "0", member(post_id)])

    async def remove_author_post(self, author_id: str, post_id: int) -> None:
        await self._redis.zrem(self._author(author_id), member(post_id))

    async def author_posts(self, author_ids: Sequence[str], before: int | None, limit: int
                           ) -> dict[str, list[int] | None]:
        """Recent post ids of each author older than `before`; None where not cached."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for author_id in author_ids:
                key = self._author(author_id)
                pipe.expire(key, self._active_seconds)
                pipe.zrange(key, below(before), _ABOVE_SPECIAL, desc=True, bylex=True,
                            offset=0, num=limit)
            replies = await pipe.execute()
        return {a: (ids_of(replies[2 * i + 1]) if replies[2 * i] else None)
                for i, a in enumerate(author_ids)}

    async def mark_author(self, author_id: str) -> None:
        """Make the author's key exist before its posts are read from the CQL store (as
        `mark_active` for timelines: a post recorded meanwhile lands in it)."""
        key = self._author(author_id)
        await self._redis.zadd(key, {ACTIVE: 0})
        await self._redis.expire(key, self._active_seconds)

    async def fill_author(self, author_id: str, post_ids: Sequence[int]) -> None:
        members = [member(p) for p in post_ids[: self._author_cap]]
        key = self._author(author_id)
        await self._add(keys=[key], args=[self._author_cap + 1, "1", ACTIVE, *members])
        await self._redis.expire(key, self._active_seconds)

    # --- celebrities --------------------------------------------------------------------

    async def celebrities(self) -> tuple[dict[str, int] | None, int]:
        """(author -> last merged post id, or None when not cached; version)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._keys.key("celebs"))
            pipe.get(self._keys.key("celebs", "v"))
            found, version = await pipe.execute()
        if not found:
            return None, int(version or 0)
        return ({k.decode(): int(v) for k, v in found.items() if k != b"-"},
                int(version or 0))

    async def fill_celebrities(self, celebs: dict[str, int]) -> None:
        key = self._keys.key("celebs")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"-": 0, **{a: str(p) for a, p in celebs.items()}})
            pipe.incr(self._keys.key("celebs", "v"))
            await pipe.execute()

    async def mark_celebrity(self, author_id: str, post_id: int) -> None:
        """Record a post that was not fanned out; a new celebrity bumps the version so
        every cached "celebrities I follow" list is recomputed."""
        key = self._keys.key("celebs")
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(key)
            pipe.hget(key, author_id)
            exists, known = await pipe.execute()
        if not exists:
            return  # not cached: the next read loads the CQL table, which has it
        await self._redis.hset(key, author_id, str(post_id))
        if known is None:
            await self._redis.incr(self._keys.key("celebs", "v"))

    async def followed_celebrities(self, user_id: str, version: int) -> list[str] | None:
        """The celebrities `user_id` follows, as cached for `version`; None if stale."""
        raw = await self._redis.get(self._keys.key("cf", user_id))
        if raw is None:
            return None
        head, _, body = raw.decode().partition("|")
        if head != str(version):
            return None
        return [a for a in body.split(",") if a]

    async def set_followed_celebrities(self, user_id: str, version: int,
                                       authors: Sequence[str], ttl_seconds: int) -> None:
        await self._redis.set(self._keys.key("cf", user_id),
                              f"{version}|{','.join(authors)}", ex=ttl_seconds)

    async def forget_followed_celebrities(self, user_id: str) -> None:
        await self._redis.delete(self._keys.key("cf", user_id))

    # --- affinity (ranked mode) ---------------------------------------------------------

    async def add_affinity(self, event_id: str, viewer_id: str, author_id: str,
                           weight: float, ttl_seconds: int) -> bool:
        """Count one interaction once (replays of `event_id` change nothing)."""
        done = await self._affinity(
            keys=[self._keys.key("seen", event_id), self._keys.key("aff", viewer_id)],
            args=[author_id, weight, 86400, ttl_seconds])
        return bool(done)

    async def affinity(self, viewer_id: str, author_ids: Sequence[str]) -> dict[str, float]:
        if not author_ids:
            return {}
        values = await self._redis.hmget(self._keys.key("aff", viewer_id), list(author_ids))
        return {a: float(v) for a, v in zip(author_ids, values, strict=True) if v is not None}

    # --- ranked snapshots ---------------------------------------------------------------

    async def save_snapshot(self, viewer_id: str, ranked: Sequence[tuple[int, float]],
                            ttl_seconds: int) -> str:
        snapshot = uuid.uuid4().hex[:16]
        key = self._keys.key("rank", viewer_id, snapshot)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.rpush(key, *[f"{p}:{s!r}" for p, s in ranked] or ["-"])
            pipe.expire(key, ttl_seconds)
            await pipe.execute()
        return snapshot

    async def snapshot(self, viewer_id: str, snapshot: str, offset: int, limit: int
                       ) -> tuple[bool, list[tuple[int, float]]]:
        """(exists, ranked entries [offset, offset+limit))."""
        key = self._keys.key("rank", viewer_id, snapshot)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(key)
            pipe.lrange(key, offset, offset + limit - 1)
            exists, raw = await pipe.execute()
        entries = []
        for item in raw:
            if item == b"-":
                continue
            post, _, score = item.decode().partition(":")
            entries.append((int(post), float(score)))
        return bool(exists), entries
