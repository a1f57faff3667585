"""Who may see a media item besides its owner: the owner's privacy and blocks.

The one visibility rule of the mesh (services/peers/audience.py `may_see`) decides, read
from the media service's own social view (kept by graph events, read-your-writes through
the graph's epochs). One exception keeps profiles whole: an item that is the owner's
current avatar is shown to everyone the owner's profile is shown to — every user except
those blocked either way (services/graph/profiles.py) — so a private account's picture
still appears beside its name. Whether an item is the avatar is asked of the graph, as the
viewer, only on that path (a private owner the viewer does not follow).
"""

from __future__ import annotations

import grpc
from grpc import aio
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as graph_grpc

from services.media.model import Media
from services.peers.social_view import SocialView

TIMEOUT_SECONDS = 5.0


class MediaAudience:
    def __init__(self, view: SocialView, graph_channel: aio.Channel) -> None:
        self._view = view
        self._profiles = graph_grpc.SocialGraphServiceStub(graph_channel)

    async def may_see(self, viewer_id: str, media: Media) -> bool:
        owner = media.owner_id
        if viewer_id == owner:
            return True
        audience = await self._view.audience(viewer_id, [owner])
        if owner in audience.visible:
            return True
        if owner in audience.blocked or owner not in audience.summaries:
            return False
        return await self._is_avatar(owner, media.media_id)

    async def _is_avatar(self, owner: str, media_id: str) -> bool:
        """The owner's profile, as the caller sees it (their token is forwarded), names
        this item as its avatar."""
        try:
            reply = await self._profiles.GetProfile(graph_pb.GetProfileRequest(user_id=owner),
                                                    timeout=TIMEOUT_SECONDS)
        except aio.AioRpcError as err:
            if err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED):
                return False
            raise
        return reply.profile.avatar_media_id == media_id
