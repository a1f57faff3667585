"""What a media item is, independent of gRPC and of storage (no I/O here).

The numeric values of the enums equal those of the contract (photomesh.media.v1 and
photomesh.common.v1), so the transport converts by value.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Kind(enum.IntEnum):
    IMAGE = 1
    VIDEO = 2


class Status(enum.IntEnum):
    PENDING_UPLOAD = 1
    PROCESSING = 2
    READY = 3
    FAILED = 4


class FailureReason(enum.IntEnum):
    NONE = 0
    UNSUPPORTED_FORMAT = 1
    CORRUPT = 2
    TOO_LARGE = 3
    DIMENSIONS_OUT_OF_RANGE = 4
    UPLOAD_EXPIRED = 5
    PROCESSING_ERROR = 6


class VariantName(enum.IntEnum):
    THUMBNAIL = 1
    SMALL = 2
    MEDIUM = 3
    LARGE = 4
    ORIGINAL = 5
    POSTER = 6
    VIDEO_144P = 7
    VIDEO_480P = 8
    VIDEO_1080P = 9
    HLS = 10


class Format(enum.IntEnum):
    JPEG = 1
    WEBP = 2
    PNG = 3
    MP4 = 4
    HLS = 5


CONTENT_TYPES: dict[Format, str] = {
    Format.JPEG: "image/jpeg",
    Format.WEBP: "image/webp",
    Format.PNG: "image/png",
    Format.MP4: "video/mp4",
    Format.HLS: "application/vnd.apple.mpegurl",
}

#: What CreateUpload accepts, per kind.
ACCEPTED_TYPES: dict[Kind, frozenset[str]] = {
    Kind.IMAGE: frozenset({"image/jpeg", "image/png", "image/webp"}),
    Kind.VIDEO: frozenset({"video/mp4", "video/quicktime"}),
}


class MediaFailure(Exception):
    """Processing ended for good: the upload is not acceptable media."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(reason, message)  # both in args: it crosses process boundaries
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Variant:
    """One stored rendition; `key` is its object key (URLs are made from it)."""

    name: VariantName
    format: Format
    width: int
    height: int
    key: str
    size_bytes: int


@dataclass
class Media:
    media_id: str
    owner_id: str
    kind: Kind
    content_type: str
    declared_size: int
    status: Status
    upload_key: str
    upload_expires_at: datetime
    created_at: datetime
    failure_reason: FailureReason = FailureReason.NONE
    failure_message: str = ""
    size_bytes: int = 0
    width: int = 0
    height: int = 0
    duration_ms: int | None = None
    blurhash: str = ""
    variants: list[Variant] = field(default_factory=list)
    processed_at: datetime | None = None
    deleted: bool = False
    outcome_published: bool = False

    @property
    def finished(self) -> bool:
        return self.status in (Status.READY, Status.FAILED)


@dataclass(frozen=True)
class Outcome:
    """What processing made of an upload (before it is stored on the media row)."""

    width: int
    height: int
    size_bytes: int
    variants: list[Variant]
    blurhash: str = ""
    duration_ms: int | None = None


def upload_key(media_id: str) -> str:
    """Where the client's bytes land (never public; removed after processing)."""
    return f"uploads/{media_id}"


def variants_prefix(media_id: str, version: str) -> str:
    """Renditions live under a versioned prefix, so a URL never changes meaning."""
    return f"m/{media_id}/{version}/"
