"""Opening and closing the backends a service needs, from their settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.runtime.settings import CqlSettings, MinioSettings, NatsSettings, RedisSettings, load

if TYPE_CHECKING:
    from minio import Minio
    from redis.asyncio import Redis

    from services.runtime.cql import CqlStore
    from services.runtime.events import EventBus


@dataclass
class Backends:
    """The connected clients; a service asks only for what it uses (others stay None)."""

    cql: CqlStore | None = None
    redis: Redis | None = None
    events: EventBus | None = None
    objects: Minio | None = None
    cql_settings: CqlSettings | None = None
    redis_settings: RedisSettings | None = None
    nats_settings: NatsSettings | None = None
    minio_settings: MinioSettings | None = None


@asynccontextmanager
async def open_backends(service: str, *, cql: bool = False, redis: bool = False,
                        nats: bool = False, minio: bool = False) -> AsyncIterator[Backends]:
    """Connect what is asked for; the service's CQL schema must already be current."""
    found = Backends()
    async with AsyncExitStack() as stack:
        if cql:
            from services.runtime import migrations
            from services.runtime.cql import CqlStore

            found.cql_settings = load(CqlSettings)
            found.cql = await CqlStore.connect(found.cql_settings)
            stack.push_async_callback(found.cql.close)
            await migrations.require_current(found.cql, service)
        if redis:
            from services.runtime.cache import connect_redis

            found.redis_settings = load(RedisSettings)
            found.redis = connect_redis(found.redis_settings)
            stack.push_async_callback(found.redis.aclose)
            await found.redis.ping()
        if nats:
            from services.runtime.events import EventBus

            found.nats_settings = load(NatsSettings)
            found.events = await EventBus.connect(found.nats_settings, service)
            stack.push_async_callback(found.events.close)
        if minio:
            from services.runtime.objects import connect_minio

            found.minio_settings = load(MinioSettings)
            found.objects = await connect_minio(found.minio_settings)
        yield found
