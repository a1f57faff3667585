"""Who may see a media item besides its owner: the owner's privacy and blocks.

The one visibility rule of the mesh (services/peers/audience.py `may_see`) decides, read
from the media service's own social view (services/peers/social_view.py: kept by graph
events, read-your-writes through the graph's epochs). One exception keeps profiles whole:
an item that is the owner's current avatar is shown to everyone the owner's profile is
shown to — every user except those blocked either way (services/graph/profiles.py) — so a
private account's picture still appears beside its name. Whether an item is the avatar is
asked of the graph, as the viewer, only on that path (a private owner the viewer does not
follow).
"""

from __future__ import annotations

from services.media.model import Media
from services.peers.graph import GraphPeer
from services.peers.social_view import SocialView


class MediaAudience:
    def __init__(self, view: SocialView, graph: GraphPeer) -> None:
        self._view = view
        self._graph = graph

    async def may_see(self, viewer_id: str, media: Media) -> bool:
        owner = media.owner_id
        if viewer_id == owner:
            return True
        audience = await self._view.audience(viewer_id, [owner])
        if owner in audience.visible:
            return True
        if owner in audience.blocked or owner not in audience.summaries:
            return False
        return await self._graph.avatar_media_id(owner) == media.media_id
