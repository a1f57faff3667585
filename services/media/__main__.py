"""Run the media service: ``python -m services.media``."""

from __future__ import annotations

from photomesh.media.v1 import media_service_pb2 as pb
from photomesh.media.v1 import media_service_pb2_grpc as pb_grpc

from services.media.server import MediaServicer
from services.media.settings import MediaSettings
from services.media.wiring import assemble
from services.runtime.app import Built, Needs, definition, main
from services.runtime.backends import Backends


async def build(settings: MediaSettings, backends: Backends) -> Built:
    parts = await assemble(settings, backends)
    return Built(definition("media", pb, pb_grpc, "MediaService",
                            MediaServicer(parts.library, parts.urls)))


if __name__ == "__main__":
    main("media", MediaSettings, Needs(cql=True, nats=True, minio=True), build)
