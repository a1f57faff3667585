"""Domain media items as contract messages (photomesh.media.v1 / photomesh.common.v1)."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration
from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.media.v1 import media_service_pb2 as pb

from services.media.model import Media, Status, Variant
from services.runtime.clock import timestamp_from_datetime


class PublicUrls:
    """Variant URLs: ``<base>/<bucket>/<key>`` (the edge proxies them to MinIO)."""

    def __init__(self, base_url: str, bucket: str) -> None:
        self._prefix = f"{base_url.rstrip('/')}/{bucket}/"

    def url(self, key: str) -> str:
        return self._prefix + key


def variant_pb(variant: Variant, urls: PublicUrls) -> common_pb.MediaVariant:
    return common_pb.MediaVariant(name=int(variant.name), format=int(variant.format),
                                  width=variant.width, height=variant.height,
                                  url=urls.url(variant.key), size_bytes=variant.size_bytes)


def _duration(media: Media) -> Duration | None:
    if media.duration_ms is None:
        return None
    duration = Duration()
    duration.FromMilliseconds(media.duration_ms)
    return duration


def media_pb(media: Media, urls: PublicUrls) -> pb.Media:
    message = pb.Media(
        media_id=media.media_id, owner_user_id=media.owner_id, kind=int(media.kind),
        status=int(media.status), failure_reason=int(media.failure_reason),
        failure_message=media.failure_message, content_type=media.content_type,
        size_bytes=media.size_bytes or media.declared_size, create_time=timestamp_from_datetime(
            media.created_at))
    if media.status is Status.READY:
        message.width, message.height, message.blurhash = media.width, media.height, \
            media.blurhash
        message.variants.extend(variant_pb(v, urls) for v in _ordered(media.variants))
        if (duration := _duration(media)) is not None:
            message.duration.CopyFrom(duration)
    if media.processed_at is not None:
        message.process_time.CopyFrom(timestamp_from_datetime(media.processed_at))
    return message


def media_ref(media: Media, urls: PublicUrls) -> common_pb.MediaRef:
    ref = common_pb.MediaRef(media_id=media.media_id, kind=int(media.kind), width=media.width,
                             height=media.height, blurhash=media.blurhash,
                             variants=[variant_pb(v, urls) for v in _ordered(media.variants)])
    if (duration := _duration(media)) is not None:
        ref.duration.CopyFrom(duration)
    return ref


def _ordered(variants: list[Variant]) -> list[Variant]:
    """Smallest first (by pixels), then by name and format for a stable order."""
    return sorted(variants, key=lambda v: (v.width * v.height, v.name, v.format))
