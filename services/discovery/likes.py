"""Each active viewer's own likes, kept by the discovery service (its key space) so a page
needs no call to the post service once warm.

``lk:<viewer>`` is a hash post id -> the like's id (liked) or its negation (unliked; a
later like wins over an earlier unlike by id order), and ``_s``: the time (ms) since which
the hash holds every like of the viewer. A post made after ``_s`` and absent from the hash
is not liked; about older ones the post service is asked once per post (one batched
BatchGetLikeStatus) and the answer kept. Like events update only hashes that exist (a
viewer who reads); a hash lives `ttl_seconds` after its last read. `_s` is set a little
ahead of the clock, so a like whose event is still on its way when the hash is made is
asked of the post service instead of being missed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from redis.asyncio import Redis

from services.peers.post import PostPeer
from services.runtime import metrics
from services.runtime.cache import KeySpace
from services.runtime.ids import id_time_ms

SINCE = "_s"
SINCE_MARGIN_MS = 2_000

# KEYS[1] the liker's hash; ARGV: post id, signed like id. Only an existing hash changes.
_RECORD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local old = redis.call('HGET', KEYS[1], ARGV[1]) or '0'
local function mag(s) if string.sub(s, 1, 1) == '-' then return string.sub(s, 2) end return s end
local a, b = mag(ARGV[2]), mag(old)
if #a > #b or (#a == #b and a >= b) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
"""


class ViewerLikes:
    def __init__(self, redis: Redis, keys: KeySpace, posts: PostPeer | None, *,
                 ttl_seconds: int) -> None:
        self._redis = redis
        self._keys = keys
        self._posts = posts
        self._ttl = ttl_seconds
        self._record = redis.register_script(_RECORD)

    def _key(self, viewer_id: str) -> str:
        return self._keys.key("lk", viewer_id)

    async def record(self, liker_id: str, post_id: int, like_id: int, liked: bool) -> None:
        """A like (or unlike) event of `liker_id`."""
        signed = str(like_id or 1) if liked else f"-{like_id or 1}"
        await self._record(keys=[self._key(liker_id)], args=[post_id, signed])

    async def liked(self, viewer_id: str, post_ids: Sequence[int]) -> dict[int, bool]:
        """Whether the viewer likes each post: from the hash, the rest asked once."""
        if not post_ids:
            return {}
        key = self._key(viewer_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(key, [SINCE, *(str(p) for p in post_ids)])
            pipe.expire(key, self._ttl)
            values, _ = await pipe.execute()
        since = int(values[0]) if values[0] is not None else None
        found: dict[int, bool] = {}
        unknown: list[int] = []
        for post_id, value in zip(post_ids, values[1:], strict=True):
            if value is not None:
                found[post_id] = not value.startswith(b"-") and value != b"0"
            elif since is not None and id_time_ms(post_id) >= since:
                found[post_id] = False
            else:
                unknown.append(post_id)
        metrics.cache_lookups("discovery_viewer_likes", len(found), len(unknown))
        if unknown and self._posts is not None:
            statuses = await self._posts.like_status(unknown)
            async with self._redis.pipeline(transaction=False) as pipe:
                for post_id, is_liked in statuses:
                    pipe.hsetnx(key, str(post_id), "1" if is_liked else "0")
                    found[post_id] = is_liked
                pipe.hsetnx(key, SINCE, int(time.time() * 1000) + SINCE_MARGIN_MS)
                pipe.expire(key, self._ttl)
                await pipe.execute()
        return found
