"""Fixtures of the story tests: stubs on the mesh's story service, and a second story
process of the same mesh whose stories expire after a few seconds (expiry, archive)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from photomesh.story.v1 import story_service_pb2_grpc as pb_grpc

from infra import services as mesh_services
from infra.process import ManagedProcess
from infra.sandbox import Mesh, RunNames, free_port

SHORT_TTL_SECONDS = 3


@pytest.fixture(scope="session")
def short_ttl_story(mesh: Mesh, names: RunNames, collector) -> Iterator[str]:
    """Target of a story process with PHOTOMESH_STORY_TTL_SECONDS=3 and a fast archive job,
    on the same keyspace, streams and peers as the mesh."""
    port = free_port()
    overrides = {**names.overrides(), "PHOTOMESH_OTEL_ENDPOINT": collector.endpoint,
                 "PHOTOMESH_STORY_TTL_SECONDS": str(SHORT_TTL_SECONDS),
                 "PHOTOMESH_STORY_ARCHIVE_INTERVAL_SECONDS": "0.3",
                 "PHOTOMESH_SNOWFLAKE_WORKER_ID": "901"}
    ports = {**mesh.ports, "story": port}
    proc = ManagedProcess("svc-story-short-ttl", mesh.settings.pid_dir, mesh.settings.log_dir)
    proc.start(mesh_services.service_argv("story"),
               env=mesh_services.process_env(mesh.settings, "story", overrides, ports),
               cwd=mesh_services.REPO, marker="-m services.story")
    target = f"{mesh.settings.host}:{port}"
    try:
        # No `proc` here: ManagedProcess.pid() read between fork and exec sees pytest's
        # command line, takes the pid file for stale and removes it.
        mesh_services.wait_serving(target, None, what="short-TTL story service")
        yield target
    finally:
        proc.stop(timeout=15)


@pytest.fixture
def stories(channel_to) -> pb_grpc.StoryServiceStub:
    return pb_grpc.StoryServiceStub(channel_to("story"))
