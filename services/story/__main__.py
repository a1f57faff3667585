"""Run the story service: ``python -m services.story``."""

from __future__ import annotations

from photomesh.story.v1 import story_service_pb2 as pb
from photomesh.story.v1 import story_service_pb2_grpc as pb_grpc

from services.runtime.app import Built, Needs, definition, main
from services.runtime.backends import Backends
from services.story.server import StoryServicer
from services.story.settings import StorySettings


async def build(settings: StorySettings, backends: Backends) -> Built:
    assert backends.events is not None
    await backends.events.ensure_stream("story")
    return Built(definition("story", pb, pb_grpc, "StoryService", StoryServicer()))


if __name__ == "__main__":
    main("story", StorySettings, Needs(cql=True, redis=True, nats=True), build)
