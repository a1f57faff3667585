"""The media service's events on NATS: its own stream (``media.*``) and MinIO's bucket
events (one fixed stream shared by every bucket on the MinIO server)."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import api
from nats.js.errors import BadRequestError, NotFoundError
from photomesh.media.v1 import events_pb2

from services.media.messages import PublicUrls, media_ref
from services.media.model import Media
from services.media.settings import MediaSettings
from services.runtime.events import EventBus, declared

DOMAIN = "media"
UPLOADED, READY, FAILED = "uploaded", "ready", "failed"


def _now() -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    return stamp


def _event_id(kind: str, media_id: str) -> str:
    """Stable per (kind, media): a republished event is de-duplicated by JetStream and
    recognisable by consumers."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"photomesh:media:{kind}:{media_id}"))


class MediaEvents:
    def __init__(self, bus: EventBus, urls: PublicUrls) -> None:
        self._bus = bus
        self._urls = urls

    async def uploaded(self, media: Media, bucket: str) -> None:
        event_id = _event_id(UPLOADED, media.media_id)
        await self._bus.publish(DOMAIN, UPLOADED, events_pb2.MediaUploadedEvent(
            event_id=event_id, event_time=_now(), media_id=media.media_id,
            owner_user_id=media.owner_id, kind=int(media.kind),
            content_type=media.content_type, bucket=bucket, object_key=media.upload_key,
            size_bytes=media.size_bytes), msg_id=event_id)

    async def finished(self, media: Media) -> None:
        """MediaReadyEvent or MediaFailedEvent, as the item ended."""
        if media.failure_reason:
            event_id = _event_id(FAILED, media.media_id)
            await self._bus.publish(DOMAIN, FAILED, events_pb2.MediaFailedEvent(
                event_id=event_id, event_time=_now(), media_id=media.media_id,
                owner_user_id=media.owner_id, failure_reason=int(media.failure_reason),
                failure_message=media.failure_message), msg_id=event_id)
        else:
            event_id = _event_id(READY, media.media_id)
            await self._bus.publish(DOMAIN, READY, events_pb2.MediaReadyEvent(
                event_id=event_id, event_time=_now(), media=media_ref(media, self._urls),
                owner_user_id=media.owner_id), msg_id=event_id)


async def ensure_streams(bus: EventBus, settings: MediaSettings) -> None:
    """The media stream of this deployment and MinIO's shared event stream (fixed name
    and subject, as the MinIO server is configured); both idempotent."""
    await bus.ensure_stream(DOMAIN)
    config = api.StreamConfig(
        name=settings.minio_events_stream, subjects=[settings.minio_events_subject],
        storage=api.StorageType.FILE, retention=api.RetentionPolicy.LIMITS,
        num_replicas=bus.settings.replicas, max_age=86400.0, duplicate_window=120.0)

    async def declare() -> None:
        try:
            await bus.js.stream_info(config.name)
        except NotFoundError:
            try:
                await bus.js.add_stream(config)
            except BadRequestError:  # another process declared it meanwhile
                await bus.js.stream_info(config.name)

    await declared(f"stream {config.name}", declare)


@dataclass(frozen=True)
class ObjectCreated:
    """One record of a MinIO bucket event (s3:ObjectCreated:*)."""

    bucket: str
    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class BucketEvent:
    records: list[ObjectCreated]


def decode_bucket_event(data: bytes) -> BucketEvent:
    """MinIO's notification JSON; ValueError if it is not one."""
    try:
        body = json.loads(data)
        records = []
        for record in body.get("Records", []):
            if not str(record.get("eventName", "")).startswith("s3:ObjectCreated:"):
                continue
            s3 = record["s3"]
            records.append(ObjectCreated(
                bucket=s3["bucket"]["name"], key=urllib.parse.unquote(s3["object"]["key"]),
                size=int(s3["object"].get("size", 0)),
                etag=str(s3["object"].get("eTag", ""))))
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a MinIO bucket event: {exc}") from None
    return BucketEvent(records)
