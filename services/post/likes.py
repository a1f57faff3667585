"""Likes on posts and comments (no gRPC types here).

The like row, written with ``IF NOT EXISTS`` and removed with ``IF like_id = ?``, is the
truth: a count changes only when that row changed. When a like finds its row already there
(a repeat, or the retry of a call that failed after writing it) the cached count is
dropped and recounted, so an earlier attempt that never reached Redis is not lost, and the
derived rows and the PostLikedEvent that attempt may have missed are written again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from photomesh.common.v1.page_token_pb2 import PageTokenPayload
from photomesh.common.v1.user_pb2 import UserSummary

from services.post import cache
from services.post.cache import Counter, Counters
from services.post.events import PostEvents
from services.post.liked_cache import LikedCache
from services.post.peers import Graph
from services.post.posts import Posts
from services.post.store import CommentRecord, PostStore
from services.post.validation import batch_ids, require_id
from services.runtime.auth import current_principal
from services.runtime.errors import NotFound
from services.runtime.ids import Snowflake
from services.runtime.pagination import PageTokens, page_size


@dataclass(frozen=True)
class LikerView:
    user: UserSummary
    like_time: datetime


def comment_not_found(comment_id: int) -> NotFound:
    return NotFound(f"comment {comment_id} not found", reason="COMMENT_NOT_FOUND",
                    metadata={"comment_id": str(comment_id)})


class Likes:
    def __init__(self, store: PostStore, counters: Counters, events: PostEvents, graph: Graph,
                 posts: Posts, ids: Snowflake, tokens: PageTokens, liked: LikedCache) -> None:
        self._store = store
        self._liked = liked
        self._counters = counters
        self._events = events
        self._graph = graph
        self._posts = posts
        self._ids = ids
        self._tokens = tokens

    async def _changed(self, counter: Counter, applied: bool, delta: int) -> None:
        if applied:
            await self._counters.commit({counter: delta})
        else:
            await self._counters.invalidate([counter], ending_write=True)

    async def like_post(self, post_id: int) -> int:
        viewer = current_principal().user_id
        post, _ = await self._posts.visible(post_id)
        counter = cache.likes(post_id)
        await self._liked.forget(viewer, post_id)
        await self._counters.begin([counter])
        try:
            applied, like = await self._store.insert_like(post_id, viewer, self._ids.next_id(),
                                                          datetime.now(UTC))
        except BaseException:
            await self._counters.invalidate([counter], ending_write=True)
            raise
        await self._liked.record(viewer, post_id, like.like_id)
        await self._changed(counter, applied, +1)
        await self._store.add_liker(post_id, like)
        if applied or not await self._store.liker_published(post_id, like.like_id):
            await self._events.post_liked(post, like)
            await self._store.mark_liker_published(post_id, like.like_id)
        return await self._counters.get(counter)

    async def unlike_post(self, post_id: int) -> int:
        viewer = current_principal().user_id
        post, _ = await self._posts.visible(post_id)
        counter = cache.likes(post_id)
        like = await self._store.get_like(post_id, viewer)
        if like is not None:
            await self._liked.forget(viewer, post_id)
            await self._counters.begin([counter])
            try:
                removed = await self._store.delete_like(post_id, like)
            except BaseException:
                await self._counters.invalidate([counter], ending_write=True)
                raise
            await self._liked.record(viewer, post_id, -like.like_id)
            await self._changed(counter, removed, -1)
            if removed:
                await self._events.post_unliked(post, like, datetime.now(UTC))
        return await self._counters.get(counter)

    async def list_likers(self, post_id: int, requested_size: int, token: str
                          ) -> tuple[list[LikerView], str]:
        viewer = current_principal().user_id
        size = page_size(requested_size)
        scope = f"post.ListPostLikers/{post_id}"
        cursor = self._tokens.open(token, scope=scope, viewer=viewer)
        await self._posts.visible(post_id)
        rows = await self._store.list_likers(post_id, size + 1,
                                             cursor.last_id if cursor else None)
        page, more = rows[:size], len(rows) > size
        audience = await self._graph.audience(viewer, [r.user_id for r in page])
        likers = [LikerView(audience.summaries[r.user_id], r.like_time) for r in page
                  if r.user_id in audience.summaries and r.user_id not in audience.blocked]
        next_token = self._tokens.seal(PageTokenPayload(last_id=page[-1].like_id),
                                       scope=scope, viewer=viewer) if more else ""
        return likers, next_token

    async def like_status(self, post_ids: Sequence[int]) -> list[tuple[int, bool]]:
        viewer = current_principal().user_id
        ids = batch_ids("post_ids", post_ids)
        liked = await self._liked.liked(viewer, ids)
        return [(i, i in liked) for i in ids]

    # --- comments --------------------------------------------------------------------------

    async def _comment(self, post_id: int, comment_id: int) -> CommentRecord:
        await self._posts.visible(post_id)
        require_id("comment_id", comment_id)
        comment = await self._store.get_comment(post_id, comment_id)
        if comment is None:
            raise comment_not_found(comment_id)
        return comment

    async def like_comment(self, post_id: int, comment_id: int) -> int:
        viewer = current_principal().user_id
        await self._comment(post_id, comment_id)
        counter = cache.comment_likes(comment_id)
        await self._counters.begin([counter])
        try:
            applied = await self._store.insert_comment_like(comment_id, viewer,
                                                            datetime.now(UTC))
        except BaseException:
            await self._counters.invalidate([counter], ending_write=True)
            raise
        await self._changed(counter, applied, +1)
        return await self._counters.get(counter)

    async def unlike_comment(self, post_id: int, comment_id: int) -> int:
        viewer = current_principal().user_id
        await self._comment(post_id, comment_id)
        counter = cache.comment_likes(comment_id)
        await self._counters.begin([counter])
        try:
            removed = await self._store.delete_comment_like(comment_id, viewer)
        except BaseException:
            await self._counters.invalidate([counter], ending_write=True)
            raise
        await self._changed(counter, removed, -1)
        return await self._counters.get(counter)

