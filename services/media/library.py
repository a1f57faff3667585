"""Media rules: reserving uploads, noticing arrivals, reading and deleting (no gRPC here).

Arrival is noticed twice on purpose (MinIO's bucket event and the client's CompleteUpload);
`receive` is idempotent: a lightweight transaction moves the item PENDING_UPLOAD ->
PROCESSING once, and whoever sees it PROCESSING (re)publishes the same MediaUploadedEvent,
which JetStream de-duplicates and the worker processes only while the row is PROCESSING.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.media.events import MediaEvents
from services.media.model import (
    ACCEPTED_TYPES,
    FailureReason,
    Kind,
    Media,
    Status,
    upload_key,
)
from services.media.objects import MediaObjects, PresignedPut
from services.media.settings import MediaSettings
from services.media.store import MediaStore
from services.runtime.auth import is_service_caller
from services.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from services.runtime.validation import request_id_violation, require_uuid, uuid_batch


@dataclass(frozen=True)
class Reservation:
    media: Media
    upload: PresignedPut


def parse_media_id(value: str) -> str:
    return require_uuid("media_id", value, "a media id")


def _not_found(media_id: str) -> NotFound:
    return NotFound(f"media {media_id} does not exist", reason="MEDIA_NOT_FOUND",
                    metadata={"media_id": media_id})


class MediaLibrary:
    def __init__(self, store: MediaStore, objects: MediaObjects, events: MediaEvents,
                 settings: MediaSettings) -> None:
        self._store = store
        self._objects = objects
        self._events = events
        self._settings = settings

    def limit_for(self, kind: Kind) -> int:
        return (self._settings.max_image_bytes if kind is Kind.IMAGE
                else self._settings.max_video_bytes)

    # --- uploads -----------------------------------------------------------------------

    def _validate(self, request_id: str, kind_value: int, content_type: str,
                  size: int) -> tuple[Kind, str]:
        violations: list[FieldViolation] = []
        reasons: set[str] = set()
        if (bad := request_id_violation(request_id)) is not None:
            violations.append(bad)
            reasons.add("INVALID_ARGUMENT")
        kind = Kind(kind_value) if kind_value in (1, 2) else None
        if kind is None:
            violations.append(FieldViolation("kind", "must be MEDIA_KIND_IMAGE or "
                                                     "MEDIA_KIND_VIDEO"))
            reasons.add("INVALID_ARGUMENT")
        normalised = content_type.strip().lower()
        if kind is not None and normalised not in ACCEPTED_TYPES[kind]:
            violations.append(FieldViolation(
                "content_type", f"{content_type or 'empty'!s} is not accepted for "
                f"{kind.name.lower()}s; use one of {', '.join(sorted(ACCEPTED_TYPES[kind]))}"))
            reasons.add("CONTENT_TYPE_UNSUPPORTED")
        if size <= 0:
            violations.append(FieldViolation("size_bytes", "must be the exact size of the "
                                                           "upload in bytes (> 0)"))
            reasons.add("INVALID_ARGUMENT")
        elif kind is not None and size > self.limit_for(kind):
            violations.append(FieldViolation(
                "size_bytes", f"{size} bytes is over the limit of {self.limit_for(kind)} "
                              f"bytes for {kind.name.lower()}s"))
            reasons.add("MEDIA_TOO_LARGE")
        if violations:
            reason = reasons.pop() if len(reasons) == 1 else "INVALID_ARGUMENT"
            raise InvalidArgument(violations, reason=reason)
        assert kind is not None
        return kind, normalised

    async def create_upload(self, caller: str, request_id: str, kind_value: int,
                            content_type: str, size: int) -> Reservation:
        kind, content_type = self._validate(request_id, kind_value, content_type, size)
        media_id, bound_kind, bound_type, bound_size = await self._store.claim_request(
            caller, request_id, str(uuid.uuid4()), kind, content_type, size,
            self._settings.request_id_ttl_seconds)
        if (bound_kind, bound_type, bound_size) != (kind, content_type, size):
            raise AlreadyExists("this request_id was already used for a different upload",
                                reason="REQUEST_ID_REUSED", metadata={"request_id": request_id})
        ttl = self._settings.upload_url_ttl_seconds
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=ttl)
        media = await self._store.get(media_id)
        if media is None:  # first attempt (or a retry after a crash right after the claim)
            media = Media(media_id=media_id, owner_id=caller, kind=kind,
                          content_type=content_type, declared_size=size,
                          status=Status.PENDING_UPLOAD, upload_key=upload_key(media_id),
                          upload_expires_at=expires, created_at=now)
            await self._store.insert(media)
            media = await self._store.get(media_id) or media
        elif media.deleted:
            raise _not_found(media_id)
        elif not await self._store.extend_upload(media_id, expires):
            raise FailedPrecondition("the bytes of this media item were already received",
                                     reason="UPLOAD_ALREADY_RECEIVED",
                                     metadata={"media_id": media_id})
        upload = self._objects.presign_upload(media.upload_key, content_type, size, ttl)
        return Reservation(media, upload)

    async def complete_upload(self, caller: str, media_id: str) -> Media:
        media = await self._visible(caller, parse_media_id(media_id))
        self._require_owner(caller, media)
        if media.status is not Status.PENDING_UPLOAD:
            if media.status is Status.PROCESSING:
                await self._events.uploaded(media, self._objects.bucket)
            return media
        info = await self._objects.stat(media.upload_key)
        if info is None:
            if datetime.now(UTC) > media.upload_expires_at:
                raise FailedPrecondition(
                    "the upload URL expired before the bytes arrived; call CreateUpload "
                    "again with the same request_id for a fresh URL", reason="UPLOAD_EXPIRED",
                    metadata={"media_id": media.media_id})
            raise FailedPrecondition("no bytes were uploaded yet: PUT them to upload_url "
                                     "first", reason="UPLOAD_MISSING",
                                     metadata={"media_id": media.media_id})
        return await self.receive(media.media_id, info.size)

    async def receive(self, media_id: str, size: int) -> Media:
        """The upload of `media_id` is in the bucket (`size` bytes): start processing,
        once. Returns the item as it now is."""
        media = await self._store.get(media_id)
        if media is None or media.deleted:
            raise _not_found(media_id)
        if media.status is Status.PENDING_UPLOAD:
            if size > media.declared_size or size > self.limit_for(media.kind):
                await self._store.mark_failed(
                    media_id, Status.PENDING_UPLOAD, FailureReason.TOO_LARGE,
                    f"the upload is {size} bytes, more than the {media.declared_size} "
                    "bytes declared")
            else:
                await self._store.start_processing(media_id, size)
            media = await self._store.get(media_id) or media
        if media.status is Status.PROCESSING:
            await self._events.uploaded(media, self._objects.bucket)
        elif media.finished and not media.outcome_published:
            await self._events.finished(media)
            await self._store.mark_published(media_id)
        return media

    # --- reads ---------------------------------------------------------------------------

    async def _visible(self, caller: str, media_id: str) -> Media:
        """The item if `caller` may see it: the owner always, others once READY."""
        media = await self._store.get(media_id)
        if media is None or media.deleted:
            raise _not_found(media_id)
        if media.owner_id != caller and media.status is not Status.READY:
            raise _not_found(media_id)  # never reveal others' unfinished uploads
        return media

    @staticmethod
    def _require_owner(caller: str, media: Media) -> None:
        if media.owner_id != caller:
            raise PermissionDenied("this media item belongs to another user",
                                   reason="MEDIA_NOT_OWNED",
                                   metadata={"media_id": media.media_id})

    async def get(self, caller: str, media_id: str) -> Media:
        return await self._visible(caller, parse_media_id(media_id))

    async def batch_get(self, caller: str, media_ids: list[str]
                        ) -> tuple[list[Media], list[str]]:
        """Found items in request order and the ids missing. A user sees only their own
        items here (others' are reported missing); a mesh service sees every item."""
        wanted = uuid_batch("media_ids", media_ids, self._settings.batch_get_max, "a media id")
        found = await self._store.get_many(wanted) if wanted else {}
        items, missing = [], []
        for media_id in wanted:
            media = found.get(media_id)
            if media is None or media.deleted or (
                    not is_service_caller(caller) and media.owner_id != caller):
                missing.append(media_id)
            else:
                items.append(media)
        return items, missing

    # --- deletion ------------------------------------------------------------------------

    async def delete(self, caller: str, media_id: str) -> None:
        """Delete an item the caller owns and its objects; repeating it is fine."""
        media_id = parse_media_id(media_id)
        media = await self._store.get(media_id)
        if media is None or (media.owner_id != caller and
                             (media.deleted or media.status is not Status.READY)):
            raise _not_found(media_id)
        self._require_owner(caller, media)
        await self._store.mark_deleted(media_id)
        # Read again: a worker may have stored renditions just before the deletion.
        media = await self._store.get(media_id) or media
        await self._objects.delete([media.upload_key, *(v.key for v in media.variants)])
        await self._objects.delete_prefix(f"m/{media_id}/")
