"""Failed sign-ins per username, counted in Redis over a fixed window."""

from __future__ import annotations

from redis.asyncio import Redis

from services.runtime.cache import KeySpace
from services.runtime.errors import ResourceExhausted


class LoginThrottle:
    def __init__(self, redis: Redis, keys: KeySpace, limit: int, window_seconds: int) -> None:
        self._redis = redis
        self._keys = keys
        self._limit = limit
        self._window = window_seconds

    async def attempt(self, username: str) -> None:
        """Count this attempt before the password is checked (so parallel guesses are
        counted too); RESOURCE_EXHAUSTED once the window's budget is spent."""
        key = self._keys.key("login_attempts", username)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self._window, nx=True)
            pipe.ttl(key)
            attempts, _, ttl = await pipe.execute()
        if int(attempts) > self._limit:
            raise ResourceExhausted(
                "too many failed sign-ins for this account; wait and try again",
                reason="RATE_LIMITED",
                metadata={"retry_after_seconds": str(max(int(ttl), 1))})

    async def clear(self, username: str) -> None:
        await self._redis.delete(self._keys.key("login_attempts", username))
