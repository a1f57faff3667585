"""What the post service asks its peers: the social graph (who may see whom, user
summaries, @username lookups) and the media service (is a media item the author's and
READY). Calls for the caller forward its token and deadline (services.runtime.grpc_clients);
what the social view caches is read as the post service itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grpc import aio
from photomesh.common.v1.media_pb2 import MediaRef
from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc

from services.peers.audience import Audience
from services.peers.social_view import SocialView
from services.post.store import Mention

PEER_TIMEOUT_SECONDS = 5.0

__all__ = ["Audience", "Graph", "Media", "MediaItem"]


@dataclass(frozen=True)
class MediaItem:
    owner_user_id: str
    ready: bool
    ref: MediaRef


class Graph:
    """The social graph as the post service reads it: visibility and summaries from its
    event-kept social view (no peer call when warm), @mentions from the graph itself."""

    def __init__(self, view: SocialView) -> None:
        self._view = view

    async def summaries(self, user_ids: Sequence[str]) -> dict[str, UserSummary]:
        return await self._view.summaries(user_ids)

    async def audience(self, viewer_id: str, author_ids: Sequence[str]) -> Audience:
        return await self._view.audience(viewer_id, author_ids)

    async def resolve_usernames(self, usernames: Sequence[str]) -> tuple[Mention, ...]:
        """The existing users among `usernames` (in order); unknown names stay plain text."""
        if not usernames:
            return ()
        found = await self._view.graph.resolve_usernames(usernames)
        return tuple(Mention(user_id, name) for user_id, name in found)


class Media:
    def __init__(self, channel: aio.Channel) -> None:
        self._stub = media_grpc.MediaServiceStub(channel)

    async def get(self, media_ids: Sequence[str]) -> dict[str, MediaItem]:
        """The items that exist among `media_ids` (missing ones are absent)."""
        reply = await self._stub.BatchGetMedia(
            media_pb.BatchGetMediaRequest(media_ids=list(dict.fromkeys(media_ids))),
            timeout=PEER_TIMEOUT_SECONDS)
        found = {}
        for item in reply.media:
            ref = MediaRef(media_id=item.media_id, kind=item.kind, width=item.width,
                           height=item.height, blurhash=item.blurhash, variants=item.variants)
            if item.HasField("duration"):
                ref.duration.CopyFrom(item.duration)
            found[item.media_id] = MediaItem(item.owner_user_id,
                                             item.status == media_pb.MEDIA_STATUS_READY, ref)
        return found
