"""Session fixtures: the real backends (started once, or reused when already running),
per-run names so tests never share state, and the mesh of service processes.

Each run gets its own CQL keyspace, Redis key prefix, NATS stream/subject prefixes and MinIO
bucket; the services under test run as real processes on free ports and export their spans
to an in-test OTLP collector.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from grpc import aio

from infra import services as mesh_services
from infra import stack
from infra.backends.envoy import EnvoyBackend, private_edge
from infra.edge import EdgeSettings
from infra.sandbox import Mesh, RunNames, drop_run_state, start_mesh
from infra.settings import InfraSettings
from tests.fuzzing import Known, build_world
from tests.otlp_collector import OtlpCollector


@pytest.fixture(scope="session")
def infra_settings() -> InfraSettings:
    """The run dir's settings with its install's credentials. A run dir whose backends are
    not running yet (CI's first run) gets them made now, so the session starts its
    backends asking for them; running ones are used as they were started."""
    from infra import credentials

    return credentials.for_tests(InfraSettings())


@pytest.fixture(scope="session")
def backends(infra_settings: InfraSettings) -> Iterator[InfraSettings]:
    """The real backends: reused if running, else installed (cached) and started for the
    session and stopped after it. A missing backend fails the session, never skips."""
    from infra import credentials

    stack.install_all(infra_settings)
    started = stack.start_backends(infra_settings)
    if lacking := credentials.missing(infra_settings):
        pytest.exit(f"the backends of {infra_settings.run_dir} run without the install's "
                    f"credentials ({', '.join(lacking)}): `./photomesh up` restarts them "
                    f"with their own, data kept (README.md, Secrets)", returncode=3)
    yield infra_settings
    if started:
        stack.stop_backends(infra_settings, only=started)


@pytest.fixture(scope="session")
def names() -> RunNames:
    return RunNames()


@pytest.fixture(scope="session")
def test_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="session")
def run_env(backends: InfraSettings, names: RunNames, test_run_dir: Path) -> Iterator[dict]:
    """The PHOTOMESH_* environment of this run, also applied to the test process itself
    so in-process clients (`load(CqlSettings)` …) see the same names."""
    settings = backends.model_copy(update={"run_dir": test_run_dir})
    env = mesh_services.service_env(settings, names.overrides())
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield env
    drop_run_state(names, env)


@pytest.fixture(scope="session")
def collector() -> Iterator[OtlpCollector]:
    """A real OTLP/gRPC receiver the services export their spans to."""
    receiver = OtlpCollector()
    receiver.start()
    yield receiver
    receiver.stop()


#: Processes per service and worker of the test mesh (`./photomesh test` runs a subset of
#: the tests again with 2: infra/checks.py REPLICA_SUBSET).
REPLICAS_VARIABLE = "PHOTOMESH_TEST_REPLICAS"


@pytest.fixture(scope="session")
def edge_ports() -> tuple[int, int]:
    """The test edge's port and admin port, chosen before the mesh starts: the media URLs
    the test mesh hands out point at the test edge (which serves the run's bucket)."""
    from infra.sandbox import free_port

    return free_port(), free_port()


@pytest.fixture(scope="session")
def mesh(run_env: dict, names: RunNames, collector: OtlpCollector, test_run_dir: Path,
         backends: InfraSettings, edge_ports: tuple[int, int]) -> Iterator[Mesh]:
    """Every service as its own process (PHOTOMESH_TEST_REPLICAS processes each, default
    one) on free ports, SERVING before tests begin."""
    settings = backends.model_copy(update={"run_dir": test_run_dir})
    running = start_mesh(settings, {
        **names.overrides(), "PHOTOMESH_OTEL_ENDPOINT": collector.endpoint,
        "PHOTOMESH_OTEL_SAMPLE_RATIO": "1.0",
        # Trending lists rebuilt every second: tests see engagement without waiting.
        "PHOTOMESH_DISCOVERY_TRENDING_SNAPSHOT_SECONDS": "1",
        "PHOTOMESH_MEDIA_PUBLIC_BASE_URL": f"http://{settings.host}:{edge_ports[0]}/media"},
        replicas=int(os.environ.get(REPLICAS_VARIABLE, "1")))
    yield running
    running.stop()


#: The test edge's limits: low enough that tests/edge can reach them quickly, per user.
TEST_EDGE = {"rate_limit_requests": 30, "rate_limit_burst": 30,
             "rate_limit_interval_seconds": 60, "max_request_bytes": 64 * 1024,
             # Sign-ups of every edge test come from one address: roomy here, tested small
             # on an edge of its own (tests/edge/test_anonymous_limits.py).
             "anonymous_rate_limit_requests": 1000, "anonymous_rate_limit_burst": 1000}


@pytest.fixture(scope="session")
def edge_dead_replica() -> int:
    """A port nobody listens on, configured as a second auth replica: the edge must
    health-check it out and keep routing to the live one."""
    from infra.sandbox import free_port

    return free_port()


@pytest.fixture(scope="session")
def edge(mesh: Mesh, backends: InfraSettings, test_run_dir: Path, collector: OtlpCollector,
         edge_dead_replica: int, edge_ports: tuple[int, int]) -> Iterator[EnvoyBackend]:
    """A private Envoy edge (free ports) for the test mesh, generated from the contracts,
    starting a trace for every request (spans to the run's collector, like the services');
    `edge.endpoint()` is its URL, `edge.settings.envoy_port` its port."""
    settings = backends.model_copy(update={"run_dir": test_run_dir})
    limits = EdgeSettings(**TEST_EDGE,
                          replicas={"auth": [f"{settings.host}:{edge_dead_replica}"]},
                          otel_endpoint=collector.endpoint, trace_sample_percent=100.0)
    with private_edge(settings, mesh.env, limits, ports=edge_ports) as envoy:
        yield envoy


@pytest.fixture
async def channel_to(mesh: Mesh) -> AsyncIterator:
    """`channel_to("post")` opens a channel to a service of the mesh, balanced round-robin
    over its replicas as peers dial it (closed after the test)."""
    opened: list[aio.Channel] = []

    def open_channel(name: str) -> aio.Channel:
        channel = aio.insecure_channel(mesh.balanced_target(name),
                                       options=[("grpc.lb_policy_name", "round_robin")])
        opened.append(channel)
        return channel

    yield open_channel
    for channel in opened:
        await channel.close()


@pytest.fixture(scope="session")
async def fuzz_world(mesh: Mesh) -> Known:
    """Users, a post, a comment, a story, media and notifications the fuzz tests' requests
    refer to (tests/fuzzing.py), made once."""
    return await build_world(mesh)


@pytest.fixture(scope="session")
def fuzz_callers(fuzz_world: Known, mesh: Mesh) -> list[tuple[tuple[str, str], ...]]:
    """Who the fuzzed calls come from: two users, nobody, and a mesh service."""
    from tests.graph_support import service_metadata

    a, b, _ = fuzz_world.users
    return [a.md, a.md, b.md, (), service_metadata(mesh, "feed")]
