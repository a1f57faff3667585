"""Feed test fixtures: the mesh's feed processes restarted with small limits (cache cap,
celebrity threshold, follower pages) so tests reach each boundary with a handful of posts,
and the timeline layer in-process on the run's CQL keyspace and Redis prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from infra import services as mesh_services
from infra.sandbox import Mesh, RunNames
from services.feed.cache import TimelineCache
from services.feed.settings import FeedSettings
from services.feed.store import TimelineStore
from services.feed.timelines import Timelines
from services.feed.wiring import timeline_layers, timelines_from
from services.runtime.backends import open_backends
from services.runtime.settings import load
from tests.otlp_collector import OtlpCollector

#: PHOTOMESH_FEED_* settings of the feed service and its worker during feed tests.
FEED_TEST_SETTINGS = {
    "CACHE_CAP": "8",
    "CELEBRITY_THRESHOLD": "4",
    "FOLLOWER_PAGE_SIZE": "2",
    "FANOUT_INLINE_BATCHES": "1",  # the second page of followers goes through a task
    "BACKFILL_POSTS": "5",
    "AUTHOR_CACHE_CAP": "10",
    "TIMELINE_MAX_ITEMS": "40",
}
FEED_PROCESSES = ["feed", "feed_fanout"]


@pytest.fixture(scope="session")
def feed_settings_env() -> dict[str, str]:
    return {f"PHOTOMESH_FEED_{k}": v for k, v in FEED_TEST_SETTINGS.items()}


@pytest.fixture(scope="session")
def feed_mesh(mesh: Mesh, names: RunNames, collector: OtlpCollector,
              feed_settings_env: dict[str, str]) -> Iterator[Mesh]:
    """The mesh, with its feed service and fan-out worker restarted on the same ports
    with FEED_TEST_SETTINGS."""
    mesh_services.stop_services(mesh.settings, FEED_PROCESSES)
    mesh_services.start_services(
        mesh.settings, FEED_PROCESSES, layout=mesh.layout,
        overrides={**names.overrides(), "PHOTOMESH_OTEL_ENDPOINT": collector.endpoint,
                   **feed_settings_env})
    yield mesh


@dataclass
class TimelineLayers:
    """The timeline layer in this process, and the CQL store and Redis cache under it (each
    checked on its own); `timelines.deliver(...)` etc. go to the layer."""

    timelines: Timelines
    store: TimelineStore
    cache: TimelineCache

    def __getattr__(self, name: str) -> object:
        return getattr(self.timelines, name)


@pytest.fixture
async def timelines(feed_mesh: Mesh, feed_settings_env: dict[str, str],
                    monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TimelineLayers]:
    """The timeline layer in this process, with the feed processes' settings."""
    for key, value in feed_settings_env.items():
        monkeypatch.setenv(key, value)
    async with open_backends("feed", cql=True, redis=True, nats=True) as backends:
        settings = load(FeedSettings)
        store, cache = timeline_layers(settings, backends)
        yield TimelineLayers(timelines_from(settings, backends, live=True), store, cache)
