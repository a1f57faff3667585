"""Post rules: create (idempotent), read as a viewer, list, delete (no gRPC types here).

Create, step by step, so a failure at any point leaves nothing a retry cannot finish. The
steps that do not depend on each other run at once: claim the request id (LWT: the post id
is fixed from then on), check media with the media service, resolve @mentions, fetch the
author's summary for the reply. Then: claim each media item for the post (LWT, all at
once) → write the post and its list entry (one logged batch) → count it (recording the
change, `post.created:<id>`) and publish PostCreatedEvent → mark it published. A retry with
the same request id finds the claimed post id; if the post row exists it only finishes
what is left (publishing; the count is rebuilt only if the first attempt did not record
it), otherwise it redoes the steps with the same id, so no duplicate post, list entry,
count or event can appear.

And without the client: from before the post row is written until its event is out, the
create is recorded as pending (services/runtime/pending.py, kind ``post.created``), so a
create abandoned half-way (the process killed after the write, NATS away and the client
gone) is counted and published by the service's sweeper (`finish_created`); deletes the
same way (``post.deleted``, `finish_deleted`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from photomesh.common.v1.page_token_pb2 import PageTokenPayload
from photomesh.common.v1.user_pb2 import UserSummary

from services.peers.audience import Audience
from services.peers.media import MediaPeer, owned_ready
from services.peers.social_view import SocialView
from services.post import cache
from services.post.cache import PostBodies
from services.post.captions import text_violations
from services.post.counters import Counters
from services.post.events import PostEvents
from services.post.liked_cache import LikedCache
from services.post.mentions import resolve_mentions
from services.post.model import PostRecord
from services.post.store.posts import PostRows
from services.runtime.clock import ms_to_datetime
from services.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    NotFound,
    PermissionDenied,
)
from services.runtime.ids import Snowflake, id_time_ms
from services.runtime.pagination import PageTokens, page_size
from services.runtime.pending import PendingChanges
from services.runtime.validation import (
    check,
    id_batch,
    request_id_violation,
    require_id,
    require_uuid,
    uuid_violation,
)

MAX_MEDIA = 10
MAX_BATCH = 500  # BatchGetPosts, BatchGetLikeStatus
CREATED, DELETED = "post.created", "post.deleted"  # pending kinds (subject: the post id)


@dataclass(frozen=True)
class PostView:
    """A post as one viewer sees it."""

    record: PostRecord
    author: UserSummary
    like_count: int
    comment_count: int
    liked: bool


def post_not_found(post_id: int) -> NotFound:
    return NotFound(f"post {post_id} not found", reason="POST_NOT_FOUND",
                    metadata={"post_id": str(post_id)})


def _discard(*pending: asyncio.Future) -> None:  # type: ignore[type-arg]
    """Steps started at once whose results are no longer wanted: cancel what still runs,
    and take the outcome of what ended (so a failure of it is not reported as unseen)."""
    for future in pending:
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            future.exception()


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def _create_violations(request_id: str, caption: str, media_ids: Sequence[str]):  # type: ignore[no-untyped-def]
    violations, parsed = text_violations("caption", caption, required=False)
    if (v := request_id_violation(request_id)) is not None:
        violations.insert(0, v)
    if not 1 <= len(media_ids) <= MAX_MEDIA:
        violations.append(FieldViolation("media_ids", f"1 to {MAX_MEDIA} media items required "
                                                      f"(got {len(media_ids)})"))
    seen: set[str] = set()
    for i, media_id in enumerate(media_ids[:MAX_MEDIA + 1]):
        if (bad := uuid_violation(f"media_ids[{i}]", media_id, "a media id")) is not None:
            violations.append(bad)
        elif media_id in seen:
            violations.append(FieldViolation(f"media_ids[{i}]", "listed twice"))
        seen.add(media_id)
    return violations, parsed


class Posts:
    def __init__(self, store: PostRows, counters: Counters, events: PostEvents,
                 view: SocialView, media: MediaPeer, ids: Snowflake, tokens: PageTokens,
                 bodies: PostBodies, liked: LikedCache, pending: PendingChanges,
                 claim_grace_seconds: float = 60.0) -> None:
        self._store = store
        self._pending = pending
        self._liked = liked
        self._bodies = bodies
        self._counters = counters
        self._events = events
        self._view = view
        self._media = media
        self._ids = ids
        self._tokens = tokens
        self._claim_grace = timedelta(seconds=claim_grace_seconds)

    # --- create ----------------------------------------------------------------------------

    async def create(self, author: str, request_id: str, caption: str,
                     media_ids: Sequence[str]) -> PostView:
        violations, parsed = _create_violations(request_id, caption, media_ids)
        check(violations)
        fingerprint = _fingerprint(caption, *media_ids)
        claiming = asyncio.ensure_future(self._store.claim_post_request(
            author, request_id, self._ids.next_id(), fingerprint))
        summary = asyncio.ensure_future(self._author_summary(author))
        lookups = asyncio.gather(self._media.items(media_ids),
                                 resolve_mentions(self._view.graph, parsed.usernames))
        try:
            claim = await claiming
            if claim.fingerprint != fingerprint:
                raise AlreadyExists("this request_id was already used for a different post",
                                    reason="REQUEST_ID_REUSED",
                                    metadata={"request_id": request_id})
            post_id = claim.target_id
            existing = None if claim.ours else await self._store.get_post(post_id)
            if existing is not None:
                _discard(lookups)
                if existing.deleted:
                    raise post_not_found(post_id)
                if not existing.published:  # the first attempt stopped half-way: finish it
                    async with self._pending.around(CREATED, str(post_id)):
                        await self._finish_created(existing)
                return await self._fresh_view(existing, await summary)
            found, mentions = await lookups
        except BaseException:
            _discard(claiming, summary, lookups)
            raise
        refs, unknown = owned_ready(author, media_ids, found)
        check([FieldViolation(f"media_ids[{media_ids.index(m)}]", f"no media item {m!r}")
               for m in unknown])
        create_time = ms_to_datetime(id_time_ms(post_id))
        record = PostRecord(post_id=post_id, author_id=author, caption=caption,
                            hashtags=parsed.hashtags, mentions=mentions, media=tuple(refs),
                            create_time=create_time)
        counter = cache.posts(author)
        async with self._pending.around(CREATED, str(post_id)):
            await asyncio.gather(self._claim_media(record), self._counters.begin([counter]))
            try:
                await self._store.insert_post(record)
            except BaseException:
                await self._counters.invalidate([counter], ending_write=True)
                raise
            await asyncio.gather(
                self._counters.commit({counter: 1}, op=f"post.created:{post_id}"),
                self._events.post_created(record))
            await self._store.mark_post_published(record.post_id)
        # A post just made has no likes or comments yet: its view needs no count read.
        return PostView(record, await summary, 0, 0, False)

    async def _author_summary(self, author: str) -> UserSummary:
        """The author's own summary for the reply view (the seam for a summary cache)."""
        summaries = await self._view.summaries([author])
        return summaries.get(author, UserSummary(user_id=author))

    async def _claim_media(self, record: PostRecord) -> None:
        """Attach each item to this post (all at once); an item attached to another live
        post (or to a create still in flight) is MEDIA_IN_USE."""
        now = datetime.now(UTC)
        taken = await asyncio.gather(*(self._claim_one(ref.media_id, record.post_id, now)
                                       for ref in record.media))
        refused = [ref.media_id for ref, ok in zip(record.media, taken, strict=True) if not ok]
        if refused:
            raise FailedPrecondition(f"media item {refused[0]} is already attached to a post",
                                     reason="MEDIA_IN_USE", metadata={"media_id": refused[0]})

    async def _claim_one(self, media_id: str, post_id: int, now: datetime) -> bool:
        owner, since = await self._store.claim_media(media_id, post_id, now)
        if owner == post_id:
            return True
        other = await self._store.get_post(owner)
        abandoned = other is None and now - since > self._claim_grace
        if (other is not None and other.deleted) or abandoned:
            return await self._store.take_over_media(media_id, owner, post_id, now)
        return False

    async def _finish_created(self, record: PostRecord) -> None:
        """A stored post whose event is not known to be out: counted (once) and published
        (with its deterministic event id)."""
        await self._counters.settle([cache.posts(record.author_id)],
                                    op=f"post.created:{record.post_id}",
                                    written_ms=id_time_ms(record.post_id))
        await self._events.post_created(record)
        await self._store.mark_post_published(record.post_id)

    async def finish_created(self, subject: str) -> None:
        """The sweeper's finisher of a create (`subject`: the post id)."""
        record = await self._store.get_post(int(subject))
        if record is None or record.deleted or record.published:
            return  # never written (its client may still retry), deleted, or finished
        await self._finish_created(record)

    async def finish_deleted(self, subject: str) -> None:
        """The sweeper's finisher of a delete (`subject`: the post id): a deleted post's
        count settled, its media released and its event published."""
        record = await self._store.get_post(int(subject))
        if record is None or not record.deleted:
            return  # the delete never committed: nothing to announce
        await self._finish_delete(record, datetime.now(UTC))

    async def _fresh_view(self, record: PostRecord, author: UserSummary) -> PostView:
        """The view of a post made by an earlier attempt (it may have likes by now)."""
        counts, liked = await self._counts_and_liked(record.author_id, [record])
        return PostView(record, author, counts[cache.likes(record.post_id)],
                        counts[cache.comments(record.post_id)], record.post_id in liked)

    # --- reads -----------------------------------------------------------------------------

    async def record(self, post_id: int) -> PostRecord | None:
        """The stored post, deleted or not, whoever may see it (for finishers)."""
        return await self._store.get_post(post_id)

    async def visible(self, viewer: str, post_id: int) -> tuple[PostRecord, Audience]:
        """The post if the caller may see it; NOT_FOUND otherwise (existence not leaked)."""
        require_id("post_id", post_id)
        record = await self._bodies.get(post_id)
        if record is None or record.deleted:
            raise post_not_found(post_id)
        audience = await self._view.audience(viewer, [record.author_id])
        if record.author_id not in audience.visible:
            raise post_not_found(post_id)
        return record, audience

    async def get(self, viewer: str, post_id: int) -> PostView:
        record, audience = await self.visible(viewer, post_id)
        return (await self._views(viewer, [record], audience))[0]

    async def batch_get(self, viewer: str, post_ids: Sequence[int]
                        ) -> tuple[list[PostView], list[int]]:
        ids = id_batch("post_ids", post_ids, MAX_BATCH, "a post id")
        records = await self._bodies.get_many(ids)
        alive = [records[i] for i in ids if i in records and not records[i].deleted]
        # Who may see what, the counts and the liked set are independent reads: run them
        # together, then keep only what the viewer may see.
        audience, (counts, liked) = await asyncio.gather(
            self._view.audience(viewer, [r.author_id for r in alive]),
            self._counts_and_liked(viewer, alive))
        views = self._assemble(alive, audience, counts, liked)
        shown = {v.record.post_id for v in views}
        return views, [i for i in ids if i not in shown]

    async def _counts_and_liked(self, viewer: str, records: Sequence[PostRecord]
                                ) -> tuple[dict[cache.Counter, int], set[int]]:
        """One counter read (a Redis pipeline) and one liked read (one CQL partition),
        concurrently."""
        if not records:
            return {}, set()
        counters = [c for r in records
                    for c in (cache.likes(r.post_id), cache.comments(r.post_id))]
        counts, liked = await asyncio.gather(
            self._counters.get_many(counters),
            self._liked.liked(viewer, [r.post_id for r in records]))
        return counts, liked

    @staticmethod
    def _assemble(records: Sequence[PostRecord], audience: Audience,
                  counts: dict[cache.Counter, int], liked: set[int]) -> list[PostView]:
        return [PostView(r, audience.summaries.get(r.author_id, UserSummary(user_id=r.author_id)),
                         counts[cache.likes(r.post_id)], counts[cache.comments(r.post_id)],
                         r.post_id in liked)
                for r in records if r.author_id in audience.visible]

    async def _views(self, viewer: str, records: Sequence[PostRecord], audience: Audience
                     ) -> list[PostView]:
        """Views of the records the viewer may see."""
        records = [r for r in records if r.author_id in audience.visible]
        counts, liked = await self._counts_and_liked(viewer, records)
        return self._assemble(records, audience, counts, liked)

    async def list_user_posts(self, viewer: str, user_id: str, requested_size: int, token: str
                              ) -> tuple[list[PostView], str, int]:
        user_id = require_uuid("user_id", user_id)
        size = page_size(requested_size)
        scope = f"post.ListUserPosts/{user_id}"
        cursor = self._tokens.open(token, scope=scope, viewer=viewer)
        audience = await self._view.audience(viewer, [user_id])
        if user_id not in audience.visible:
            if user_id in audience.private and user_id not in audience.blocked:
                raise PermissionDenied("this account is private; follow it to see its posts",
                                       reason="ACCOUNT_PRIVATE", metadata={"user_id": user_id})
            raise NotFound(f"user {user_id} not found", reason="USER_NOT_FOUND",
                           metadata={"user_id": user_id})
        ids = await self._store.list_user_post_ids(user_id, size + 1,
                                                   cursor.last_id if cursor else None)
        page, more = ids[:size], len(ids) > size
        records = await self._bodies.get_many(page)
        alive = [records[i] for i in page if i in records and not records[i].deleted]
        views = await self._views(viewer, alive, audience)
        total = await self._counters.get(cache.posts(user_id))
        next_token = self._tokens.seal(PageTokenPayload(last_id=page[-1]), scope=scope,
                                       viewer=viewer) if more else ""
        return views, next_token, total

    # --- delete ----------------------------------------------------------------------------

    async def delete(self, caller: str, post_id: int) -> None:
        require_id("post_id", post_id)
        record = await self._store.get_post(post_id)
        if record is None:
            raise post_not_found(post_id)
        if record.author_id != caller:
            if record.deleted:
                raise post_not_found(post_id)
            await self.visible(caller, post_id)  # NOT_FOUND unless the caller can see it
            raise PermissionDenied("only the author may delete a post", reason="NOT_AUTHOR",
                                   metadata={"post_id": str(post_id)})
        await self._bodies.forget(post_id)  # before CQL: no reader may keep the cached body
        now = datetime.now(UTC)
        async with self._pending.around(DELETED, str(post_id)):
            if record.deleted:  # a repeat: finish what the first may have left
                await self._finish_delete(record, now)
                return
            counter = cache.posts(caller)
            await self._counters.begin([counter])
            try:
                await self._store.delete_post(record, now)
            except BaseException:
                await self._counters.invalidate([counter], ending_write=True)
                raise
            await self._counters.commit({counter: -1}, op=f"post.deleted:{post_id}")
            await self._counters.drop([cache.likes(post_id), cache.comments(post_id)])
            await self._release_and_announce(record, now)

    async def _finish_delete(self, record: PostRecord, now: datetime) -> None:
        """Rebuild the author's count only if the first attempt did not count the delete;
        release the media and publish (the same event id)."""
        await self._counters.settle([cache.posts(record.author_id)],
                                    op=f"post.deleted:{record.post_id}",
                                    written_ms=record.deleted_ms)
        await self._release_and_announce(record, now)

    async def _release_and_announce(self, record: PostRecord, now: datetime) -> None:
        await asyncio.gather(*(self._store.release_media(ref.media_id, record.post_id)
                               for ref in record.media))
        await self._events.post_deleted(record, now)
