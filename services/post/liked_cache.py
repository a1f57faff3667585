"""Which posts a viewer likes, cached in Redis: ``liked:<viewer>`` maps a post id to the
id of the viewer's like (liked) or its negation (unliked). Fields are filled from the CQL
store (``post_user_likes``, the truth) the first time a viewer asks about a post, and
kept by the like path: a like or unlike removes the field before its CQL write and sets
it after, so a reader never keeps an answer the write made stale (between the two it
reads CQL; a fill never overwrites a field, and between two writes of one pair the newer
like id wins). The hash lives `ttl_seconds` after its last change.

When Redis is unreachable, reads go to CQL and a like's write still stands: the viewer is
remembered as dirty (read from CQL meanwhile) and their hash is dropped once Redis
answers again (`heal`), so a Redis that comes back with an older copy serves nothing
stale.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.runtime.cache import KeySpace

log = logging.getLogger(__name__)

# KEYS[1] hash; ARGV: field, signed like id, ttl. Keeps the value of the newer like id.
_RECORD = """
local old = redis.call('HGET', KEYS[1], ARGV[1]) or '0'
local function mag(s) if string.sub(s, 1, 1) == '-' then return string.sub(s, 2) end return s end
local a, b = mag(ARGV[2]), mag(old)
if #a > #b or (#a == #b and a >= b) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def is_liked(raw: bytes) -> bool:
    return not raw.startswith(b"-") and raw != b"0"


LoadLiked = Callable[[str, Sequence[int]], Awaitable[set[int]]]


class LikedCache:
    def __init__(self, redis: Redis, keys: KeySpace, load: LoadLiked,
                 ttl_seconds: int = 86_400) -> None:
        self._redis = redis
        self._keys = keys
        self._load = load
        self._ttl = ttl_seconds
        self._record = redis.register_script(_RECORD)
        self._dirty: set[str] = set()

    def key(self, viewer_id: str) -> str:
        return self._keys.key("liked", viewer_id)

    async def liked(self, viewer_id: str, post_ids: Sequence[int],
                    cached: Sequence[bytes | None] | None = None) -> set[int]:
        """Which of `post_ids` the viewer likes; `cached` are the hash's fields for them
        when the caller read them already (one round trip with its other reads)."""
        if not post_ids:
            return set()
        if viewer_id in self._dirty:
            return await self._load(viewer_id, post_ids)
        if cached is None:
            try:
                cached = await self._redis.hmget(self.key(viewer_id),
                                                 [str(p) for p in post_ids])
            except RedisError as exc:
                log.warning("liked cache: Redis unavailable, reading CQL: %r", exc)
                return await self._load(viewer_id, post_ids)
        found = {p for p, raw in zip(post_ids, cached, strict=True)
                 if raw is not None and is_liked(raw)}
        unknown = [p for p, raw in zip(post_ids, cached, strict=True) if raw is None]
        if unknown:
            loaded = await self._load(viewer_id, unknown)
            key = self.key(viewer_id)
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for post_id in unknown:
                        pipe.hsetnx(key, str(post_id), "1" if post_id in loaded else "0")
                    pipe.expire(key, self._ttl)
                    await pipe.execute()
            except RedisError as exc:
                log.warning("liked cache: could not keep likes: %r", exc)
            found |= loaded
        return found

    async def forget(self, viewer_id: str, post_id: int) -> None:
        """Before the CQL write of a like or unlike: readers ask CQL until `record`."""
        try:
            await self._redis.hdel(self.key(viewer_id), str(post_id))
        except RedisError as exc:
            self._mark_dirty(viewer_id, exc)

    async def record(self, viewer_id: str, post_id: int, signed_like_id: int) -> None:
        """After the write: `signed_like_id` > 0 liked with that like, < 0 unliked."""
        try:
            await self._record(keys=[self.key(viewer_id)],
                               args=[str(post_id), str(signed_like_id), self._ttl])
        except RedisError as exc:
            self._mark_dirty(viewer_id, exc)

    def _mark_dirty(self, viewer_id: str, exc: BaseException) -> None:
        log.warning("liked cache: Redis unavailable (%r); %s read from CQL until healed",
                    exc, viewer_id)
        self._dirty.add(viewer_id)

    async def heal(self, interval_seconds: float = 1.0) -> None:
        """Background task: drop the hashes of dirty viewers once Redis is back."""
        while True:
            await asyncio.sleep(interval_seconds)
            for viewer_id in list(self._dirty):
                try:
                    await self._redis.delete(self.key(viewer_id))
                except RedisError:
                    break
                self._dirty.discard(viewer_id)
