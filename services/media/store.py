"""CQL storage of media items (the row is the source of truth for status)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.media.model import (
    FailureReason,
    Format,
    Kind,
    Media,
    Outcome,
    Status,
    Variant,
    VariantName,
)
from services.runtime.cql import CqlStore, Row, applied

_COLUMNS = ("media_id, owner_id, kind, content_type, declared_size, status, upload_key, "
            "upload_expires_at, created_at, failure_reason, failure_message, size_bytes, "
            "width, height, duration_ms, blurhash, variants, processed_at, deleted, "
            "outcome_published")


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


def _media(row: Row) -> Media:
    return Media(
        media_id=str(row["media_id"]), owner_id=str(row["owner_id"]), kind=Kind(row["kind"]),
        content_type=row["content_type"], declared_size=row["declared_size"],
        status=Status(row["status"]), upload_key=row["upload_key"],
        upload_expires_at=_utc(row["upload_expires_at"]),  # type: ignore[arg-type]
        created_at=_utc(row["created_at"]),  # type: ignore[arg-type]
        failure_reason=FailureReason(row["failure_reason"] or 0),
        failure_message=row["failure_message"] or "", size_bytes=row["size_bytes"] or 0,
        width=row["width"] or 0, height=row["height"] or 0, duration_ms=row["duration_ms"],
        blurhash=row["blurhash"] or "",
        variants=[Variant(VariantName(v[0]), Format(v[1]), v[2], v[3], v[4], v[5])
                  for v in row["variants"] or ()],
        processed_at=_utc(row["processed_at"]), deleted=bool(row["deleted"]),
        outcome_published=bool(row["outcome_published"]))


def _variant_tuples(variants: list[Variant]) -> list[tuple[Any, ...]]:
    return [(int(v.name), int(v.format), v.width, v.height, v.key, v.size_bytes)
            for v in variants]


class MediaStore:
    def __init__(self, cql: CqlStore) -> None:
        self._cql = cql

    async def claim_request(self, owner_id: str, request_id: str, media_id: str, kind: Kind,
                            content_type: str, declared_size: int, ttl_seconds: int
                            ) -> tuple[str, Kind, str, int]:
        """Bind (owner, request_id) to a new media id unless already bound; returns the
        binding that holds: (media_id, kind, content_type, declared_size)."""
        rows = await self._cql.execute(
            "INSERT INTO media_upload_requests (owner_id, request_id, media_id, kind, "
            "content_type, declared_size) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?",
            (uuid.UUID(owner_id), request_id, uuid.UUID(media_id), int(kind), content_type,
             declared_size, ttl_seconds))
        if applied(rows):
            return media_id, kind, content_type, declared_size
        row = rows[0]
        return str(row["media_id"]), Kind(row["kind"]), row["content_type"], row["declared_size"]

    async def insert(self, media: Media) -> None:
        """Create the row (a retry of the same CreateUpload finds it there already)."""
        await self._cql.execute(
            "INSERT INTO media_items (media_id, owner_id, kind, content_type, declared_size, "
            "status, upload_key, upload_expires_at, created_at, deleted, outcome_published) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, false, false) IF NOT EXISTS",
            (uuid.UUID(media.media_id), uuid.UUID(media.owner_id), int(media.kind),
             media.content_type, media.declared_size, int(media.status), media.upload_key,
             media.upload_expires_at, media.created_at))

    async def extend_upload(self, media_id: str, expires_at: datetime) -> bool:
        """A fresh upload URL for a retried CreateUpload; False unless still pending."""
        rows = await self._cql.execute(
            "UPDATE media_items SET upload_expires_at = ? WHERE media_id = ? "
            "IF status = ? AND deleted = false",
            (expires_at, uuid.UUID(media_id), int(Status.PENDING_UPLOAD)))
        return applied(rows)

    async def get(self, media_id: str) -> Media | None:
        rows = await self._cql.execute(
            f"SELECT {_COLUMNS} FROM media_items WHERE media_id = ?", (uuid.UUID(media_id),))
        return _media(rows[0]) if rows and rows[0]["owner_id"] is not None else None

    async def get_many(self, media_ids: list[str]) -> dict[str, Media]:
        rows = await self._cql.execute(
            f"SELECT {_COLUMNS} FROM media_items WHERE media_id IN ?",
            ([uuid.UUID(m) for m in media_ids],))
        return {str(r["media_id"]): _media(r) for r in rows if r["owner_id"] is not None}

    async def start_processing(self, media_id: str, size_bytes: int) -> bool:
        """PENDING_UPLOAD -> PROCESSING; True if this call made the transition."""
        rows = await self._cql.execute(
            "UPDATE media_items SET status = ?, size_bytes = ? WHERE media_id = ? "
            "IF status = ? AND deleted = false",
            (int(Status.PROCESSING), size_bytes, uuid.UUID(media_id),
             int(Status.PENDING_UPLOAD)))
        return applied(rows)

    async def mark_ready(self, media_id: str, outcome: Outcome) -> bool:
        """PROCESSING -> READY with the renditions; False if no longer processing."""
        rows = await self._cql.execute(
            "UPDATE media_items SET status = ?, width = ?, height = ?, size_bytes = ?, "
            "duration_ms = ?, blurhash = ?, variants = ?, processed_at = ? "
            "WHERE media_id = ? IF status = ? AND deleted = false",
            (int(Status.READY), outcome.width, outcome.height, outcome.size_bytes,
             outcome.duration_ms, outcome.blurhash, _variant_tuples(outcome.variants),
             datetime.now(UTC), uuid.UUID(media_id), int(Status.PROCESSING)))
        return applied(rows)

    async def mark_failed(self, media_id: str, from_status: Status, reason: FailureReason,
                          message: str) -> bool:
        rows = await self._cql.execute(
            "UPDATE media_items SET status = ?, failure_reason = ?, failure_message = ?, "
            "processed_at = ? WHERE media_id = ? IF status = ? AND deleted = false",
            (int(Status.FAILED), int(reason), message, datetime.now(UTC),
             uuid.UUID(media_id), int(from_status)))
        return applied(rows)

    async def mark_published(self, media_id: str) -> None:
        """The READY/FAILED event is stored in the event stream."""
        await self._cql.execute(
            "UPDATE media_items SET outcome_published = true WHERE media_id = ? "
            "IF outcome_published = false", (uuid.UUID(media_id),))

    async def mark_deleted(self, media_id: str) -> bool:
        """True if this call deleted it (False: it already was)."""
        rows = await self._cql.execute(
            "UPDATE media_items SET deleted = true WHERE media_id = ? IF deleted = false",
            (uuid.UUID(media_id),))
        return applied(rows)
