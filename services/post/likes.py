"""Likes on posts and comments (no gRPC types here).

The like row in CQL, one per (post, user), is the truth; the set of likers in Redis
(like_sets.py) says whether a like is new, so the count changes exactly when the set
does, and a repeated like or unlike changes nothing cached. One user's concurrent calls on
one post are ordered by a lock in Redis instead of a lightweight transaction.

LikePost, under the lock: read the row; if there is none, write it with its derived rows
(likers list, the user's liked set); publish PostLikedEvent (message id from the like's
id); enter the like in the set (the count moves) and release the lock; mark the row
published. A retry after a failure anywhere finds the row and finishes what is missing,
with the same like id, so the like is counted once and its event goes out once.

UnlikePost, under the lock: take the user out of the set (the count moves); mark the row
unliked and drop its derived rows; publish PostUnlikedEvent; delete the row. A retry finds
the marked row and finishes. A like that finds a marked row finishes that unlike first.

When Redis cannot be reached, nothing can order a user's calls: the like row is then
claimed with a lightweight transaction (the one place one is kept, for outages), and the
count is recounted in CQL until Redis is back (counters.py).

A like or unlike that changes something is recorded as pending while it runs (services/
runtime/pending.py, kind ``post.like``, subject ``<post>:<user>``): if it is abandoned
half-way (the process killed, NATS away and the client gone), the service's sweeper
finishes it from the row's state under the same lock (`finish`), so its event goes out,
once (the same event id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from photomesh.common.v1.page_token_pb2 import PageTokenPayload
from photomesh.common.v1.user_pb2 import UserSummary

from services.peers.social_view import SocialView
from services.post import cache
from services.post.counters import Counters
from services.post.events import PostEvents
from services.post.like_sets import UNPUBLISHED, Hold, LikeSets
from services.post.liked_cache import LikedCache
from services.post.model import CommentRecord, LikeRow, LikeState, PostRecord
from services.post.posts import MAX_BATCH, Posts
from services.post.store.comments import CommentRows
from services.post.store.likes import LikeRows
from services.runtime.errors import NotFound
from services.runtime.ids import Snowflake
from services.runtime.pagination import PageTokens, page_size
from services.runtime.pending import PendingChanges
from services.runtime.validation import id_batch, require_id

LIKE = "post.like"  # the pending kind of a like or unlike (subject: <post>:<user>)
RETRY_SECONDS = 10.0  # a finisher that cannot take the user's lock looks again after this


@dataclass(frozen=True)
class LikerView:
    user: UserSummary
    like_time: datetime


def comment_not_found(comment_id: int) -> NotFound:
    return NotFound(f"comment {comment_id} not found", reason="COMMENT_NOT_FOUND",
                    metadata={"comment_id": str(comment_id)})


class Likes:
    def __init__(self, store: LikeRows, comments: CommentRows, counters: Counters,
                 like_sets: LikeSets, events: PostEvents, view: SocialView, posts: Posts,
                 ids: Snowflake, tokens: PageTokens, liked: LikedCache,
                 pending: PendingChanges) -> None:
        self._store = store
        self._pending = pending
        self._comments = comments
        self._liked = liked
        self._counters = counters
        self._sets = like_sets
        self._events = events
        self._view = view
        self._posts = posts
        self._ids = ids
        self._tokens = tokens

    async def _count(self, hold: Hold, count: int | None) -> int:
        return count if count is not None else await self._counters.get(hold.counter)

    # --- post likes ------------------------------------------------------------------------

    async def like_post(self, viewer: str, post_id: int) -> int:
        post, _ = await self._posts.visible(viewer, post_id)
        hold = await self._sets.acquire(cache.likes(post_id), viewer, like=True)
        if hold.done:
            return await self._count(hold, hold.count)
        try:
            async with self._pending.around(LIKE, f"{post_id}:{viewer}"):
                await self._liked.forget(viewer, post_id)
                if not hold.token:  # Redis unreachable
                    await self._like_without_lock(post, viewer)
                    return await self._counters.get(hold.counter)
                like, fresh = await self._stored_and_published(post, viewer, hold.cached)
                await self._liked.record(viewer, post_id, like.like_id)
                count = await self._sets.add(hold, str(like.like_id))
                if fresh:
                    await self._store.mark_like_published(post_id, viewer)
        except BaseException:
            await self._sets.release(hold)  # a no-op once `add` released it
            raise
        return await self._count(hold, count)

    async def _stored_and_published(self, post: PostRecord, viewer: str, cached: str | None
                                    ) -> tuple[LikeRow, bool]:
        """Under the lock: the user's like of `post`, stored and published (the row written
        now, or found and finished); True when its row must still be marked published."""
        if cached is not None and not cached.endswith(UNPUBLISHED):
            return LikeRow(int(cached), viewer, datetime.now(UTC)), False  # done before
        found = await self._store.get_like(post.post_id, viewer)
        if found is not None and found.unliked:  # an unlike stopped half-way: finish it
            await self._finish_unlike(post, found)
            found = None
        if found is None:
            like = LikeRow(self._ids.next_id(), viewer, datetime.now(UTC))
            await self._store.insert_like(post.post_id, like)
        elif found.published:
            return found.like, False
        else:  # an earlier attempt stopped before its event went out
            like = found.like
            await self._store.add_liker(post.post_id, like)
        await self._events.post_liked(post, like)
        return like, True

    async def _like_without_lock(self, post: PostRecord, viewer: str) -> None:
        like = LikeRow(self._ids.next_id(), viewer, datetime.now(UTC))
        found = await self._store.insert_like_if_absent(post.post_id, like)
        if found is not None and found.unliked:  # an unlike stopped half-way: finish it
            await self._finish_unlike(post, found)
            found = await self._store.insert_like_if_absent(post.post_id, like)
        if found is not None:
            if found.published and not found.unliked:
                return
            like = found.like
            await self._store.add_liker(post.post_id, like)
        await self._events.post_liked(post, like)
        await self._store.mark_like_published(post.post_id, viewer)

    async def unlike_post(self, viewer: str, post_id: int) -> int:
        post, _ = await self._posts.visible(viewer, post_id)
        hold = await self._sets.acquire(cache.likes(post_id), viewer, like=False)
        try:
            found = await self._store.get_like(post_id, viewer)
            if found is not None:
                async with self._pending.around(LIKE, f"{post_id}:{viewer}"):
                    await self._liked.forget(viewer, post_id)
                    await self._finish_unlike(post, found)
                    await self._liked.record(viewer, post_id, -found.like.like_id)
        finally:
            await self._sets.release(hold)
        return await self._count(hold, hold.count)

    async def finish(self, subject: str) -> float | None:
        """The sweeper's finisher of a like or unlike (`subject`: ``<post>:<user>``): under
        the user's lock, the like's row, set entry and event brought in line with where it
        got: a like whose event is not known to be out is published and entered in the set;
        a like being removed has its unlike finished; nothing else is touched."""
        post_part, user_id = subject.split(":", 1)
        post = await self._posts.record(int(post_part))
        if post is None or post.deleted:
            return None  # its likes went with it
        hold = await self._sets.acquire(cache.likes(post.post_id), user_id, like=True)
        if hold.done:  # in the set: stored and published (entered only after the event)
            found = await self._store.get_like(post.post_id, user_id)
            if found is not None and not found.published and not found.unliked:
                # the failure fell between the set and the row's mark: the mark is all
                # that is missing
                await self._store.mark_like_published(post.post_id, user_id)
            return None
        if not hold.token:  # Redis unreachable: nothing orders this user's calls now
            return RETRY_SECONDS
        try:
            found = await self._store.get_like(post.post_id, user_id)
            if found is not None and found.unliked:
                await self._liked.forget(user_id, post.post_id)
                await self._finish_unlike(post, found)
                await self._liked.record(user_id, post.post_id, -found.like.like_id)
            elif found is not None:
                if not found.published:
                    await self._store.add_liker(post.post_id, found.like)
                    await self._events.post_liked(post, found.like)
                await self._liked.record(user_id, post.post_id, found.like.like_id)
                await self._sets.add(hold, str(found.like.like_id))
                if not found.published:
                    await self._store.mark_like_published(post.post_id, user_id)
        finally:
            await self._sets.release(hold)  # a no-op once `add` released it
        return None

    async def _finish_unlike(self, post: PostRecord, found: LikeState) -> None:
        if not found.unliked:
            await self._store.mark_unliked(post.post_id, found.like)
        await self._events.post_unliked(post, found.like, datetime.now(UTC))
        await self._store.delete_like(post.post_id, found.like.user_id)

    async def list_likers(self, viewer: str, post_id: int, requested_size: int, token: str
                          ) -> tuple[list[LikerView], str]:
        size = page_size(requested_size)
        scope = f"post.ListPostLikers/{post_id}"
        cursor = self._tokens.open(token, scope=scope, viewer=viewer)
        await self._posts.visible(viewer, post_id)
        rows = await self._store.list_likers(post_id, size + 1,
                                             cursor.last_id if cursor else None)
        page, more = rows[:size], len(rows) > size
        audience = await self._view.audience(viewer, [r.user_id for r in page])
        likers = [LikerView(audience.summaries[r.user_id], r.like_time) for r in page
                  if r.user_id in audience.summaries and r.user_id not in audience.blocked]
        next_token = self._tokens.seal(PageTokenPayload(last_id=page[-1].like_id),
                                       scope=scope, viewer=viewer) if more else ""
        return likers, next_token

    async def like_status(self, viewer: str, post_ids: Sequence[int]) -> list[tuple[int, bool]]:
        ids = id_batch("post_ids", post_ids, MAX_BATCH, "a post id")
        liked = await self._liked.liked(viewer, ids)
        return [(i, i in liked) for i in ids]

    # --- comments --------------------------------------------------------------------------

    async def _comment(self, viewer: str, post_id: int, comment_id: int) -> CommentRecord:
        await self._posts.visible(viewer, post_id)
        require_id("comment_id", comment_id)
        comment = await self._comments.get_comment(post_id, comment_id)
        if comment is None:
            raise comment_not_found(comment_id)
        return comment

    async def like_comment(self, viewer: str, post_id: int, comment_id: int) -> int:
        await self._comment(viewer, post_id, comment_id)
        hold = await self._sets.acquire(cache.comment_likes(comment_id), viewer, like=True)
        if hold.done:
            return await self._count(hold, hold.count)
        now = datetime.now(UTC)
        if not hold.token:  # Redis unreachable: nothing orders this user's calls
            await self._store.insert_comment_like_if_absent(comment_id, viewer, now)
            return await self._counters.get(hold.counter)
        try:
            if hold.cached is None:
                await self._store.insert_comment_like(comment_id, viewer, now)
        except BaseException:
            await self._sets.release(hold)
            raise
        return await self._count(hold, await self._sets.add(hold, "1"))

    async def unlike_comment(self, viewer: str, post_id: int, comment_id: int) -> int:
        await self._comment(viewer, post_id, comment_id)
        hold = await self._sets.acquire(cache.comment_likes(comment_id), viewer, like=False)
        try:
            await self._store.delete_comment_like(comment_id, viewer)
        finally:
            await self._sets.release(hold)
        return await self._count(hold, hold.count)
