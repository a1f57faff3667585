"""Profile pictures: which media item may be a user's avatar, and the URL profiles show.

An avatar is one of the user's own READY images — the mesh's one rule for using media
(services/peers/media.py `owned_ready`: another user's item is PERMISSION_DENIED
MEDIA_NOT_OWNED, one still uploading or processing FAILED_PRECONDITION MEDIA_NOT_READY) —
never a video (INVALID_ARGUMENT), and an unknown or deleted id is NOT_FOUND
MEDIA_NOT_FOUND. The media service is asked as the graph service, so another user's item
is told apart from a missing one.

Its URL, the small square variant (the JPEG THUMBNAIL, 150 px; the smallest variant if
an item lacks one), is resolved once, when the avatar is set, and kept in the profile row:
profiles, user summaries and ProfileUpdatedEvent carry it, so no read path asks the media
service.
Variant URLs are stable public addresses (not signed), so a kept one does not expire.
Who may fetch the item through GetMedia follows the profile (services/media/audience.py).
"""

from __future__ import annotations

from photomesh.common.v1 import media_pb2 as media_common
from photomesh.common.v1.media_pb2 import MediaRef

from services.peers.media import MediaPeer, owned_ready
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound

FIELD = "profile.avatar_media_id"


def avatar_url(ref: MediaRef) -> str:
    """The URL of the variant an avatar is shown as: the JPEG thumbnail (every client
    decodes it), else any thumbnail, else the smallest variant ("" when there is none)."""
    thumbnails = [v for v in ref.variants if v.name == media_common.VARIANT_NAME_THUMBNAIL]
    jpeg = [v for v in thumbnails if v.format == media_common.MEDIA_FORMAT_JPEG]
    chosen = jpeg or thumbnails or list(ref.variants[:1])  # variants come smallest first
    return chosen[0].url if chosen else ""


class Avatars:
    def __init__(self, media: MediaPeer) -> None:
        self._media = media

    async def url_of(self, user_id: str, media_id: str) -> str:
        """The avatar URL of `media_id` if it may be `user_id`'s avatar; raises otherwise."""
        found = await self._media.items_of_any_owner([media_id])
        refs, unknown = owned_ready(user_id, [media_id], found)
        if unknown:
            raise NotFound(f"no media item {media_id}: upload an image with CreateUpload "
                           "first", reason="MEDIA_NOT_FOUND", metadata={"media_id": media_id})
        ref = refs[0]
        url = avatar_url(ref)
        if ref.kind != media_common.MEDIA_KIND_IMAGE or not url:
            raise InvalidArgument(FieldViolation(FIELD, "must be an image (not a video)"))
        return url
