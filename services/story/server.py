"""gRPC transport of StoryService: proto in, domain call, proto out."""

from __future__ import annotations

from grpc import aio
from photomesh.story.v1 import story_service_pb2 as pb
from photomesh.story.v1 import story_service_pb2_grpc as pb_grpc

from services.runtime.auth import current_principal
from services.runtime.clock import timestamp_from_ms
from services.story.close_friends import CloseFriends
from services.story.stories import Stories, StoryView
from services.story.tray import Tray, TrayEntry


def _story(view: StoryView) -> pb.Story:
    record = view.story
    story = pb.Story(story_id=record.story_id, text=record.text,
                     audience=record.audience,  # type: ignore[arg-type]
                     seen_by_caller=view.seen, view_count=view.view_count,
                     create_time=timestamp_from_ms(record.create_ms),
                     expire_time=timestamp_from_ms(record.expire_ms))
    story.author.CopyFrom(view.author)
    if record.media is not None:
        story.media.CopyFrom(record.media)
    return story


def _tray_entry(entry: TrayEntry) -> pb.StoryTrayEntry:
    out = pb.StoryTrayEntry(author=entry.author, has_unseen=entry.has_unseen,
                            latest_create_time=timestamp_from_ms(entry.latest_ms))
    out.stories.extend(_story(StoryView(s, entry.author, s.story_id in entry.seen, 0))
                       for s in entry.stories)
    return out


def _me() -> str:
    """The signed-in user making the call (read here, handed to the domain)."""
    return current_principal().user_id


class StoryServicer(pb_grpc.StoryServiceServicer):
    def __init__(self, stories: Stories, tray: Tray, close_friends: CloseFriends) -> None:
        self._stories = stories
        self._tray = tray
        self._close_friends = close_friends

    async def CreateStory(self, request: pb.CreateStoryRequest, context: aio.ServicerContext
                          ) -> pb.CreateStoryResponse:
        view = await self._stories.create(_me(), request.request_id, request.media_id,
                                          request.text, request.audience)
        return pb.CreateStoryResponse(story=_story(view))

    async def GetStory(self, request: pb.GetStoryRequest, context: aio.ServicerContext
                       ) -> pb.GetStoryResponse:
        return pb.GetStoryResponse(story=_story(await self._stories.get(_me(),
                                                                        request.story_id)))

    async def DeleteStory(self, request: pb.DeleteStoryRequest, context: aio.ServicerContext
                          ) -> pb.DeleteStoryResponse:
        await self._stories.delete(_me(), request.story_id)
        return pb.DeleteStoryResponse()

    async def GetStoryTray(self, request: pb.GetStoryTrayRequest, context: aio.ServicerContext
                           ) -> pb.GetStoryTrayResponse:
        entries, token = await self._tray.page(_me(), request.page_size, request.page_token)
        return pb.GetStoryTrayResponse(entries=[_tray_entry(e) for e in entries],
                                       next_page_token=token)

    async def MarkStorySeen(self, request: pb.MarkStorySeenRequest,
                            context: aio.ServicerContext) -> pb.MarkStorySeenResponse:
        await self._stories.mark_seen(_me(), request.story_id)
        return pb.MarkStorySeenResponse()

    async def ListStoryViewers(self, request: pb.ListStoryViewersRequest,
                               context: aio.ServicerContext) -> pb.ListStoryViewersResponse:
        viewers, token, count = await self._stories.viewers(
            _me(), request.story_id, request.page_size, request.page_token)
        return pb.ListStoryViewersResponse(
            viewers=[pb.StoryViewer(user=user, view_time=timestamp_from_ms(at))
                     for user, at in viewers],
            next_page_token=token, view_count=count)

    async def ListArchivedStories(self, request: pb.ListArchivedStoriesRequest,
                                  context: aio.ServicerContext
                                  ) -> pb.ListArchivedStoriesResponse:
        views, token = await self._stories.archived(_me(), request.page_size,
                                                    request.page_token)
        return pb.ListArchivedStoriesResponse(stories=[_story(v) for v in views],
                                              next_page_token=token)

    async def UpdateCloseFriends(self, request: pb.UpdateCloseFriendsRequest,
                                 context: aio.ServicerContext) -> pb.UpdateCloseFriendsResponse:
        count = await self._close_friends.update(_me(), list(request.add_user_ids),
                                                 list(request.remove_user_ids))
        return pb.UpdateCloseFriendsResponse(close_friend_count=count)

    async def ListCloseFriends(self, request: pb.ListCloseFriendsRequest,
                               context: aio.ServicerContext) -> pb.ListCloseFriendsResponse:
        friends, token = await self._close_friends.page(_me(), request.page_size,
                                                        request.page_token)
        return pb.ListCloseFriendsResponse(
            close_friends=[pb.CloseFriend(user=user, add_time=timestamp_from_ms(at))
                           for user, at in friends],
            next_page_token=token)
