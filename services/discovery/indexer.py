"""The indexer: event handlers of the discovery service's worker (workers/indexer.py).

* ``post.created`` — the post's card and terms (text.py) are stored, then its rows in the
  posting lists of each hashtag and caption word (store.py); its hashtags' post counts
  move once; a public account's post joins the newest public posts and counts towards its
  hashtags' trending windows (scoring.NEW_POST).
* ``post.deleted`` — the post becomes a tombstone (reads drop it at once), its rows leave
  the posting lists, its hashtags' counts move back once, and it leaves the top, recent and
  trending lists.
* ``post.liked`` / ``unliked`` / ``comment_added`` / ``comment_deleted`` — the post's counts
  and its place among its hashtags' top posts; a public account's post also gains (or
  loses) weight in this hour's trending windows. Likes also go into the liker's likes
  (likes.py) when the liker reads.

Whether an author is public is read from the service's social view (kept current by graph
events: privacy switches, blocks). Every handler returns only when its effect is stored;
the consumer acknowledges after that, and every step is idempotent (rows keyed by post id,
counts moved once per event id), so a redelivered event changes nothing.
"""

from __future__ import annotations

import time

from photomesh.post.v1 import events_pb2 as post_events
from photomesh.post.v1 import post_service_pb2 as post_pb

from services.discovery import scoring, text
from services.discovery.engagement import Engagement, member
from services.discovery.likes import ViewerLikes
from services.discovery.model import IndexedPost
from services.discovery.store import IndexStore
from services.peers.social_view import SocialView
from services.runtime.events import Delivery
from services.runtime.ids import id_time_ms


def card_of(post: post_pb.Post) -> bytes:
    """The post without what changes or depends on the viewer."""
    card = post_pb.Post()
    card.CopyFrom(post)
    for name in ("author", "like_count", "comment_count", "liked_by_caller"):
        card.ClearField(name)
    return card.SerializeToString()


class Indexer:
    def __init__(self, store: IndexStore, engagement: Engagement, view: SocialView,
                 likes: ViewerLikes) -> None:
        self._store = store
        self._engagement = engagement
        self._view = view
        self._likes = likes

    async def _public(self, author_id: str) -> bool:
        summary = (await self._view.summaries([author_id])).get(author_id)
        return summary is not None and not summary.private

    # --- posts ----------------------------------------------------------------------------

    async def on_post_created(self, event: post_events.PostCreatedEvent, _: Delivery) -> None:
        post = event.post
        author = event.author_user_id or post.author.user_id
        tags, words = text.post_terms(post.caption, post.hashtags or event.hashtags)
        terms = [text.HASHTAG_TERM + t for t in tags] + words
        indexed = IndexedPost(event.post_id, author, tuple(tags), frozenset(terms),
                              card_of(post), False)
        if not await self._store.put_post(indexed):
            return  # deleted before its creation was indexed
        await self._store.index(event.post_id, author, terms)
        await self._engagement.count_hashtags(f"tags+:{event.event_id}", tags, +1)
        public = await self._public(author)
        if public:
            await self._engagement.add_recent(event.post_id, author, id_time_ms(event.post_id))
        await self._engagement.engage(
            f"new:{event.event_id}", event.post_id, "c", 0, tags=tags,
            trending_member=member(event.post_id, author) if public else None,
            weight=scoring.NEW_POST, post_weight=0)

    async def on_post_deleted(self, event: post_events.PostDeletedEvent, _: Delivery) -> None:
        before = await self._store.mark_deleted(event.post_id, event.author_user_id)
        if before is None or not before.terms:
            return
        await self._store.unindex(event.post_id, before.terms)
        await self._engagement.count_hashtags(f"tags-:{event.event_id}", before.hashtags, -1)
        await self._engagement.forget(event.post_id, event.author_user_id, before.hashtags)

    # --- engagement -----------------------------------------------------------------------

    async def _engage(self, event_id: str, post_id: int, author_id: str, field: str,
                      delta: int, weight: float) -> None:
        indexed = await self._store.post(post_id)
        if indexed is not None and indexed.deleted:
            return
        tags = indexed.hashtags if indexed is not None else ()
        # Only an indexed post trends: one whose creation is not indexed yet (its events
        # come on another stream) has no card to show, and would take a place on the
        # explore page that serving then drops. Its counts are kept all the same.
        public = indexed is not None and await self._public(author_id)
        await self._engagement.engage(
            event_id, post_id, field, delta, tags=tags,
            trending_member=member(post_id, author_id) if public else None,
            weight=weight * (1 if delta > 0 else -1), at=time.time())
        if indexed is not None:
            # A deletion handled while this ran has already cleared the lists this may
            # have just put the post back on: clear them again (deletion is marked first).
            now = await self._store.post(post_id)
            if now is not None and now.deleted:
                await self._engagement.forget(post_id, author_id, now.hashtags)

    async def on_post_liked(self, event: post_events.PostLikedEvent, _: Delivery) -> None:
        await self._likes.record(event.liker_user_id, event.post_id, event.like_id, True)
        await self._engage(event.event_id, event.post_id, event.post_author_user_id, "l", +1,
                           scoring.LIKE)

    async def on_post_unliked(self, event: post_events.PostUnlikedEvent, _: Delivery) -> None:
        await self._likes.record(event.liker_user_id, event.post_id, event.like_id, False)
        await self._engage(event.event_id, event.post_id, event.post_author_user_id, "l", -1,
                           scoring.LIKE)

    async def on_comment_added(self, event: post_events.CommentAddedEvent, _: Delivery
                               ) -> None:
        await self._engage(event.event_id, event.post_id, event.post_author_user_id, "c", +1,
                           scoring.COMMENT)

    async def on_comment_deleted(self, event: post_events.CommentDeletedEvent, _: Delivery
                                 ) -> None:
        await self._engage(event.event_id, event.post_id, event.post_author_user_id, "c",
                           -max(1, event.removed_comment_count), scoring.COMMENT)
