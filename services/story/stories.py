"""Story rules: publishing, who may see a story, deleting, the archive (no gRPC here).

A story's publish is recorded as pending while it runs (services/runtime/pending.py, kind
``story.published``): one whose client gave up before its event went out is published by
the service's sweeper (`finish_published`, the same event id) while it is live.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from photomesh.common.v1.media_pb2 import MediaRef
from photomesh.common.v1.user_pb2 import UserSummary

from services.peers.media import MediaPeer, owned_ready
from services.peers.social_view import SocialView
from services.runtime.errors import (
    AlreadyExists,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from services.runtime.ids import Snowflake, id_time_ms
from services.runtime.pagination import PageTokens, page_size
from services.runtime.pending import PendingChanges
from services.runtime.validation import request_id_violation, require_id, uuid_violation
from services.story.cache import StoryCache
from services.story.clock import Clock
from services.story.close_friends import CloseFriends
from services.story.events import StoryEvents
from services.story.model import CLOSE_FRIENDS, FOLLOWERS, StoryRecord
from services.story.store import StoryStore
from services.story.views import Views

AUDIENCES = (FOLLOWERS, CLOSE_FRIENDS)
PUBLISHED = "story.published"  # the pending kind of a new story (subject: author:story)
TEXT_MAX = 500


def story_not_found(story_id: int) -> NotFound:
    return NotFound("the story does not exist, was deleted or has expired",
                    reason="STORY_NOT_FOUND", metadata={"story_id": str(story_id)})


@dataclass(frozen=True)
class StoryView:
    """A story as one caller sees it."""

    story: StoryRecord
    author: UserSummary
    seen: bool
    view_count: int  # only for the author, 0 otherwise


class Stories:
    def __init__(self, store: StoryStore, cache: StoryCache, events: StoryEvents,
                 graph: SocialView, media: MediaPeer, views: Views, close_friends: CloseFriends,
                 ids: Snowflake, tokens: PageTokens, ttl_seconds: int, clock: Clock,
                 pending: PendingChanges) -> None:
        self._store = store
        self._pending = pending
        self._tokens = tokens
        self._cache = cache
        self._events = events
        self._graph = graph
        self._media = media
        self._views = views
        self._close_friends = close_friends
        self._ids = ids
        self._ttl_ms = ttl_seconds * 1000
        self._now_ms = clock.now_ms

    # --- publishing -----------------------------------------------------------------------

    async def create(self, author_id: str, request_id: str, media_id: str, text: str,
                     audience: int) -> StoryView:
        audience = audience or FOLLOWERS
        violations = [v for v in (
            request_id_violation(request_id),
            uuid_violation("media_id", media_id, "a media id") if media_id else None)
            if v is not None]
        if len(text) > TEXT_MAX:
            violations.append(FieldViolation("text", f"at most {TEXT_MAX} characters"))
        if not media_id and not text.strip():
            violations.append(FieldViolation("text", "required when media_id is empty"))
        if audience not in AUDIENCES:
            violations.append(FieldViolation("audience", "must be FOLLOWERS or CLOSE_FRIENDS"))
        if violations:
            raise InvalidArgument(violations)

        fingerprint = hashlib.sha256(f"{media_id}\0{audience}\0{text}".encode()).hexdigest()
        story_id, claimed = await self._store.claim_request(
            author_id, request_id, self._ids.next_id(), fingerprint)
        if claimed != fingerprint:
            raise AlreadyExists("this request_id was already used for another story",
                                reason="REQUEST_ID_REUSED", metadata={"request_id": request_id})
        now = self._now_ms()
        story = await self._store.live(story_id, now) or await self._store.archived(
            author_id, story_id)
        async with self._pending.around(PUBLISHED, f"{author_id}:{story_id}"):
            if story is None:
                if await self._store.deleted_by(story_id) is not None:
                    raise story_not_found(story_id)
                media = await self._ready_media(author_id, media_id) if media_id else None
                create_ms = id_time_ms(story_id)
                story = StoryRecord(story_id, author_id, audience, text, media, create_ms,
                                    create_ms + self._ttl_ms)
                await self._store.save(story, now)
                await self._cache.add_story(story)
            if story.live_at(now):
                # Also on a retry: an earlier attempt may have failed before publishing;
                # the event id is the same, so JetStream and consumers drop duplicates.
                await self._events.published(story)
        return StoryView(story, await self._summary(author_id), False, 0)

    async def finish_published(self, subject: str) -> None:
        """The sweeper's finisher of a new story (`subject`: ``<author>:<story>``): a live
        story is cached and published (again: the same event id)."""
        author_id, story_part = subject.split(":")
        story = await self._store.live(int(story_part), self._now_ms())
        if story is not None and story.author_id == author_id:
            await self._cache.add_story(story)
            await self._events.published(story)

    async def _ready_media(self, owner_id: str, media_id: str) -> MediaRef:
        refs, unknown = owned_ready(owner_id, [media_id], await self._media.items([media_id]))
        if unknown:
            raise NotFound("the media item does not exist or was deleted",
                           reason="MEDIA_NOT_FOUND", metadata={"media_id": media_id})
        return refs[0]

    # --- reading --------------------------------------------------------------------------

    async def summaries(self, user_ids: Iterable[str]) -> dict[str, UserSummary]:
        """Summaries of `user_ids`; a user the graph does not know gets just the id."""
        ids = list(user_ids)
        found = await self._graph.summaries(ids) if ids else {}
        return {u: found.get(u) or UserSummary(user_id=u) for u in ids}

    async def _summary(self, user_id: str) -> UserSummary:
        return (await self.summaries([user_id]))[user_id]

    async def visible_live(self, viewer_id: str, story_id: int) -> StoryRecord:
        """The live story if `viewer_id` may see it; NOT_FOUND (or ACCOUNT_PRIVATE)."""
        require_id("story_id", story_id, "a story id")
        story = await self._store.live(story_id, self._now_ms())
        if story is None:
            raise story_not_found(story_id)
        if story.author_id == viewer_id:
            return story
        audience = await self._graph.audience(viewer_id, [story.author_id])
        if story.author_id in audience.blocked or story.author_id not in audience.summaries:
            raise story_not_found(story_id)
        if story.audience == CLOSE_FRIENDS:
            if not await self._close_friends.owners_including([story.author_id], viewer_id):
                raise story_not_found(story_id)
        elif story.author_id not in audience.visible:
            raise PermissionDenied("the account is private; follow it to see its stories",
                                   reason="ACCOUNT_PRIVATE",
                                   metadata={"user_id": story.author_id})
        return story

    async def get(self, viewer_id: str, story_id: int) -> StoryView:
        require_id("story_id", story_id, "a story id")
        try:
            story = await self.visible_live(viewer_id, story_id)
        except NotFound:
            story = await self._store.archived(viewer_id, story_id)
            if story is None:
                raise
        return await self.view_of(viewer_id, story)

    async def view_of(self, viewer_id: str, story: StoryRecord) -> StoryView:
        own = story.author_id == viewer_id
        seen = bool(await self._views.seen(viewer_id, [story.story_id])) if not own else False
        count = await self._views.count(story.story_id) if own else 0
        return StoryView(story, await self._summary(story.author_id), seen, count)

    async def own(self, author_id: str, story_id: int) -> StoryRecord:
        """A live story of `author_id`: NOT_FOUND, or NOT_AUTHOR for someone else's."""
        story = await self.visible_live(author_id, story_id)
        if story.author_id != author_id:
            raise PermissionDenied("only the story's author may do this", reason="NOT_AUTHOR",
                                   metadata={"story_id": str(story_id)})
        return story

    # --- viewing --------------------------------------------------------------------------

    async def mark_seen(self, viewer_id: str, story_id: int) -> None:
        story = await self.visible_live(viewer_id, story_id)
        if story.author_id != viewer_id:  # the author's own looks are not views
            await self._views.mark(story, viewer_id, self._now_ms())

    # --- deleting and the archive ---------------------------------------------------------

    async def delete(self, author_id: str, story_id: int) -> None:
        require_id("story_id", story_id, "a story id")
        story = await self._store.live(story_id, self._now_ms()) or await self._store.archived(
            author_id, story_id)
        if story is None:
            if await self._store.deleted_by(story_id) == author_id:
                return  # already deleted by its author: idempotent
            raise story_not_found(story_id)
        if story.author_id != author_id:
            await self.visible_live(author_id, story_id)  # NOT_FOUND if hidden from them
            raise PermissionDenied("only the story's author may delete it", reason="NOT_AUTHOR",
                                   metadata={"story_id": str(story_id)})
        await self._store.delete(story)
        await self._cache.remove_story(story)

    async def archived(self, author_id: str, requested_size: int, token: str
                       ) -> tuple[list[StoryView], str]:
        """A page of the author's archive and the next page's token."""
        scope = "story.ListArchivedStories"
        cursor = self._tokens.open(token, scope=scope, viewer=author_id)
        stories, state = await self._store.archive_page(
            author_id, page_size(requested_size), cursor.paging_state or None if cursor else None)
        now = self._now_ms()
        author = await self._summary(author_id)
        views = []
        for story in stories:
            if not story.live_at(now):
                views.append(StoryView(story, author, False, 0))  # views expired with it
        return views, self._tokens.seal_state(state, scope=scope, viewer=author_id)

    async def viewers(self, author_id: str, story_id: int, requested_size: int, token: str
                      ) -> tuple[list[tuple[UserSummary, int]], str, int]:
        """Who saw the author's live story (newest first, with when), the next page's
        token, and how many saw it."""
        require_id("story_id", story_id, "a story id")
        size = page_size(requested_size)
        scope = f"story.ListStoryViewers/{story_id}"
        cursor = self._tokens.open(token, scope=scope, viewer=author_id)
        story = await self.own(author_id, story_id)
        viewers, state = await self._views.page(story.story_id, size,
                                                cursor.paging_state or None if cursor else None)
        summaries = await self.summaries(v.user_id for v in viewers)
        count = await self._views.count(story.story_id)
        return ([(summaries[v.user_id], v.view_ms) for v in viewers],
                self._tokens.seal_state(state, scope=scope, viewer=author_id), count)
