"""Signed-out sessions, as every service can see them.

An access token names its sign-in session (``sid``: the refresh-token family). When the
family is revoked (log-out, or a replayed refresh token) the auth service marks the session
here, in Redis, for as long as any access token of it may still be valid; services holding
a long-lived call of it (server streams) end the call when they see the mark.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from services.runtime.cache import KeySpace
from services.runtime.settings import RedisSettings


class SessionRevocations:
    def __init__(self, redis: Redis, settings: RedisSettings) -> None:
        self._redis = redis
        self._keys = KeySpace(settings, "auth")

    def key(self, session_id: str) -> str:
        return self._keys.key("revoked_session", session_id)

    async def revoke(self, session_id: str, ttl_seconds: int) -> None:
        await self._redis.set(self.key(session_id), b"1", ex=max(1, ttl_seconds))

    async def revoked(self, session_ids: Iterable[str]) -> set[str]:
        """Which of `session_ids` are signed out (one round trip)."""
        ids = [s for s in dict.fromkeys(session_ids) if s]
        if not ids:
            return set()
        marks = await self._redis.mget([self.key(s) for s in ids])
        return {s for s, mark in zip(ids, marks, strict=True) if mark is not None}
