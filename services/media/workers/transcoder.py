"""The media transcoding worker: ``python -m services.media.workers.transcoder`` (process
``media_worker``; scale by running more).

Two durable consumers feed it: MinIO's bucket events (a fixed stream shared by every
bucket of the MinIO server; this deployment's consumer is named after its stream prefix and
skips other buckets) turn arrivals into MediaUploadedEvents, and those (this deployment's
``media`` stream) are transcoded, `worker_concurrency` at a time.
"""

from __future__ import annotations

from photomesh.media.v1 import events_pb2

from services.media.events import DOMAIN, UPLOADED, BucketEvent, decode_bucket_event
from services.media.processing import ImagePool, Transcoder
from services.media.settings import MediaSettings
from services.media.wiring import assemble
from services.runtime.app import Built, Context, Needs, main, worker_definition
from services.runtime.events import Consumer, EventBus

NAME = "media_worker"


def consumers(transcoder: Transcoder, bus: EventBus, settings: MediaSettings
              ) -> list[Consumer]:
    """The worker's durable consumers: bucket events in, `worker_concurrency` transcoders."""
    arrivals = Consumer[BucketEvent](
        bus, domain="minio", durable=f"{bus.settings.stream_prefix}_media_uploads",
        events=(), message_type=BucketEvent,  # type: ignore[type-var]
        handler=transcoder.on_bucket_event,
        stream=settings.minio_events_stream, subjects=[settings.minio_events_subject],
        decode=decode_bucket_event,
        inactive_threshold_seconds=settings.minio_consumer_idle_seconds)
    return [arrivals, *(Consumer(bus, domain=DOMAIN, durable="media_transcoder",
                                 events=[UPLOADED], message_type=events_pb2.MediaUploadedEvent,
                                 handler=transcoder.on_uploaded, batch=1)
                        for _ in range(settings.worker_concurrency))]


async def build(ctx: Context[MediaSettings]) -> Built:
    settings, bus = ctx.settings, ctx.backends.events
    assert bus is not None
    parts = await assemble(settings, ctx.backends)
    pool = ImagePool(settings.worker_concurrency, settings.worker_memory_limit_mb)
    transcoder = Transcoder(parts.store, parts.objects, parts.events, parts.library, settings,
                            pool, bus.settings.max_deliver)

    async def stop() -> None:
        pool.close()

    return Built(worker_definition(NAME),
                 background=[c.run() for c in consumers(transcoder, bus, settings)],
                 on_stop=[stop])


if __name__ == "__main__":
    main(NAME, MediaSettings, Needs(cql=True, nats=True, minio=True), build)
