"""Expiry and the archive: a story made on the mesh's story service, then looked at through
a story process whose clock runs a day ahead (`story_later`), to which it has expired.

Nothing races the wall clock: the story is live for a day where it is made and checked,
and expired the moment it is asked about "later".
"""

from __future__ import annotations

import asyncio
import time
import uuid

import grpc
import pytest
from grpc import aio
from photomesh.story.v1 import story_service_pb2 as pb
from photomesh.story.v1 import story_service_pb2_grpc as pb_grpc

from tests.graph_support import Users, follow, graph_stub
from tests.story.conftest import STORY_TTL_SECONDS


async def poll(check, timeout: float = 30.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(every)


async def test_an_expired_story_is_gone_everywhere_and_archived(stories, story_later,
                                                                channel_to) -> None:
    author, follower, other = await Users.register(channel_to("auth"), 3)
    await follow(graph_stub(channel_to("graph")), follower, author.user_id)
    story = (await stories.CreateStory(pb.CreateStoryRequest(
        request_id=str(uuid.uuid4()), text="brief"), metadata=author.md)).story
    assert story.expire_time.ToSeconds() - story.create_time.ToSeconds() == STORY_TTL_SECONDS
    # Live now: seen, in the follower's tray, one view.
    await stories.MarkStorySeen(pb.MarkStorySeenRequest(story_id=story.story_id),
                                metadata=follower.md)
    tray = await stories.GetStoryTray(pb.GetStoryTrayRequest(), metadata=follower.md)
    assert [s.story_id for e in tray.entries for s in e.stories] == [story.story_id]
    viewers = await stories.ListStoryViewers(pb.ListStoryViewersRequest(
        story_id=story.story_id), metadata=author.md)
    assert viewers.view_count == 1

    target = await asyncio.to_thread(story_later)
    async with aio.insecure_channel(target) as channel:
        later = pb_grpc.StoryServiceStub(channel)  # a day on: the story has expired
        tray = await later.GetStoryTray(pb.GetStoryTrayRequest(), metadata=follower.md)
        assert list(tray.entries) == []
        own_tray = await later.GetStoryTray(pb.GetStoryTrayRequest(), metadata=author.md)
        assert list(own_tray.entries) == []
        for user in (follower, other):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await later.GetStory(pb.GetStoryRequest(story_id=story.story_id),
                                     metadata=user.md)
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await later.ListStoryViewers(pb.ListStoryViewersRequest(
                story_id=story.story_id), metadata=author.md)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await later.MarkStorySeen(pb.MarkStorySeenRequest(story_id=story.story_id),
                                      metadata=other.md)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND

        async def archived() -> list[int]:
            reply = await later.ListArchivedStories(pb.ListArchivedStoriesRequest(),
                                                    metadata=author.md)
            return [s.story_id for s in reply.stories]

        assert await poll(archived) == [story.story_id]
        others = await later.ListArchivedStories(pb.ListArchivedStoriesRequest(),
                                                 metadata=follower.md)
        assert list(others.stories) == []  # an archive is private to its author
        # The author still opens their archived story; nobody else does.
        got = await later.GetStory(pb.GetStoryRequest(story_id=story.story_id),
                                   metadata=author.md)
        assert got.story.text == "brief"
        await later.DeleteStory(pb.DeleteStoryRequest(story_id=story.story_id),
                                metadata=author.md)
        assert await archived() == []
