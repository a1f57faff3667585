"""Listings read from a snapshot: the first page stores the whole ordered list (ids and
scores) in Redis, later pages read slices of it by offset, so a listing whose order moves
(trending scores, top posts, the explore page) neither repeats nor skips an item. A
snapshot lives `ttl_seconds`; a page token of an expired one is PAGE_TOKEN_INVALID."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from redis.asyncio import Redis

from services.runtime.cache import KeySpace
from services.runtime.errors import FieldViolation, InvalidArgument


def expired() -> InvalidArgument:
    """The error of a page token whose snapshot is gone."""
    return InvalidArgument(FieldViolation("page_token", "the listing behind this page token "
                                                        "has expired; start again without a "
                                                        "page_token"),
                           reason="PAGE_TOKEN_INVALID")


class Snapshots:
    def __init__(self, redis: Redis, keys: KeySpace, *, ttl_seconds: int) -> None:
        self._redis = redis
        self._keys = keys
        self.ttl_seconds = ttl_seconds

    def _key(self, snapshot_id: str) -> str:
        return self._keys.key("snap", snapshot_id)

    async def save(self, entries: Sequence[tuple[str, float]]) -> str:
        """Store `entries` (member, score) in order; returns the snapshot's id."""
        snapshot_id = secrets.token_urlsafe(12)
        if entries:
            key = self._key(snapshot_id)
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.rpush(key, *(f"{m} {s!r}" for m, s in entries))
                pipe.expire(key, self.ttl_seconds)
                await pipe.execute()
        return snapshot_id

    async def slice(self, snapshot_id: str, start: int, count: int
                    ) -> list[tuple[str, float]] | None:
        """Entries [start, start + count) of a snapshot; None when it is gone."""
        key = self._key(snapshot_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(key)
            pipe.lrange(key, start, start + count - 1)
            exists, raw = await pipe.execute()
        if not exists:
            return None
        found = []
        for item in raw:
            text, _, score = item.decode().rpartition(" ")
            found.append((text, float(score)))
        return found
