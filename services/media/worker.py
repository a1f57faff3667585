"""The transcoding worker: ``python -m services.media.worker`` (scale by running more).

Two durable consumers feed it: MinIO's bucket events (a fixed stream shared by every
bucket of the MinIO server; this deployment's consumer is named after its stream prefix and
skips other buckets) turn arrivals into MediaUploadedEvents, and those (this deployment's
``media`` stream) are transcoded, `worker_concurrency` at a time.
"""

from __future__ import annotations

from photomesh.media.v1 import events_pb2

from services.media.events import DOMAIN, UPLOADED, BucketEvent, decode_bucket_event
from services.media.processing import ImagePool, Transcoder
from services.media.settings import MediaWorkerSettings
from services.media.wiring import assemble
from services.runtime.app import Built, Needs, main, worker_definition
from services.runtime.backends import Backends
from services.runtime.events import Consumer


async def build(settings: MediaWorkerSettings, backends: Backends) -> Built:
    parts = await assemble(settings, backends)
    bus = backends.events
    assert bus is not None
    pool = ImagePool(settings.worker_concurrency, settings.worker_memory_limit_mb)
    transcoder = Transcoder(parts.store, parts.objects, parts.events, parts.library, settings,
                            pool, bus.settings.max_deliver)
    arrivals = Consumer[BucketEvent](
        bus, domain="minio", durable=f"{bus.settings.stream_prefix}_media_uploads",
        events=(), message_type=BucketEvent,  # type: ignore[type-var]
        handler=transcoder.on_bucket_event,
        stream=settings.minio_events_stream, subjects=[settings.minio_events_subject],
        decode=decode_bucket_event,
        inactive_threshold_seconds=settings.minio_consumer_idle_seconds)
    transcoders = [Consumer(bus, domain=DOMAIN, durable="media_transcoder", events=[UPLOADED],
                            message_type=events_pb2.MediaUploadedEvent,
                            handler=transcoder.on_uploaded, batch=1)
                   for _ in range(settings.worker_concurrency)]

    async def stop() -> None:
        pool.close()

    return Built(worker_definition("media_worker"),
                 background=[arrivals.run(), *(c.run() for c in transcoders)],
                 on_stop=[stop])


if __name__ == "__main__":
    main("media_worker", MediaWorkerSettings, Needs(cql=True, nats=True, minio=True), build)
