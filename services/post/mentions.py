"""@mentions of captions and comments resolved to users, through the graph peer."""

from __future__ import annotations

from collections.abc import Sequence

from services.peers.graph import GraphPeer
from services.post.model import Mention


async def resolve_mentions(graph: GraphPeer, usernames: Sequence[str]) -> tuple[Mention, ...]:
    """The existing users among @`usernames` (in order), as the caller sees them; unknown
    names stay plain text."""
    if not usernames:
        return ()
    return tuple(Mention(user_id, name)
                 for user_id, name in await graph.resolve_usernames(usernames))
