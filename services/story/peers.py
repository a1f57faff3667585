"""The story service's call to media (the item a story shows), with the caller's own
token, as the caller attaches it. The social graph is read through the story service's
social view (services/peers/social_view.py: followees, relations and summaries kept by
graph events)."""

from __future__ import annotations

from grpc import aio
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc


class MediaPeer:
    def __init__(self, channel: aio.Channel) -> None:
        self._stub = media_grpc.MediaServiceStub(channel)

    async def get(self, media_id: str) -> media_pb.Media | None:
        """The media item (with the caller's token), or None if it does not exist."""
        reply = await self._stub.BatchGetMedia(media_pb.BatchGetMediaRequest(
            media_ids=[media_id]))
        return next((m for m in reply.media if m.media_id == media_id), None)
