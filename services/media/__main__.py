"""Run the media service: ``python -m services.media``."""

from __future__ import annotations

from photomesh.media.v1 import media_service_pb2 as pb

from services.media.audience import MediaAudience
from services.media.library import UPLOAD
from services.media.server import MediaServicer
from services.media.settings import MediaSettings
from services.media.upload_key import ensure_upload_key
from services.media.wiring import assemble
from services.runtime.app import Built, Context, Needs, definition, main
from services.runtime.pending import PendingChanges, Sweeper, SweepTiming

NAME = "media"


async def build(ctx: Context[MediaSettings]) -> Built:
    settings, backends = ctx.settings, ctx.backends
    assert backends.cql and backends.redis and backends.redis_settings and backends.events
    assert backends.minio_settings
    await ensure_upload_key(backends.minio_settings)  # the key upload URLs are signed with
    await backends.events.ensure_stream("graph")
    view = ctx.peers.social_view(backends.redis, backends.redis_settings, NAME,
                                 ttl_seconds=settings.social_view_ttl_seconds)
    pending = PendingChanges(backends.cql, NAME, SweepTiming(
        slot_seconds=settings.upload_sweep_slot_seconds,
        grace_seconds=settings.upload_sweep_slot_seconds,
        sweep_seconds=settings.upload_sweep_seconds))
    parts = await assemble(settings, backends, MediaAudience(view, ctx.peers.graph), pending)
    # Uploads whose bytes never arrive end FAILED (UPLOAD_EXPIRED); outcomes nobody
    # announced are published (services/media/library.py `settle`).
    sweeper = Sweeper(pending, {UPLOAD: parts.library.settle})
    return Built(definition(NAME, pb, "MediaService", MediaServicer(parts.library, parts.urls)),
                 background=[sweeper.run(),
                             *(c.run() for c in view.consumers(backends.events, NAME))],
                 domain=parts.library)


if __name__ == "__main__":
    main(NAME, MediaSettings, Needs(cql=True, redis=True, nats=True, minio=True), build)
