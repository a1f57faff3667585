"""Fixtures of the notification tests: the inbox in-process on the run's real CQL keyspace
and Redis (schema applied by the mesh fixture), and event publishing on its JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services.notification.cache import InboxCache
from services.notification.inbox import Inbox
from services.notification.store import InboxStore
from services.peers.mesh import Peers
from services.peers.social_view import SocialView
from services.runtime.auth import ServiceCredentials
from services.runtime.cache import KeySpace, connect_redis
from services.runtime.cql import CqlStore
from services.runtime.events import EventBus
from services.runtime.ids import Snowflake
from services.runtime.settings import CqlSettings, NatsSettings, PeerSettings, RedisSettings, load

TEST_WORKER_ID = 1000  # ids made in the test process never collide with the services'


@pytest.fixture(scope="session")
async def cql(mesh) -> AsyncIterator[CqlStore]:
    store = await CqlStore.connect(load(CqlSettings))
    await store.use_keyspace()
    yield store
    await store.close()


@pytest.fixture(scope="session")
async def redis(mesh) -> AsyncIterator[Redis]:
    client = connect_redis(load(RedisSettings))
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def keys(mesh) -> KeySpace:
    """The notification service's key space of this run."""
    return KeySpace(load(RedisSettings), "notification")


@pytest.fixture(scope="session")
def ids() -> Snowflake:
    return Snowflake(TEST_WORKER_ID)


@pytest.fixture
def make_inbox(cql, redis, keys, ids) -> Callable[..., Inbox]:
    """`make_inbox(window_seconds=3600, cap=200)`: an Inbox as a worker or the service
    builds it (several stand in for several processes)."""
    def make(window_seconds: int = 3600, cap: int = 200) -> Inbox:
        return Inbox(InboxStore(cql), InboxCache(redis, keys, cap=cap), ids, window_seconds)
    return make


@pytest.fixture
async def view(mesh, redis, keys) -> AsyncIterator[SocialView]:
    """A social view with the notification service's keys, asking the run's graph as the
    notification service."""
    credentials = ServiceCredentials.load(
        "notification", Path(mesh.env["PHOTOMESH_JWT_SERVICE_KEY_PATH"]))
    peers = Peers(PeerSettings(graph_target=mesh.target("graph")), credentials)
    yield peers.social_view(redis, load(RedisSettings), "notification")
    await peers.close()


@pytest.fixture(scope="session")
async def bus(mesh) -> AsyncIterator[EventBus]:
    events = await EventBus.connect(load(NatsSettings), "tests")
    for domain in ("graph", "post", "story"):
        await events.ensure_stream(domain)
    yield events
    await events.close()
