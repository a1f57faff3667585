"""Fixtures of the story tests: stubs on the mesh's story service, and a second story
process of the same mesh whose clock runs a day ahead (expiry, archive)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from photomesh.story.v1 import story_service_pb2_grpc as pb_grpc

from infra import services as mesh_services
from infra.process import ManagedProcess
from infra.sandbox import Mesh, RunNames, free_port
from services.story.settings import StorySettings

#: A story's lifetime (the mesh's story service keeps the default).
STORY_TTL_SECONDS = int(StorySettings.model_fields["ttl_seconds"].default)
#: How far ahead the `story_later` process's clock runs: past every story made now.
LATER_SECONDS = STORY_TTL_SECONDS + 600


@pytest.fixture
def story_later(mesh: Mesh, names: RunNames, collector) -> Iterator[Callable[[], str]]:
    """`story_later()` starts a story process whose clock is LATER_SECONDS ahead (with a
    fast archive job), on the same keyspace, streams and peers as the mesh, and returns its
    target: to it, every story made on the mesh's story service so far has expired. Start
    it after making the stories: its first archive pass moves the shared checkpoint past
    the buckets they expire in (stopped after the test)."""
    proc = ManagedProcess("svc-story-later", mesh.settings.pid_dir, mesh.settings.log_dir)

    def start() -> str:
        port = free_port()
        overrides = {**names.overrides(), "PHOTOMESH_OTEL_ENDPOINT": collector.endpoint,
                     "PHOTOMESH_STORY_CLOCK_OFFSET_SECONDS": str(LATER_SECONDS),
                     "PHOTOMESH_STORY_ARCHIVE_INTERVAL_SECONDS": "0.3",
                     "PHOTOMESH_SNOWFLAKE_WORKER_ID": "901"}
        proc.start(mesh_services.service_argv("story"),
                   env=mesh_services.process_env(mesh.settings, "story", overrides,
                                                 {**mesh.ports, "story": port}),
                   cwd=mesh_services.REPO, marker="-m services.story")
        target = f"{mesh.settings.host}:{port}"
        # No `proc` here: ManagedProcess.pid() read between fork and exec sees pytest's
        # command line and takes the process for gone.
        mesh_services.wait_serving(target, None, what="story service a day ahead")
        return target

    try:
        yield start
    finally:
        proc.stop(timeout=15)


@pytest.fixture
def stories(channel_to) -> pb_grpc.StoryServiceStub:
    return pb_grpc.StoryServiceStub(channel_to("story"))
