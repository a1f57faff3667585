"""Likes: idempotent, counted once under concurrency, counters rebuilt from CQL when cold."""

from __future__ import annotations

import asyncio

import grpc
import pytest
import redis.asyncio as aioredis
from photomesh.post.v1 import events_pb2 as ev
from photomesh.post.v1 import post_service_pb2 as pb

from tests.helpers import error_info
from tests.post.conftest import published


async def _count(post, post_id: int, user) -> pb.Post:
    return (await post.GetPost(pb.GetPostRequest(post_id=post_id), metadata=user.md)).post


async def test_likes_are_idempotent_and_counted_once_under_concurrency(post, new_user,
                                                                         create_post,
                                                                         mesh) -> None:
    author = await new_user()
    fans = await asyncio.gather(*(new_user() for _ in range(4)))
    created = await create_post(author)
    pid = created.post_id
    # Every fan likes eight times at once; the author's view must count each fan once.
    await asyncio.gather(*(post.LikePost(pb.LikePostRequest(post_id=pid), metadata=f.md)
                           for f in fans for _ in range(8)))
    seen = await _count(post, pid, author)
    assert seen.like_count == 4 and not seen.liked_by_caller
    assert (await _count(post, pid, fans[0])).liked_by_caller
    again = await post.LikePost(pb.LikePostRequest(post_id=pid), metadata=fans[0].md)
    assert again.like_count == 4

    likers = await post.ListPostLikers(pb.ListPostLikersRequest(post_id=pid, page_size=3),
                                       metadata=author.md)
    assert len(likers.likers) == 3 and likers.next_page_token
    rest = await post.ListPostLikers(pb.ListPostLikersRequest(
        post_id=pid, page_size=3, page_token=likers.next_page_token), metadata=author.md)
    ids = [x.user.user_id for x in [*likers.likers, *rest.likers]]
    assert sorted(ids) == sorted(f.user_id for f in fans) and not rest.next_page_token
    times = [x.like_time.ToNanoseconds() for x in [*likers.likers, *rest.likers]]
    assert times == sorted(times, reverse=True)

    events = await published(mesh.env, "liked", ev.PostLikedEvent,
                             lambda e: e.post_id == pid, wait_for=4)
    assert sorted(e.liker_user_id for e in events) == sorted(f.user_id for f in fans)
    assert all(e.post_author_user_id == author.user_id for e in events)

    await asyncio.gather(*(post.UnlikePost(pb.UnlikePostRequest(post_id=pid), metadata=fans[0].md)
                           for _ in range(5)))
    after = await post.UnlikePost(pb.UnlikePostRequest(post_id=pid), metadata=fans[1].md)
    assert after.like_count == 2
    status = await post.BatchGetLikeStatus(pb.BatchGetLikeStatusRequest(
        post_ids=[pid, pid, 42]), metadata=fans[2].md)
    assert [(s.post_id, s.liked) for s in status.statuses] == [(pid, True), (42, False)]
    status = await post.BatchGetLikeStatus(pb.BatchGetLikeStatusRequest(post_ids=[pid]),
                                           metadata=fans[0].md)
    assert not status.statuses[0].liked


async def test_counters_are_rebuilt_from_cql_when_redis_forgets(post, new_user, create_post,
                                                                mesh) -> None:
    author, fan = await new_user(), await new_user()
    first, second = await create_post(author), await create_post(author)
    await post.LikePost(pb.LikePostRequest(post_id=first.post_id), metadata=fan.md)
    await post.LikePost(pb.LikePostRequest(post_id=first.post_id), metadata=author.md)
    await post.CreateComment(pb.CreateCommentRequest(
        request_id="rebuild-" + str(first.post_id), post_id=first.post_id, text="nice"),
        metadata=fan.md)
    client = aioredis.Redis.from_url(mesh.env["PHOTOMESH_REDIS_URL"])
    prefix = mesh.env["PHOTOMESH_REDIS_KEY_PREFIX"]
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}post:*")]
        assert keys, "the counters should be cached in Redis"
        await client.delete(*keys)
        got = await _count(post, first.post_id, fan)
        assert (got.like_count, got.comment_count) == (2, 1)
        listed = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                          metadata=fan.md)
        assert listed.total_size == 2
        assert {p.post_id: p.like_count for p in listed.posts} == {first.post_id: 2,
                                                                   second.post_id: 0}
        # Rebuilt, the cache keeps counting from the right value.
        reply = await post.UnlikePost(pb.UnlikePostRequest(post_id=first.post_id),
                                      metadata=author.md)
        assert reply.like_count == 1
        assert [k async for k in client.scan_iter(match=f"{prefix}post:n:*")]
    finally:
        await client.aclose()


async def test_likes_need_a_visible_post(post, new_user, create_post) -> None:
    author, fan = await new_user(), await new_user()
    created = await create_post(author)
    await post.DeletePost(pb.DeletePostRequest(post_id=created.post_id), metadata=author.md)
    for call in (post.LikePost(pb.LikePostRequest(post_id=created.post_id), metadata=fan.md),
                 post.ListPostLikers(pb.ListPostLikersRequest(post_id=created.post_id),
                                     metadata=fan.md)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert error_info(err.value).reason == "POST_NOT_FOUND"
