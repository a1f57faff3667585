"""Like counts through the service: exact under many users' concurrent likes and unlikes,
and no-op calls (a repeated like, unlike, comment like, delete) that change nothing cached:
rows are changed in CQL behind the service's back, so a recount would show."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from photomesh.post.v1 import events_pb2 as ev
from photomesh.post.v1 import post_service_pb2 as pb

from services.post.store.comments import CommentRows
from services.post.store.posts import PostRows
from services.runtime.cql import CqlStore
from services.runtime.settings import CqlSettings, load
from tests.post.conftest import published


@pytest.fixture(scope="module")
async def cql(mesh) -> AsyncIterator[CqlStore]:
    store = await CqlStore.connect(load(CqlSettings))
    await store.use_keyspace()
    yield store
    await store.close()


@pytest.fixture
async def redis_keys(mesh) -> AsyncIterator:
    client = aioredis.Redis.from_url(mesh.env["PHOTOMESH_REDIS_URL"])
    prefix = mesh.env["PHOTOMESH_REDIS_KEY_PREFIX"]

    async def n(kind: str, subject: object) -> bytes | None:
        return await client.get(f"{prefix}post:n:{{{kind}:{subject}}}")
    yield n
    await client.aclose()


async def _seen(post, post_id: int, user) -> pb.Post:
    return (await post.GetPost(pb.GetPostRequest(post_id=post_id), metadata=user.md)).post


async def test_many_users_liking_and_unliking_at_once_give_the_exact_count(
        post, new_user, create_post, mesh) -> None:
    author = await new_user()
    fans = await asyncio.gather(*(new_user() for _ in range(12)))
    pid = (await create_post(author)).post_id
    like = pb.LikePostRequest(post_id=pid)
    unlike = pb.UnlikePostRequest(post_id=pid)

    async def stays(fan) -> None:  # like, unlike, like again (each step sent twice at once)
        for request, call in ((like, post.LikePost), (unlike, post.UnlikePost),
                              (like, post.LikePost)):
            await asyncio.gather(call(request, metadata=fan.md), call(request, metadata=fan.md))

    async def leaves(fan) -> None:  # like three times at once, then unlike
        await asyncio.gather(*(post.LikePost(like, metadata=fan.md) for _ in range(3)))
        await post.UnlikePost(unlike, metadata=fan.md)

    staying, leaving = fans[:7], fans[7:]
    await asyncio.gather(*(stays(f) for f in staying), *(leaves(f) for f in leaving))
    assert (await _seen(post, pid, author)).like_count == 7
    likers = await post.ListPostLikers(pb.ListPostLikersRequest(post_id=pid, page_size=50),
                                       metadata=author.md)
    assert sorted(x.user.user_id for x in likers.likers) == sorted(f.user_id for f in staying)
    for fan in fans:
        status = await post.BatchGetLikeStatus(pb.BatchGetLikeStatusRequest(post_ids=[pid]),
                                               metadata=fan.md)
        assert status.statuses[0].liked == (fan in staying)
    # Each like and each unlike that changed something was published exactly once.
    liked = await published(mesh.env, "liked", ev.PostLikedEvent, lambda e: e.post_id == pid,
                            wait_for=2 * 7 + 5)
    unliked = await published(mesh.env, "unliked", ev.PostUnlikedEvent,
                              lambda e: e.post_id == pid, wait_for=7 + 5)
    await asyncio.sleep(0.5)  # nothing more comes
    liked = await published(mesh.env, "liked", ev.PostLikedEvent, lambda e: e.post_id == pid)
    unliked = await published(mesh.env, "unliked", ev.PostUnlikedEvent,
                              lambda e: e.post_id == pid)
    for fan in staying:
        assert len([e for e in liked if e.liker_user_id == fan.user_id]) == 2
        assert len([e for e in unliked if e.liker_user_id == fan.user_id]) == 1
    for fan in leaving:
        assert len([e for e in liked if e.liker_user_id == fan.user_id]) == 1
        assert len([e for e in unliked if e.liker_user_id == fan.user_id]) == 1
    assert len({e.like_id for e in liked}) == len(liked)


async def test_repeated_likes_and_unlikes_change_nothing_cached(post, new_user, create_post,
                                                                cql, redis_keys) -> None:
    author, fan, other = await new_user(), await new_user(), await new_user()
    pid = (await create_post(author)).post_id
    assert (await post.LikePost(pb.LikePostRequest(post_id=pid), metadata=fan.md)).like_count == 1
    assert await redis_keys("likes", pid) == b"1"
    # Behind the service's back: a like row nobody made. A recount would now say 2.
    await cql.execute("INSERT INTO post_likes (post_id, user_id, like_id, like_time, published, "
                      "unliked) VALUES (?, ?, ?, ?, true, false)",
                      (pid, uuid.uuid4(), 1, datetime.now(UTC)))
    for _ in range(3):
        again = await post.LikePost(pb.LikePostRequest(post_id=pid), metadata=fan.md)
        assert again.like_count == 1
        gone = await post.UnlikePost(pb.UnlikePostRequest(post_id=pid), metadata=other.md)
        assert gone.like_count == 1
    assert await redis_keys("likes", pid) == b"1", "the cached count is still there"
    assert (await _seen(post, pid, other)).like_count == 1
    # A real change still counts from the cached value.
    assert (await post.LikePost(pb.LikePostRequest(post_id=pid),
                                metadata=other.md)).like_count == 2


async def test_repeated_comment_likes_and_deletes_change_nothing_cached(
        post, new_user, create_post, cql, redis_keys) -> None:
    author, fan = await new_user(), await new_user()
    pid = (await create_post(author)).post_id
    comments = []
    for i in range(2):
        reply = await post.CreateComment(pb.CreateCommentRequest(
            request_id=str(uuid.uuid4()), post_id=pid, text=f"nice {i}"), metadata=fan.md)
        comments.append(reply.comment.comment_id)
    cid = comments[0]
    liked = await post.LikeComment(pb.LikeCommentRequest(post_id=pid, comment_id=cid),
                                   metadata=author.md)
    assert liked.like_count == 1
    await cql.execute("INSERT INTO post_comment_likes (comment_id, user_id, like_time) "
                      "VALUES (?, ?, ?)", (cid, uuid.uuid4(), datetime.now(UTC)))
    for _ in range(3):
        again = await post.LikeComment(pb.LikeCommentRequest(post_id=pid, comment_id=cid),
                                       metadata=author.md)
        assert again.like_count == 1
        none = await post.UnlikeComment(pb.UnlikeCommentRequest(post_id=pid, comment_id=cid),
                                        metadata=fan.md)
        assert none.like_count == 1
    assert await redis_keys("comment_likes", cid) == b"1"

    # Deleting a comment twice: the second changes no cached count.
    assert (await _seen(post, pid, fan)).comment_count == 2
    await post.DeleteComment(pb.DeleteCommentRequest(post_id=pid, comment_id=comments[1]),
                             metadata=fan.md)
    assert (await _seen(post, pid, fan)).comment_count == 1
    await cql.execute("INSERT INTO post_comments (post_id, parent_id, comment_id, author_id, "
                      "text) VALUES (?, 0, ?, ?, 'ghost')", (pid, 7, uuid.uuid4()))
    for _ in range(2):
        await post.DeleteComment(pb.DeleteCommentRequest(post_id=pid, comment_id=comments[1]),
                                 metadata=fan.md)
    assert await redis_keys("comments", pid) == b"1"
    assert (await _seen(post, pid, fan)).comment_count == 1
    # The repeat knows when the first delete was written (so, once its record of being
    # counted has expired, it still changes nothing: tests/post/test_counters.py).
    ref = await CommentRows(cql).comment_ref(pid, comments[1])
    assert ref is not None and ref.deleted_ms is not None
    assert abs(time.time() * 1000 - ref.deleted_ms) < 120_000


async def test_deleting_a_post_twice_changes_no_cached_count(post, new_user, create_post, cql,
                                                             redis_keys) -> None:
    author = await new_user()
    first, second = await create_post(author), await create_post(author)
    listed = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                      metadata=author.md)
    assert listed.total_size == 2
    await post.DeletePost(pb.DeletePostRequest(post_id=first.post_id), metadata=author.md)
    await cql.execute("INSERT INTO post_user_posts (author_id, post_id) VALUES (?, ?)",
                      (uuid.UUID(author.user_id), 5))
    await post.DeletePost(pb.DeletePostRequest(post_id=first.post_id), metadata=author.md)
    assert await redis_keys("posts", author.user_id) == b"1"
    deleted = await PostRows(cql).get_post(first.post_id)
    assert deleted is not None and deleted.deleted_ms is not None
    assert abs(time.time() * 1000 - deleted.deleted_ms) < 120_000
    listed = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                      metadata=author.md)
    assert listed.total_size == 1
    assert second.post_id in [p.post_id for p in listed.posts]
