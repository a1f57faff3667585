"""What the post service caches in Redis: the names of its counters (kept by counters.py
and like_sets.py) and the bodies of published posts (`PostBodies`)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from photomesh.common.v1.media_pb2 import MediaRef
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.post.model import Mention, PostRecord
from services.post.store.posts import PostRows
from services.runtime import metrics
from services.runtime.cache import KeySpace
from services.runtime.clock import ms_to_datetime

log = logging.getLogger(__name__)


# --- counters ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Counter:
    """One count: `kind` (likes, comments, replies, posts, comment_likes) and its subject."""

    kind: str
    subject: str


LIKE_KINDS = frozenset({"likes", "comment_likes"})


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
        create_time=ms_to_datetime(body["t"]), published=True)


class PostBodies:
    """Published, live post rows cached in Redis (a post never changes after it is
    published, except by its deletion), read with one MGET and filled from CQL on a miss.

    A delete first writes a tombstone (`forget`), which a fill never overwrites (SET NX), so
    a fill racing with the delete cannot bring the post back; the tombstone sends readers
    to CQL, whose row is the truth. When Redis fails, reads go to CQL; a delete fails before
    it changes anything (it could not stop readers seeing the cached body)."""

    def __init__(self, redis: Redis, keys: KeySpace, store: PostRows,
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
        metrics.cache_lookups("post_bodies", len(found), len(missing))
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
