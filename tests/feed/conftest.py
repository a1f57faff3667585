"""Feed test fixtures: the mesh's feed processes restarted with small limits (cache cap,
celebrity threshold, follower pages) so tests reach each boundary with a handful of posts,
and the timeline layer in-process on the run's CQL keyspace and Redis prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from infra import services as mesh_services
from infra.sandbox import Mesh, RunNames
from services.feed.settings import FeedSettings
from services.feed.timelines import Timelines
from services.feed.wiring import timelines_from
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


@pytest.fixture
async def timelines(feed_mesh: Mesh, feed_settings_env: dict[str, str],
                    monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Timelines]:
    """The timeline layer in this process, with the feed processes' settings."""
    for key, value in feed_settings_env.items():
        monkeypatch.setenv(key, value)
    async with open_backends("feed", cql=True, redis=True, nats=True) as backends:
        yield timelines_from(load(FeedSettings), backends, live=True)
