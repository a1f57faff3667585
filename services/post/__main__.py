"""Run the post service: ``python -m services.post``."""

from __future__ import annotations

from photomesh.post.v1 import post_service_pb2 as pb
from photomesh.post.v1 import post_service_pb2_grpc as pb_grpc

from services.post.server import PostServicer
from services.post.settings import PostSettings
from services.runtime.app import Built, Needs, definition, main
from services.runtime.backends import Backends


async def build(settings: PostSettings, backends: Backends) -> Built:
    assert backends.events is not None
    await backends.events.ensure_stream("post")
    return Built(definition("post", pb, pb_grpc, "PostService", PostServicer()))


if __name__ == "__main__":
    main("post", PostSettings, Needs(cql=True, redis=True, nats=True), build)
