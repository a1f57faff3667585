"""Epochs: the social graph's synchronous word that something about a user changed.

Every relation or profile change bumps the epoch of each user it involves
(``<prefix>graph:ep:<user id>``, a Redis counter) after the change is stored in CQL and
before the graph answers the call and publishes its event. A cached answer about a user
(a relation, a summary, their followed ids) is stored with the epoch it was read at, and a
reader checks it against the current epoch in the same Redis round trip as the cached
answer itself: so a read made after a change returned never sees what was cached before
it (read-your-writes, and blocks apply at once), while the change's event keeps the
caches current ahead of reads. A missing counter reads as 0.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.runtime.cache import KeySpace

log = logging.getLogger(__name__)

EPOCH_TTL_SECONDS = 90 * 86400  # a user without changes that long reads 0 again (safe:
#                                 every cached answer then mismatches and is refilled)


class Epochs:
    def __init__(self, redis: Redis, graph_keys: KeySpace) -> None:
        self._redis = redis
        self._keys = graph_keys

    def key(self, user_id: str) -> str:
        return self._keys.key("ep", user_id)

    @property
    def prefix(self) -> str:
        return self._keys.key("ep", "")

    async def bump(self, *user_ids: str) -> None:
        """After a change involving `user_ids` is stored (the graph service only). A failed
        bump is logged: the change's event still reaches every cache."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id in dict.fromkeys(user_ids):
                    pipe.incr(self.key(user_id))
                    pipe.expire(self.key(user_id), EPOCH_TTL_SECONDS)
                await pipe.execute()
        except RedisError as exc:
            log.warning("epochs: could not bump %s (their events still apply): %r",
                        user_ids, exc)

    async def read(self, *user_ids: str) -> dict[str, bytes]:
        values = await self._redis.mget([self.key(u) for u in user_ids])
        return {u: v or b"0" for u, v in zip(user_ids, values, strict=True)}
