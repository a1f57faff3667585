"""Posts as a viewer sees them, from what the discovery service owns (hydration and
rules of a listing): the indexed cards (CQL), counts (engagement.py) and the service's
social view (relations and author summaries, services/peers/social_view.py). The one
visibility rule (services/peers/audience.py) is applied to every post before it is
served; deleted posts are dropped. The caller's own likes come from likes.py (the post
service is asked only about older posts the first time).

Staleness: names and avatars follow ProfileUpdatedEvent through the social view; blocks,
unfollows and private switches apply as soon as the graph answers (epochs); counts follow
their events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

from photomesh.post.v1 import post_service_pb2 as post_pb

from services.discovery.engagement import Engagement
from services.discovery.likes import ViewerLikes
from services.discovery.store import IndexStore
from services.peers.social_view import SocialView


class Cards:
    def __init__(self, store: IndexStore, engagement: Engagement, view: SocialView,
                 likes: ViewerLikes) -> None:
        self._store = store
        self._engagement = engagement
        self._view = view
        self._likes = likes

    async def show(self, viewer_id: str, post_ids: Sequence[int], *,
                   all_terms: Collection[str] = (), public_only: bool = False,
                   exclude_authors: Collection[str] = ()) -> dict[int, post_pb.Post]:
        """The posts among `post_ids` the viewer may see (and, with `all_terms`, that hold
        every one of those terms; with `public_only`, of public accounts only)."""
        if not post_ids:
            return {}
        indexed = await self._store.posts(post_ids)
        alive = [p for p in indexed.values() if not p.deleted and p.card
                 and p.author_id not in exclude_authors
                 and all(t in p.terms for t in all_terms)]
        if not alive:
            return {}
        audience, counts, likes = await asyncio.gather(
            self._view.audience(viewer_id, (p.author_id for p in alive)),
            self._engagement.counts([p.post_id for p in alive]),
            self._likes.liked(viewer_id, [p.post_id for p in alive]))
        shown: dict[int, post_pb.Post] = {}
        for p in alive:
            if p.author_id not in audience.visible:
                continue
            if public_only and p.author_id in audience.private:
                continue
            post = post_pb.Post.FromString(p.card)
            post.author.CopyFrom(audience.summaries[p.author_id])
            n = counts[p.post_id]
            post.like_count, post.comment_count = n.likes, n.comments
            post.liked_by_caller = likes.get(p.post_id, False)
            shown[p.post_id] = post
        return shown

    async def visible(self, viewer_id: str, post_id: int) -> tuple[str, bool, tuple[str, ...]
                                                                  ] | None:
        """(author, author is public, hashtags) of a post the viewer may see; None when it
        is unknown, deleted or hidden from the viewer."""
        p = await self._store.post(post_id)
        if p is None or p.deleted:
            return None
        audience = await self._view.audience(viewer_id, [p.author_id])
        if p.author_id not in audience.visible:
            return None
        return p.author_id, p.author_id not in audience.private, p.hashtags
