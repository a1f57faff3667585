"""StoryService through its gRPC contract on the real backends and the real graph."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.story.v1 import story_service_pb2 as pb

from tests.graph_support import Users, approve, block, follow, graph_stub, make_private
from tests.helpers import error_info, field_violations

FOLLOWERS = pb.STORY_AUDIENCE_FOLLOWERS
CLOSE_FRIENDS = pb.STORY_AUDIENCE_CLOSE_FRIENDS


async def post_story(stories, user, text: str = "hello", audience: int = FOLLOWERS) -> pb.Story:
    reply = await stories.CreateStory(pb.CreateStoryRequest(
        request_id=str(uuid.uuid4()), text=text, audience=audience), metadata=user.md)
    return reply.story


async def tray(stories, user, page_size: int = 0) -> list[pb.StoryTrayEntry]:
    entries, token = [], ""
    while True:
        reply = await stories.GetStoryTray(pb.GetStoryTrayRequest(
            page_size=page_size, page_token=token), metadata=user.md)
        entries.extend(reply.entries)
        token = reply.next_page_token
        if not token:
            return entries


async def test_a_text_story_is_published_for_a_day(stories, channel_to) -> None:
    (author,) = await Users.register(channel_to("auth"), 1)
    story = await post_story(stories, author, "good morning")
    assert story.story_id > 0 and story.text == "good morning"
    assert story.author.user_id == author.user_id and story.author.username == author.username
    assert story.audience == FOLLOWERS
    lifetime = story.expire_time.ToSeconds() - story.create_time.ToSeconds()
    assert lifetime == 86400
    got = await stories.GetStory(pb.GetStoryRequest(story_id=story.story_id),
                                 metadata=author.md)
    assert got.story.text == "good morning" and got.story.view_count == 0


async def test_create_is_idempotent_on_request_id(stories, channel_to) -> None:
    (author,) = await Users.register(channel_to("auth"), 1)
    request = pb.CreateStoryRequest(request_id=str(uuid.uuid4()), text="once")
    first = await stories.CreateStory(request, metadata=author.md)
    again = await stories.CreateStory(request, metadata=author.md)
    assert again.story.story_id == first.story.story_id
    request.text = "something else"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.CreateStory(request, metadata=author.md)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(err.value).reason == "REQUEST_ID_REUSED"


async def test_bad_requests_name_the_fields(stories, channel_to) -> None:
    (author,) = await Users.register(channel_to("auth"), 1)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.CreateStory(pb.CreateStoryRequest(request_id="x", text="a" * 501,
                                                        audience=7), metadata=author.md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(err.value)) == {"request_id", "text", "audience"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.CreateStory(pb.CreateStoryRequest(request_id=str(uuid.uuid4())),
                                  metadata=author.md)
    assert set(field_violations(err.value)) == {"text"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.GetStoryTray(pb.GetStoryTrayRequest(page_size=-1), metadata=author.md)
    assert error_info(err.value).reason == "PAGE_SIZE_INVALID"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.GetStory(pb.GetStoryRequest(story_id=0), metadata=author.md)
    assert set(field_violations(err.value)) == {"story_id"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.GetStory(pb.GetStoryRequest(story_id=1))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_the_tray_shows_followees_unseen_first_and_pages(stories, channel_to) -> None:
    viewer, a, b, c, stranger = await Users.register(channel_to("auth"), 5)
    graph = graph_stub(channel_to("graph"))
    for author in (a, b, c):
        await follow(graph, viewer, author.user_id)
    a1 = await post_story(stories, a, "a1")
    a2 = await post_story(stories, a, "a2")
    await post_story(stories, b, "b1")
    c1 = await post_story(stories, c, "c1")
    await post_story(stories, stranger, "not followed")
    mine = await post_story(stories, viewer, "mine")

    await stories.MarkStorySeen(pb.MarkStorySeenRequest(story_id=c1.story_id),
                                metadata=viewer.md)
    entries = await tray(stories, viewer, page_size=1)
    assert [e.author.user_id for e in entries] == [viewer.user_id, b.user_id, a.user_id,
                                                  c.user_id]
    assert [s.story_id for s in entries[0].stories] == [mine.story_id]
    assert [s.story_id for s in entries[2].stories] == [a1.story_id, a2.story_id]  # play order
    assert [e.has_unseen for e in entries[1:]] == [True, True, False]
    assert entries[3].stories[0].seen_by_caller
    assert entries[2].latest_create_time == a2.create_time

    await stories.MarkStorySeen(pb.MarkStorySeenRequest(story_id=a1.story_id),
                                metadata=viewer.md)
    entries = await tray(stories, viewer)
    assert [s.seen_by_caller for s in entries[2].stories] == [True, False]


async def test_close_friends_stories_reach_only_close_friends(stories, channel_to) -> None:
    author, friend, follower = await Users.register(channel_to("auth"), 3)
    graph = graph_stub(channel_to("graph"))
    for user in (friend, follower):
        await follow(graph, user, author.user_id)
    reply = await stories.UpdateCloseFriends(pb.UpdateCloseFriendsRequest(
        add_user_ids=[friend.user_id]), metadata=author.md)
    assert reply.close_friend_count == 1
    listed = await stories.ListCloseFriends(pb.ListCloseFriendsRequest(), metadata=author.md)
    assert [f.user.username for f in listed.close_friends] == [friend.username]

    secret = await post_story(stories, author, "close friends only", CLOSE_FRIENDS)
    public = await post_story(stories, author, "everyone")
    friend_tray = await tray(stories, friend)
    assert [s.story_id for s in friend_tray[0].stories] == [secret.story_id, public.story_id]
    follower_tray = await tray(stories, follower)
    assert [s.story_id for s in follower_tray[0].stories] == [public.story_id]
    await stories.GetStory(pb.GetStoryRequest(story_id=secret.story_id), metadata=friend.md)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.GetStory(pb.GetStoryRequest(story_id=secret.story_id),
                               metadata=follower.md)
    assert error_info(err.value).reason == "STORY_NOT_FOUND"

    await stories.UpdateCloseFriends(pb.UpdateCloseFriendsRequest(
        remove_user_ids=[friend.user_id]), metadata=author.md)
    friend_tray = await tray(stories, friend)
    assert [s.story_id for s in friend_tray[0].stories] == [public.story_id]

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.UpdateCloseFriends(pb.UpdateCloseFriendsRequest(
            add_user_ids=[author.user_id]), metadata=author.md)
    assert error_info(err.value).reason == "SELF_RELATIONSHIP"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.UpdateCloseFriends(pb.UpdateCloseFriendsRequest(
            add_user_ids=["not-a-uuid"]), metadata=author.md)
    assert "add_user_ids[0]" in field_violations(err.value)


async def test_private_accounts_and_blocks_hide_stories(stories, channel_to) -> None:
    author, stranger, blocked, follower = await Users.register(channel_to("auth"), 4)
    graph = graph_stub(channel_to("graph"))
    story = await post_story(stories, author)
    # A public account's story: anyone may open it.
    await stories.GetStory(pb.GetStoryRequest(story_id=story.story_id), metadata=stranger.md)
    await block(graph, author, blocked.user_id)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.GetStory(pb.GetStoryRequest(story_id=story.story_id),
                               metadata=blocked.md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    await make_private(graph, author)
    # A stranger, even one whose follow request is pending, neither opens the story nor
    # finds it in their tray.
    assert await follow(graph, stranger, author.user_id) == gpb.RELATIONSHIP_STATUS_REQUESTED
    for call in (stories.GetStory(pb.GetStoryRequest(story_id=story.story_id),
                                  metadata=stranger.md),
                 stories.MarkStorySeen(pb.MarkStorySeenRequest(story_id=story.story_id),
                                       metadata=stranger.md)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_info(err.value).reason == "ACCOUNT_PRIVATE"
    assert author.user_id not in {e.author.user_id for e in await tray(stories, stranger)}

    # An approved follower does both (so the checks above are not vacuous).
    await follow(graph, follower, author.user_id)
    await approve(graph, author, follower.user_id)
    got = await stories.GetStory(pb.GetStoryRequest(story_id=story.story_id),
                                 metadata=follower.md)
    assert got.story.story_id == story.story_id
    assert [s.story_id for e in await tray(stories, follower) for s in e.stories
            if e.author.user_id == author.user_id] == [story.story_id]


async def test_views_are_exact_under_concurrent_viewers(stories, channel_to) -> None:
    author, *viewers = await Users.register(channel_to("auth"), 9)
    story = await post_story(stories, author)
    marks = [stories.MarkStorySeen(pb.MarkStorySeenRequest(story_id=story.story_id),
                                   metadata=v.md) for v in viewers for _ in range(3)]
    await asyncio.gather(*marks)
    await stories.MarkStorySeen(pb.MarkStorySeenRequest(story_id=story.story_id),
                                metadata=author.md)  # the author's own look is no view
    reply = await stories.ListStoryViewers(pb.ListStoryViewersRequest(
        story_id=story.story_id, page_size=5), metadata=author.md)
    assert reply.view_count == 8 and len(reply.viewers) == 5
    rest = await stories.ListStoryViewers(pb.ListStoryViewersRequest(
        story_id=story.story_id, page_size=5, page_token=reply.next_page_token),
        metadata=author.md)
    listed = [v.user.user_id for v in [*reply.viewers, *rest.viewers]]
    assert sorted(listed) == sorted(v.user_id for v in viewers)
    times = [v.view_time.ToNanoseconds() for v in [*reply.viewers, *rest.viewers]]
    assert times == sorted(times, reverse=True)
    got = await stories.GetStory(pb.GetStoryRequest(story_id=story.story_id),
                                 metadata=author.md)
    assert got.story.view_count == 8

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.ListStoryViewers(pb.ListStoryViewersRequest(story_id=story.story_id),
                                       metadata=viewers[0].md)
    assert error_info(err.value).reason == "NOT_AUTHOR"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.ListStoryViewers(pb.ListStoryViewersRequest(
            story_id=story.story_id, page_token=reply.next_page_token), metadata=viewers[0].md)
    assert error_info(err.value).reason == "PAGE_TOKEN_INVALID"  # not transferable


async def test_the_author_deletes_a_story(stories, channel_to) -> None:
    author, follower = await Users.register(channel_to("auth"), 2)
    await follow(graph_stub(channel_to("graph")), follower, author.user_id)
    story = await post_story(stories, author)
    assert [e.author.user_id for e in await tray(stories, follower)] == [author.user_id]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.DeleteStory(pb.DeleteStoryRequest(story_id=story.story_id),
                                  metadata=follower.md)
    assert error_info(err.value).reason == "NOT_AUTHOR"
    await stories.DeleteStory(pb.DeleteStoryRequest(story_id=story.story_id),
                              metadata=author.md)
    await stories.DeleteStory(pb.DeleteStoryRequest(story_id=story.story_id),
                              metadata=author.md)  # idempotent for the author
    assert await tray(stories, follower) == []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.GetStory(pb.GetStoryRequest(story_id=story.story_id),
                               metadata=author.md)
    assert error_info(err.value).reason == "STORY_NOT_FOUND"
