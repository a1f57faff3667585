"""Redis (redis-py asyncio): caches, trays and counters. Keys are namespaced by a prefix
from settings so test runs and deployments never share keys by accident."""

from __future__ import annotations

from redis.asyncio import Redis

from services.runtime.settings import RedisSettings


def connect_redis(settings: RedisSettings) -> Redis:
    return Redis.from_url(settings.url, socket_timeout=settings.socket_timeout_seconds,
                          socket_connect_timeout=settings.socket_timeout_seconds,
                          health_check_interval=30, decode_responses=False)


class KeySpace:
    """Builds namespaced Redis keys: ``KeySpace(settings, "post").key("likes", id)``."""

    def __init__(self, settings: RedisSettings, service: str) -> None:
        self._prefix = f"{settings.key_prefix}{service}:"

    def key(self, *parts: object) -> str:
        return self._prefix + ":".join(str(p) for p in parts)
