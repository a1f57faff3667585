"""Comments and replies (no gRPC types here).

One level of nesting: a reply names a top-level comment; a reply to a reply is attached to
that reply's top-level comment (its author still hears about it: the event names the
comment actually answered). CreateComment is idempotent on (author, request_id), like
CreatePost: the comment id is claimed first, the rows are written in one batch, the event
goes out after them and a retry finishes whatever the first attempt left undone.

Creates and deletes are recorded as pending while they run (services/runtime/pending.py),
so one its client abandons half-way is finished by the service's sweeper
(`finish_created`, `finish_deleted`): counted once and published with the same event id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from photomesh.common.v1.page_token_pb2 import PageTokenPayload
from photomesh.common.v1.user_pb2 import UserSummary

from services.peers.social_view import SocialView
from services.post import cache
from services.post.cache import Counter
from services.post.captions import text_violations
from services.post.counters import Counters
from services.post.events import PostEvents
from services.post.likes import comment_not_found
from services.post.mentions import resolve_mentions
from services.post.model import CommentRecord, PostRecord
from services.post.posts import Posts
from services.post.store.comments import CommentRows
from services.post.store.likes import LikeRows
from services.runtime.clock import ms_to_datetime
from services.runtime.errors import AlreadyExists, FieldViolation, InvalidArgument, PermissionDenied
from services.runtime.ids import Snowflake, id_time_ms
from services.runtime.pagination import PageTokens, page_size
from services.runtime.pending import PendingChanges
from services.runtime.validation import check, id_violation, request_id_violation, require_id

# Pending kinds: subjects ``<post>:<comment>`` and ``<post>:<comment>:<comments removed>``.
CREATED, DELETED = "comment.created", "comment.deleted"


@dataclass(frozen=True)
class CommentView:
    record: CommentRecord
    author: UserSummary
    like_count: int
    reply_count: int
    liked: bool


def _counters_of(comment: CommentRecord) -> list[Counter]:
    found = [cache.comments(comment.post_id)]
    if comment.parent_id:
        found.append(cache.replies(comment.post_id, comment.parent_id))
    return found


class Comments:
    def __init__(self, store: CommentRows, likes: LikeRows, counters: Counters,
                 events: PostEvents, view: SocialView, posts: Posts, ids: Snowflake,
                 tokens: PageTokens, pending: PendingChanges) -> None:
        self._store = store
        self._pending = pending
        self._likes = likes
        self._counters = counters
        self._events = events
        self._view = view
        self._posts = posts
        self._ids = ids
        self._tokens = tokens

    async def create(self, author: str, request_id: str, post_id: int, parent_id: int, text: str
                     ) -> CommentView:
        violations, parsed = text_violations("text", text, required=True)
        for v in (request_id_violation(request_id), id_violation("post_id", post_id),
                  id_violation("parent_comment_id", parent_id, optional=True)):
            if v is not None:
                violations.insert(0, v)
        check(violations)
        post, _ = await self._posts.visible(author, post_id)
        replied = await self._replied_to(post_id, parent_id)
        top_id = (replied.parent_id or replied.comment_id) if replied else 0
        fingerprint = hashlib.sha256(f"{post_id}\x1f{parent_id}\x1f{text}".encode()
                                     ).hexdigest()[:32]
        claim = await self._store.claim_comment_request(author, request_id, self._ids.next_id(),
                                                        fingerprint)
        if claim.fingerprint != fingerprint:
            raise AlreadyExists("this request_id was already used for a different comment",
                                reason="REQUEST_ID_REUSED", metadata={"request_id": request_id})
        existing = None if claim.ours else await self._store.get_comment(post_id,
                                                                         claim.target_id)
        if existing is not None:
            if not existing.published:  # the first attempt stopped half-way: finish it
                async with self._pending.around(CREATED, f"{post_id}:{existing.comment_id}"):
                    await self._finish_created(post, existing)
            return await self._fresh_view(existing)
        mentions = await resolve_mentions(self._view.graph, parsed.usernames)
        comment = CommentRecord(
            comment_id=claim.target_id, post_id=post_id, parent_id=top_id, author_id=author,
            text=text, mentions=mentions,
            create_time=ms_to_datetime(id_time_ms(claim.target_id)))
        counters = _counters_of(comment)
        async with self._pending.around(CREATED, f"{post_id}:{comment.comment_id}"):
            await self._counters.begin(counters)
            try:
                await self._store.insert_comment(comment)
            except BaseException:
                await self._counters.invalidate(counters, ending_write=True)
                raise
            await self._counters.commit({c: 1 for c in counters},
                                        op=f"comment.created:{comment.comment_id}")
            await self._publish(post, comment, replied)
        return await self._fresh_view(comment)

    async def _finish_created(self, post: PostRecord, comment: CommentRecord) -> None:
        """A stored comment whose event is not known to be out: counted (once) and
        published. The event names its top-level comment as the one answered."""
        replied = (await self._store.get_comment(post.post_id, comment.parent_id)
                   if comment.parent_id else None)
        await self._counters.settle(_counters_of(comment),
                                    op=f"comment.created:{comment.comment_id}",
                                    written_ms=id_time_ms(comment.comment_id))
        await self._publish(post, comment, replied)

    async def finish_created(self, subject: str) -> None:
        """The sweeper's finisher of a create (`subject`: ``<post>:<comment>``)."""
        post_id, comment_id = (int(part) for part in subject.split(":"))
        comment = await self._store.get_comment(post_id, comment_id)
        if comment is None or comment.published:
            return  # never written (its client may retry), deleted, or finished
        post = await self._posts.record(post_id)
        if post is None or post.deleted:
            return
        await self._finish_created(post, comment)

    async def finish_deleted(self, subject: str) -> None:
        """The sweeper's finisher of a delete (`subject`: ``<post>:<comment>:<removed>``):
        counts settled (only if the delete's commit is not recorded) and its event out."""
        post_id, comment_id, removed = (int(part) for part in subject.split(":"))
        ref = await self._store.comment_ref(post_id, comment_id)
        post = await self._posts.record(post_id)
        if ref is None or not ref.deleted or post is None or post.deleted:
            return  # the delete never committed, or the post went with it
        falling = [cache.comments(post_id)]
        if ref.parent_id:
            falling.append(cache.replies(post_id, ref.parent_id))
        await self._counters.settle(falling, op=f"comment.deleted:{comment_id}",
                                    written_ms=ref.deleted_ms)
        gone = CommentRecord(comment_id=comment_id, post_id=post_id, parent_id=ref.parent_id,
                             author_id=ref.author_id, text="", mentions=(),
                             create_time=datetime.now(UTC))
        await self._events.comment_deleted(post, gone, removed, datetime.now(UTC))

    async def _replied_to(self, post_id: int, parent_id: int) -> CommentRecord | None:
        if not parent_id:
            return None
        parent = await self._store.get_comment(post_id, parent_id)
        if parent is None:
            raise InvalidArgument(FieldViolation(
                "parent_comment_id", f"no comment {parent_id} on post {post_id}"),
                reason="PARENT_COMMENT_INVALID")
        return parent

    async def _publish(self, post: PostRecord, comment: CommentRecord,
                       replied: CommentRecord | None) -> None:
        await self._events.comment_added(post, comment, replied)
        await self._store.mark_comment_published(comment)

    async def _fresh_view(self, comment: CommentRecord) -> CommentView:
        summaries = await self._view.summaries([comment.author_id])
        return (await self._views(comment.author_id, [comment], summaries))[0]

    async def _views(self, viewer: str, comments: list[CommentRecord],
                     summaries: dict[str, UserSummary]) -> list[CommentView]:
        if not comments:
            return []
        like_counters = {c.comment_id: cache.comment_likes(c.comment_id) for c in comments}
        reply_counters = {c.comment_id: cache.replies(c.post_id, c.comment_id)
                          for c in comments if c.parent_id == 0}
        counts = await self._counters.get_many([*like_counters.values(),
                                                *reply_counters.values()])
        liked = await self._likes.liked_comment_ids(viewer, [c.comment_id for c in comments])
        return [CommentView(
            c, summaries.get(c.author_id, UserSummary(user_id=c.author_id)),
            counts[like_counters[c.comment_id]],
            counts[reply_counters[c.comment_id]] if c.comment_id in reply_counters else 0,
            c.comment_id in liked) for c in comments]

    async def list(self, viewer: str, post_id: int, parent_id: int, requested_size: int, token: str
                   ) -> tuple[list[CommentView], str]:
        violation = id_violation("parent_comment_id", parent_id, optional=True)
        check([violation] if violation else [])
        size = page_size(requested_size)
        scope = f"post.ListComments/{post_id}/{parent_id}"
        cursor = self._tokens.open(token, scope=scope, viewer=viewer)
        await self._posts.visible(viewer, post_id)
        if parent_id:
            parent = await self._store.get_comment(post_id, parent_id)
            if parent is None:
                raise comment_not_found(parent_id)
            if parent.parent_id:
                raise InvalidArgument(FieldViolation(
                    "parent_comment_id", "replies are listed under their top-level comment "
                                         f"{parent.parent_id}"), reason="PARENT_COMMENT_INVALID")
        rows = await self._store.list_comments(post_id, parent_id, size + 1,
                                               cursor.last_id if cursor else None)
        page, more = rows[:size], len(rows) > size
        audience = await self._view.audience(viewer, [c.author_id for c in page])
        shown = [c for c in page if c.author_id not in audience.blocked]
        views = await self._views(viewer, shown, audience.summaries)
        next_token = self._tokens.seal(PageTokenPayload(last_id=page[-1].comment_id),
                                       scope=scope, viewer=viewer) if more else ""
        return views, next_token

    async def delete(self, caller: str, post_id: int, comment_id: int) -> None:
        require_id("comment_id", comment_id)
        post, _ = await self._posts.visible(caller, post_id)
        ref = await self._store.comment_ref(post_id, comment_id)
        if ref is None:
            raise comment_not_found(comment_id)
        if caller not in (ref.author_id, post.author_id):
            raise PermissionDenied("only the comment's author or the post's author may delete it",
                                   reason="NOT_AUTHOR", metadata={"comment_id": str(comment_id)})
        # Counts that fall by what is removed, and counts whose subject goes (dropped).
        falling = [cache.comments(post_id)]
        gone = [cache.comment_likes(comment_id)]
        if ref.parent_id:
            falling.append(cache.replies(post_id, ref.parent_id))
        else:
            gone.append(cache.replies(post_id, comment_id))
        op = f"comment.deleted:{comment_id}"
        comment = None if ref.deleted else await self._store.get_comment(post_id, comment_id)
        if comment is None:  # a repeat: rebuild counts only if the first did not count it
            await self._counters.settle(falling, op=op, written_ms=ref.deleted_ms)
            return
        replies = [] if comment.parent_id else await self._store.reply_ids(post_id, comment_id)
        async with self._pending.around(DELETED, f"{post_id}:{comment_id}:{1 + len(replies)}"):
            await self._counters.begin(falling)
            try:
                await self._store.delete_comment(comment, replies)
            except BaseException:
                await self._counters.invalidate(falling, ending_write=True)
                raise
            await self._counters.commit({falling[0]: -(1 + len(replies)),
                                         **{c: -1 for c in falling[1:]}}, op=op)
            await self._counters.drop([*gone, *(cache.comment_likes(r) for r in replies)])
            await self._events.comment_deleted(post, comment, 1 + len(replies),
                                               datetime.now(UTC))
