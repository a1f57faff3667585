"""Run the media service: ``python -m services.media``."""

from __future__ import annotations

from photomesh.media.v1 import media_service_pb2 as pb

from services.media.server import MediaServicer
from services.media.settings import MediaSettings
from services.media.wiring import assemble
from services.runtime.app import Built, Context, Needs, definition, main

NAME = "media"


async def build(ctx: Context[MediaSettings]) -> Built:
    parts = await assemble(ctx.settings, ctx.backends)
    return Built(definition(NAME, pb, "MediaService", MediaServicer(parts.library, parts.urls)),
                 domain=parts.library)


if __name__ == "__main__":
    main(NAME, MediaSettings, Needs(cql=True, nats=True, minio=True), build)
