"""Redis (redis-py asyncio): caches, trays and counters. Keys are namespaced by a prefix
from settings so test runs and deployments never share keys by accident. While metrics are
on (services/runtime/metrics.py), every command and pipeline is timed."""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from services.runtime import metrics
from services.runtime.settings import RedisSettings


def connect_redis(settings: RedisSettings) -> Redis:
    client_class = MeteredRedis if metrics.enabled() else Redis
    return client_class.from_url(settings.url, socket_timeout=settings.socket_timeout_seconds,
                                 socket_connect_timeout=settings.socket_timeout_seconds,
                                 health_check_interval=30, decode_responses=False)


def _command_name(name: Any) -> str:
    return (name.decode() if isinstance(name, bytes) else str(name)).upper()


class MeteredRedis(Redis):
    """A Redis client that records each command's latency (and failures) by command."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        started = time.perf_counter()
        try:
            result = await super().execute_command(*args, **options)
        except Exception as exc:
            metrics.redis_observe(_command_name(args[0]), time.perf_counter() - started, exc)
            raise
        metrics.redis_observe(_command_name(args[0]), time.perf_counter() - started)
        return result

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        return MeteredPipeline(self.connection_pool, self.response_callbacks, transaction,
                               shard_hint)


class MeteredPipeline(Pipeline):
    """A pipeline timed as one round trip (``PIPELINE``, or ``MULTI`` for a transaction)."""

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        name = "MULTI" if self.is_transaction else "PIPELINE"
        started = time.perf_counter()
        try:
            result = await super().execute(raise_on_error)
        except Exception as exc:
            metrics.redis_observe(name, time.perf_counter() - started, exc)
            raise
        metrics.redis_observe(name, time.perf_counter() - started)
        return result


class KeySpace:
    """Builds namespaced Redis keys: ``KeySpace(settings, "post").key("likes", id)``."""

    def __init__(self, settings: RedisSettings, service: str) -> None:
        self._prefix = f"{settings.key_prefix}{service}:"

    def key(self, *parts: object) -> str:
        return self._prefix + ":".join(str(p) for p in parts)
