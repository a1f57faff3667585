"""gRPC transport of StoryService: proto in, domain call, proto out."""

from __future__ import annotations

from grpc import aio
from photomesh.common.v1.page_token_pb2 import PageTokenPayload
from photomesh.story.v1 import story_service_pb2 as pb
from photomesh.story.v1 import story_service_pb2_grpc as pb_grpc

from services.runtime.auth import current_principal
from services.runtime.pagination import PageTokens, page_size
from services.story.clock import Clock
from services.story.close_friends import CloseFriends
from services.story.stories import Stories, StoryView
from services.story.tray import Tray, TrayEntry
from services.story.validation import check_story_id
from services.story.views import Views


def _story(view: StoryView) -> pb.Story:
    record = view.story
    story = pb.Story(story_id=record.story_id, text=record.text,
                     audience=record.audience,  # type: ignore[arg-type]
                     seen_by_caller=view.seen, view_count=view.view_count)
    story.author.CopyFrom(view.author)
    if record.media is not None:
        story.media.CopyFrom(record.media)
    story.create_time.FromMilliseconds(record.create_ms)
    story.expire_time.FromMilliseconds(record.expire_ms)
    return story


def _tray_entry(entry: TrayEntry) -> pb.StoryTrayEntry:
    out = pb.StoryTrayEntry(author=entry.author, has_unseen=entry.has_unseen)
    out.stories.extend(_story(StoryView(s, entry.author, s.story_id in entry.seen, 0))
                       for s in entry.stories)
    out.latest_create_time.FromMilliseconds(entry.latest_ms)
    return out


class StoryServicer(pb_grpc.StoryServiceServicer):
    def __init__(self, stories: Stories, tray: Tray, views: Views,
                 close_friends: CloseFriends, tokens: PageTokens, clock: Clock) -> None:
        self._stories = stories
        self._clock = clock
        self._tray = tray
        self._views = views
        self._close_friends = close_friends
        self._tokens = tokens

    def _cursor(self, token: str, scope: str, viewer: str) -> PageTokenPayload | None:
        return self._tokens.open(token, scope=scope, viewer=viewer)

    def _next(self, scope: str, viewer: str, *, paging_state: bytes | None = None,
              offset: int | None = None) -> str:
        if paging_state is None and offset is None:
            return ""
        cursor = PageTokenPayload(paging_state=paging_state or b"", offset=offset or 0)
        return self._tokens.seal(cursor, scope=scope, viewer=viewer)

    async def CreateStory(self, request: pb.CreateStoryRequest, context: aio.ServicerContext
                          ) -> pb.CreateStoryResponse:
        me = current_principal()
        view = await self._stories.create(me.user_id, request.request_id, request.media_id,
                                          request.text, request.audience)
        return pb.CreateStoryResponse(story=_story(view))

    async def GetStory(self, request: pb.GetStoryRequest, context: aio.ServicerContext
                       ) -> pb.GetStoryResponse:
        me = current_principal()
        return pb.GetStoryResponse(story=_story(await self._stories.get(me.user_id,
                                                                        request.story_id)))

    async def DeleteStory(self, request: pb.DeleteStoryRequest, context: aio.ServicerContext
                          ) -> pb.DeleteStoryResponse:
        me = current_principal()
        await self._stories.delete(me.user_id, request.story_id)
        return pb.DeleteStoryResponse()

    async def GetStoryTray(self, request: pb.GetStoryTrayRequest, context: aio.ServicerContext
                           ) -> pb.GetStoryTrayResponse:
        me = current_principal()
        size = page_size(request.page_size)
        scope = "story.GetStoryTray"
        cursor = self._cursor(request.page_token, scope, me.user_id)
        offset = cursor.offset if cursor else 0
        entries, more = await self._tray.page(me.user_id, offset, size,
                                              self._clock.now_ms())
        return pb.GetStoryTrayResponse(
            entries=[_tray_entry(e) for e in entries],
            next_page_token=self._next(scope, me.user_id, offset=offset + size)
            if more else "")

    async def MarkStorySeen(self, request: pb.MarkStorySeenRequest,
                            context: aio.ServicerContext) -> pb.MarkStorySeenResponse:
        me = current_principal()
        await self._stories.mark_seen(me.user_id, request.story_id)
        return pb.MarkStorySeenResponse()

    async def ListStoryViewers(self, request: pb.ListStoryViewersRequest,
                               context: aio.ServicerContext) -> pb.ListStoryViewersResponse:
        me = current_principal()
        check_story_id(request.story_id)
        size = page_size(request.page_size)
        scope = f"story.ListStoryViewers/{request.story_id}"
        cursor = self._cursor(request.page_token, scope, me.user_id)
        story = await self._stories.own(me.user_id, request.story_id)
        viewers, state = await self._views.page(story.story_id, size,
                                                cursor.paging_state or None if cursor else None)
        summaries = await self._stories.summaries(v.user_id for v in viewers)
        reply = pb.ListStoryViewersResponse(
            next_page_token=self._next(scope, me.user_id, paging_state=state),
            view_count=await self._views.count(story.story_id))
        for viewer in viewers:
            entry = reply.viewers.add()
            entry.user.CopyFrom(summaries[viewer.user_id])
            entry.view_time.FromMilliseconds(viewer.view_ms)
        return reply

    async def ListArchivedStories(self, request: pb.ListArchivedStoriesRequest,
                                  context: aio.ServicerContext
                                  ) -> pb.ListArchivedStoriesResponse:
        me = current_principal()
        size = page_size(request.page_size)
        scope = "story.ListArchivedStories"
        cursor = self._cursor(request.page_token, scope, me.user_id)
        views, state = await self._stories.archived_page(
            me.user_id, size, cursor.paging_state or None if cursor else None)
        return pb.ListArchivedStoriesResponse(
            stories=[_story(v) for v in views],
            next_page_token=self._next(scope, me.user_id, paging_state=state))

    async def UpdateCloseFriends(self, request: pb.UpdateCloseFriendsRequest,
                                 context: aio.ServicerContext) -> pb.UpdateCloseFriendsResponse:
        me = current_principal()
        count = await self._close_friends.update(me.user_id, list(request.add_user_ids),
                                                 list(request.remove_user_ids))
        return pb.UpdateCloseFriendsResponse(close_friend_count=count)

    async def ListCloseFriends(self, request: pb.ListCloseFriendsRequest,
                               context: aio.ServicerContext) -> pb.ListCloseFriendsResponse:
        me = current_principal()
        size = page_size(request.page_size)
        scope = "story.ListCloseFriends"
        cursor = self._cursor(request.page_token, scope, me.user_id)
        friends, state = await self._close_friends.page(
            me.user_id, size, cursor.paging_state or None if cursor else None)
        summaries = await self._stories.summaries(f.user_id for f in friends)
        reply = pb.ListCloseFriendsResponse(
            next_page_token=self._next(scope, me.user_id, paging_state=state))
        for friend in friends:
            entry = reply.close_friends.add()
            entry.user.CopyFrom(summaries[friend.user_id])
            entry.add_time.FromMilliseconds(friend.add_ms)
        return reply
