"""Opening and closing the backends a service needs, from their settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.runtime.ids import SnowflakeSettings
from services.runtime.settings import (
    CqlSettings,
    MinioSettings,
    NatsSettings,
    RedisSettings,
    SettingsError,
    load,
)

if TYPE_CHECKING:
    from minio import Minio
    from redis.asyncio import Redis

    from services.runtime.cql import CqlStore
    from services.runtime.events import EventBus
    from services.runtime.ids import Snowflake
    from services.runtime.worker_ids import WorkerIdLease


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
    ids: Snowflake | None = None
    worker_id_lease: WorkerIdLease | None = None

    def background(self) -> list[Awaitable[Any]]:
        """What must run while the process serves: the renewal of a leased worker id."""
        return [self.worker_id_lease.keep()] if self.worker_id_lease is not None else []


@asynccontextmanager
async def open_backends(service: str, *, cql: bool = False, redis: bool = False,
                        nats: bool = False, minio: bool = False,
                        ids: bool = False) -> AsyncIterator[Backends]:
    """Connect what is asked for; the service's CQL schema must already be current.
    `ids`: a Snowflake id generator, with a fixed worker id or one leased from the CQL
    store (released on exit)."""
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
        if ids:
            from services.runtime.ids import Snowflake

            id_settings = load(SnowflakeSettings)
            if id_settings.worker_id != "lease":
                found.ids = Snowflake(id_settings.worker_id)
            elif found.cql is None:
                raise SettingsError(f"{service}: PHOTOMESH_SNOWFLAKE_WORKER_ID=lease needs the "
                                    f"CQL store, which this process does not use")
            else:
                from services.runtime.worker_ids import WorkerIdLease

                lease = await WorkerIdLease.claim(found.cql, id_settings.lease_ttl_seconds)
                stack.push_async_callback(lease.release)
                found.worker_id_lease, found.ids = lease, lease.snowflake
        yield found
