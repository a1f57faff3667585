"""The media service as its peers see it: items by id, with the one "the caller's own and
READY" rule that posts, stories and avatars apply before they use an item."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from photomesh.common.v1.media_pb2 import MediaRef
from photomesh.media.v1 import media_service_pb2 as media_pb

from services.runtime.auth import ServiceCredentials
from services.runtime.errors import FailedPrecondition, PermissionDenied


@dataclass(frozen=True)
class MediaItem:
    owner_user_id: str
    ready: bool
    ref: MediaRef


def _ref(item: media_pb.Media) -> MediaRef:
    ref = MediaRef(media_id=item.media_id, kind=item.kind, width=item.width,
                   height=item.height, blurhash=item.blurhash, variants=item.variants)
    if item.HasField("duration"):
        ref.duration.CopyFrom(item.duration)
    return ref


class MediaPeer:
    def __init__(self, stub: object, credentials: ServiceCredentials | None = None) -> None:
        self._stub = stub
        self._credentials = credentials

    async def items(self, media_ids: Sequence[str]) -> dict[str, MediaItem]:
        """The items that exist among `media_ids`, as the caller (forwarded) may see them
        (a user: only their own)."""
        reply = await self._stub.BatchGetMedia(  # type: ignore[attr-defined]
            media_pb.BatchGetMediaRequest(media_ids=list(dict.fromkeys(media_ids))))
        return {item.media_id: MediaItem(item.owner_user_id,
                                         item.status == media_pb.MEDIA_STATUS_READY, _ref(item))
                for item in reply.media}

    async def items_of_any_owner(self, media_ids: Sequence[str]) -> dict[str, MediaItem]:
        """The items that exist among `media_ids`, whoever owns them, asked as this service:
        so `owned_ready` can tell another user's item (MEDIA_NOT_OWNED) from a missing one.
        Only for checks that then apply `owned_ready`; never shown as they are."""
        if self._credentials is None:
            raise RuntimeError("MediaPeer.items_of_any_owner needs the process's credentials")
        with self._credentials.acting():
            return await self.items(media_ids)


def owned_ready(owner_id: str, media_ids: Sequence[str], found: dict[str, MediaItem]
                ) -> tuple[list[MediaRef], list[str]]:
    """The rule for using media in a post, story or avatar: of `media_ids` (as
    `MediaPeer.items` found them), the refs in order, each checked to be `owner_id`'s (else
    PERMISSION_DENIED MEDIA_NOT_OWNED) and READY (else FAILED_PRECONDITION MEDIA_NOT_READY);
    and the ids not found (the caller reports those as its contract says)."""
    for media_id in media_ids:
        item = found.get(media_id)
        if item is None:
            continue
        if item.owner_user_id != owner_id:
            raise PermissionDenied(f"media item {media_id} belongs to another user",
                                   reason="MEDIA_NOT_OWNED", metadata={"media_id": media_id})
        if not item.ready:
            raise FailedPrecondition(
                f"media item {media_id} is not READY yet; poll GetMedia and retry",
                reason="MEDIA_NOT_READY", metadata={"media_id": media_id})
    return ([found[m].ref for m in media_ids if m in found],
            [m for m in media_ids if m not in found])
