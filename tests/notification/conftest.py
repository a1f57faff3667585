"""Fixtures of the notification tests: the inbox in-process on the run's real CQL keyspace
and Redis (schema applied by the mesh fixture), and event publishing on its JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.notification.cache import NotificationCache
from services.notification.inbox import Inbox
from services.notification.store import InboxStore
from services.runtime.cache import KeySpace, connect_redis
from services.runtime.cql import CqlStore
from services.runtime.events import EventBus
from services.runtime.ids import Snowflake
from services.runtime.settings import CqlSettings, NatsSettings, RedisSettings, load

TEST_WORKER_ID = 1000  # ids made in the test process never collide with the services'


@pytest.fixture(scope="session")
async def cql(mesh) -> AsyncIterator[CqlStore]:
    store = await CqlStore.connect(load(CqlSettings))
    await store.use_keyspace()
    yield store
    await store.close()


@pytest.fixture(scope="session")
async def notification_cache(mesh) -> AsyncIterator[NotificationCache]:
    settings = load(RedisSettings)
    redis = connect_redis(settings)
    yield NotificationCache(redis, KeySpace(settings, "notification"))
    await redis.aclose()


@pytest.fixture(scope="session")
def ids() -> Snowflake:
    return Snowflake(TEST_WORKER_ID)


@pytest.fixture
def make_inbox(cql, notification_cache, ids):
    def make(window_seconds: int = 3600) -> Inbox:
        return Inbox(InboxStore(cql), notification_cache, ids, window_seconds)
    return make


@pytest.fixture(scope="session")
async def bus(mesh) -> AsyncIterator[EventBus]:
    events = await EventBus.connect(load(NatsSettings), "tests")
    for domain in ("graph", "post", "story"):
        await events.ensure_stream(domain)
    yield events
    await events.close()
