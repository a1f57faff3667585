"""The media objects both processes (service and worker) build from their backends."""

from __future__ import annotations

from dataclasses import dataclass

from services.media.audience import MediaAudience
from services.media.events import MediaEvents, ensure_streams
from services.media.library import MediaLibrary
from services.media.messages import PublicUrls
from services.media.objects import MediaObjects
from services.media.settings import MediaSettings
from services.media.store import MediaStore
from services.runtime.backends import Backends
from services.runtime.pending import PendingChanges


@dataclass(frozen=True)
class MediaParts:
    store: MediaStore
    objects: MediaObjects
    events: MediaEvents
    library: MediaLibrary
    urls: PublicUrls


async def assemble(settings: MediaSettings, backends: Backends,
                   audience: MediaAudience | None = None,
                   pending: PendingChanges | None = None) -> MediaParts:
    """Connect the parts; declare the streams and the bucket's policy and notification
    (idempotent, so both processes may run it at start-up). `audience` decides who sees
    others' items and `pending` records new uploads for the sweeper (the service has
    them; the worker does not)."""
    assert backends.cql and backends.events and backends.objects and backends.minio_settings
    objects = MediaObjects(backends.objects, backends.minio_settings, settings.upload_endpoint)
    await objects.configure_bucket(settings.minio_notify_arn)
    await ensure_streams(backends.events, settings)
    urls = PublicUrls(settings.public_base_url, objects.bucket)
    store = MediaStore(backends.cql)
    events = MediaEvents(backends.events, urls)
    return MediaParts(store, objects, events,
                      MediaLibrary(store, objects, events, settings, audience, pending),
                      urls)
