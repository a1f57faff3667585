"""Reading feeds: hydration, pagination (stable, past the cache into the CQL store), the
ranked mode, profile feeds and privacy, input validation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable

import grpc
import pytest
from photomesh.feed.v1 import feed_service_pb2 as fpb
from photomesh.post.v1 import post_service_pb2 as ppb

from tests.feed.conftest import FEED_TEST_SETTINGS
from tests.feed.support import World, eventually
from tests.graph_support import approve, follow, make_private
from tests.helpers import error_info, field_violations


@pytest.fixture
def world(feed_mesh, channel_to) -> World:
    return World(channel_to)


async def test_items_are_hydrated_for_the_caller(world: World) -> None:
    author, follower = await world.users(2)
    await world.follow([follower], author)
    post = await world.post(author, "hello #sunset")
    await world.wait_in_feed(follower, post.post_id)
    await world.posts.LikePost(ppb.LikePostRequest(post_id=post.post_id), metadata=follower.md)
    (item,) = (await eventually(lambda: world.home(follower),
                                lambda r: r.items[0].post.liked_by_caller,
                                what="the like in the read model")).items
    assert item.post.author.user_id == author.user_id
    assert item.post.author.username == author.username
    assert item.post.caption == "hello #sunset"
    assert list(item.post.hashtags) == ["sunset"]
    assert item.post.media and item.post.media[0].variants
    assert item.post.like_count == 1 and item.post.liked_by_caller


async def test_pages_are_stable_while_posts_arrive_and_run_past_the_cache(
        world: World) -> None:
    author, follower = await world.users(2)
    await world.follow([follower], author)
    await world.home(follower)  # active: fan-out lands in the (capped) cache
    cap = int(FEED_TEST_SETTINGS["CACHE_CAP"])
    posts = await world.posts_of(author, cap + 4)
    expected = [p.post_id for p in reversed(posts)]
    await world.wait_in_feed(follower, posts[-1].post_id)
    await eventually(lambda: world.home_ids(follower), lambda ids: ids == expected,
                     what="every post delivered")
    first = await world.home(follower, page_size=5)
    newer = await world.post(author, "arrives while paging")
    await world.wait_in_feed(follower, newer.post_id)
    seen = [i.post.post_id for i in first.items]
    token = first.next_page_token
    while token:
        page = await world.home(follower, page_size=5, page_token=token)
        seen += [i.post.post_id for i in page.items]
        token = page.next_page_token
    assert seen == expected  # nothing repeated or skipped, the new post not mixed in
    assert (await world.home(follower, page_size=1)).items[0].post.post_id == newer.post_id


async def test_the_ranked_mode_puts_the_author_the_viewer_engages_with_first(
        world: World) -> None:
    viewer, friend, stranger = await world.users(3)
    await world.follow([viewer], friend)
    await world.follow([viewer], stranger)
    liked = await world.post(friend, "liked before")
    await world.posts.LikePost(ppb.LikePostRequest(post_id=liked.post_id), metadata=viewer.md)
    await world.posts.CreateComment(ppb.CreateCommentRequest(
        request_id=str(uuid.uuid4()), post_id=liked.post_id, text="great"), metadata=viewer.md)
    older = await world.post(friend, "older, from a friend")
    newer = await world.post(stranger, "newer, from a stranger")
    await world.wait_in_feed(viewer, newer.post_id)
    chronological = await world.home_ids(viewer)
    assert chronological.index(newer.post_id) < chronological.index(older.post_id)

    def friend_first(ids: list[int]) -> bool:
        return older.post_id in ids and ids.index(older.post_id) < ids.index(newer.post_id)

    ranked = await eventually(lambda: world.home(viewer, mode=fpb.FEED_MODE_RANKED),
                              lambda r: friend_first([i.post.post_id for i in r.items]),
                              what="affinity counted")
    scores = [i.score for i in ranked.items]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)


async def test_ranked_pages_walk_one_snapshot(world: World) -> None:
    author, viewer, *likers = await world.users(4)
    await world.follow([viewer], author)
    posts = await world.posts_of(author, 6)
    await world.wait_in_feed(viewer, posts[-1].post_id)
    await eventually(lambda: world.home_ids(viewer), lambda ids: len(ids) == 6)

    def ranked(page_token: str = "") -> Awaitable[fpb.GetHomeFeedResponse]:
        return world.home(viewer, page_size=2, page_token=page_token,
                          mode=fpb.FEED_MODE_RANKED)

    first = await ranked()
    walked = list(first.items)
    # Between pages the ranking's inputs all move: every post not on the first page gets
    # likes (a fresh ranking would put them first), a new post arrives, one post is deleted.
    rest = [p.post_id for p in posts if p.post_id not in {i.post.post_id for i in walked}]
    await asyncio.gather(*(world.posts.LikePost(ppb.LikePostRequest(post_id=post_id),
                                                metadata=liker.md)
                           for post_id in rest for liker in likers))
    newer = await world.post(author, "arrives while paging")
    await world.wait_in_feed(viewer, newer.post_id)
    deleted = rest[-1]
    await world.posts.DeletePost(ppb.DeletePostRequest(post_id=deleted), metadata=author.md)
    await world.wait_in_feed(viewer, deleted, present=False)

    token = first.next_page_token
    while token:
        page = await ranked(token)
        walked += page.items
        token = page.next_page_token
    seen = [i.post.post_id for i in walked]
    assert len(seen) == len(set(seen)), f"a post came twice: {seen}"
    assert set(seen) == {p.post_id for p in posts} - {deleted}  # nothing skipped, nothing new
    scores = [i.score for i in walked]
    assert scores == sorted(scores, reverse=True), "pages left the first page's ranking"
    with pytest.raises(grpc.aio.AioRpcError) as err:  # a ranked token in the other mode
        await world.home(viewer, page_token=first.next_page_token)
    assert error_info(err.value).reason == "PAGE_TOKEN_INVALID"


async def test_the_profile_feed_respects_privacy(world: World) -> None:
    owner, follower, stranger = await world.users(3)
    post = await world.post(owner)
    await make_private(world.graph, owner)
    await follow(world.graph, follower, owner.user_id)
    await approve(world.graph, owner, follower.user_id)
    request = fpb.GetProfileFeedRequest(user_id=owner.user_id)
    reply = await world.feed.GetProfileFeed(request, metadata=follower.md)
    assert [i.post.post_id for i in reply.items] == [post.post_id]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await world.feed.GetProfileFeed(request, metadata=stranger.md)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(("request_", "field", "reason"), [
    (fpb.GetHomeFeedRequest(page_size=-1), "page_size", "PAGE_SIZE_INVALID"),
    (fpb.GetHomeFeedRequest(page_token="garbage"), "page_token", "PAGE_TOKEN_INVALID"),
    (fpb.GetHomeFeedRequest(mode=9), "mode", "INVALID_ARGUMENT"),
    (fpb.GetProfileFeedRequest(user_id="not-a-uuid"), "user_id", "INVALID_ARGUMENT"),
])
async def test_bad_requests_are_invalid_argument(world: World, request_, field: str,
                                                 reason: str) -> None:
    (user,) = await world.users(1)
    call = (world.feed.GetHomeFeed if isinstance(request_, fpb.GetHomeFeedRequest)
            else world.feed.GetProfileFeed)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(request_, metadata=user.md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(err.value).reason == reason
    assert field in field_violations(err.value)


async def test_feeds_need_a_signed_in_user(world: World) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await world.feed.GetHomeFeed(fpb.GetHomeFeedRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
