"""PostService posts through the contract, against the real mesh (graph, media, backends)."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
import redis.asyncio as aioredis
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh.post.v1 import events_pb2 as ev
from photomesh.post.v1 import post_service_pb2 as pb

from tests.graph_support import block, make_private
from tests.helpers import error_info, field_violations
from tests.post.conftest import published


async def _fails(call, code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    return err.value


async def test_create_parses_caption_copies_media_and_reads_back(post, new_user, media_for,
                                                                   mesh) -> None:
    author, friend = await new_user(), await new_user()
    media_ids = await media_for(author, 2)
    caption = f"Sunset #Beach #beach #summer_2026 with @{friend.username} and @nobody_here_x"
    created = (await post.CreatePost(pb.CreatePostRequest(
        request_id=str(uuid.uuid4()), caption=caption, media_ids=media_ids),
        metadata=author.md)).post
    assert created.post_id > 0
    assert created.author.user_id == author.user_id
    assert list(created.hashtags) == ["beach", "summer_2026"]
    assert [(m.user_id, m.username) for m in created.mentions] == [
        (friend.user_id, friend.username)]
    assert [m.media_id for m in created.media] == media_ids
    assert all(m.width > 0 and m.variants for m in created.media)
    assert (created.like_count, created.comment_count, created.liked_by_caller) == (0, 0, False)

    got = (await post.GetPost(pb.GetPostRequest(post_id=created.post_id),
                              metadata=friend.md)).post
    assert got == created

    events = await published(mesh.env, "created", ev.PostCreatedEvent,
                             lambda e: e.post_id == created.post_id, wait_for=1)
    assert len(events) == 1
    event = events[0]
    assert event.author_user_id == author.user_id
    assert list(event.media_ids) == media_ids and len(event.media) == 2
    assert list(event.hashtags) == ["beach", "summer_2026"]
    assert list(event.mentioned_user_ids) == [friend.user_id]
    assert event.create_time == created.create_time


async def test_create_is_idempotent_on_request_id(post, new_user, media_for, mesh) -> None:
    author = await new_user()
    request = pb.CreatePostRequest(request_id=str(uuid.uuid4()), caption="once",
                                   media_ids=await media_for(author, 1))
    replies = await asyncio.gather(*(post.CreatePost(request, metadata=author.md)
                                     for _ in range(5)))
    again = await post.CreatePost(request, metadata=author.md)
    assert len({r.post.post_id for r in replies} | {again.post.post_id}) == 1
    listed = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                      metadata=author.md)
    assert [p.post_id for p in listed.posts] == [again.post.post_id]
    assert listed.total_size == 1
    events = await published(mesh.env, "created", ev.PostCreatedEvent,
                             lambda e: e.post_id == again.post.post_id, wait_for=1)
    assert len(events) == 1

    reused = await _fails(post.CreatePost(pb.CreatePostRequest(
        request_id=request.request_id, caption="something else", media_ids=request.media_ids),
        metadata=author.md), grpc.StatusCode.ALREADY_EXISTS)
    assert error_info(reused).reason == "REQUEST_ID_REUSED"


async def test_bad_create_requests_name_the_fields(post, new_user, media_for) -> None:
    author, other = await new_user(), await new_user()
    own = await media_for(author, 1)
    rid = str(uuid.uuid4())
    cases = [
        (pb.CreatePostRequest(request_id=rid, caption="no media"), "media_ids"),
        (pb.CreatePostRequest(request_id=rid, media_ids=own * 11), "media_ids"),
        (pb.CreatePostRequest(request_id=rid, caption="x" * 2201, media_ids=own), "caption"),
        (pb.CreatePostRequest(request_id="short", media_ids=own), "request_id"),
        (pb.CreatePostRequest(request_id=rid, media_ids=["not a media id!"]), "media_ids[0]"),
        (pb.CreatePostRequest(request_id=rid, media_ids=[str(uuid.uuid4())]), "media_ids[0]"),
    ]
    for request, field in cases:
        err = await _fails(post.CreatePost(request, metadata=author.md),
                           grpc.StatusCode.INVALID_ARGUMENT)
        assert field in field_violations(err), (field, field_violations(err))

    # Another user's media item is, to the author, no media item at all.
    theirs = await media_for(other, 1)
    err = await _fails(post.CreatePost(pb.CreatePostRequest(
        request_id=str(uuid.uuid4()), media_ids=theirs), metadata=author.md),
        grpc.StatusCode.INVALID_ARGUMENT)
    assert "media_ids[0]" in field_violations(err)

    await post.CreatePost(pb.CreatePostRequest(request_id=str(uuid.uuid4()), media_ids=own),
                          metadata=author.md)
    err = await _fails(post.CreatePost(pb.CreatePostRequest(
        request_id=str(uuid.uuid4()), media_ids=own), metadata=author.md),
        grpc.StatusCode.FAILED_PRECONDITION)
    assert error_info(err).reason == "MEDIA_IN_USE"

    err = await _fails(post.CreatePost(pb.CreatePostRequest(request_id=rid, media_ids=own)),
                       grpc.StatusCode.UNAUTHENTICATED)


async def test_private_posts_only_for_approved_followers(post, graph, new_user,
                                                         create_post) -> None:
    author, follower, stranger = await new_user(), await new_user(), await new_user()
    await make_private(graph, author)
    created = await create_post(author)
    await graph.Follow(graph_pb.FollowRequest(user_id=author.user_id), metadata=follower.md)

    for viewer in (follower, stranger):  # the request is pending: nothing visible yet
        err = await _fails(post.GetPost(pb.GetPostRequest(post_id=created.post_id),
                                        metadata=viewer.md), grpc.StatusCode.NOT_FOUND)
        assert error_info(err).reason == "POST_NOT_FOUND"
        err = await _fails(post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                              metadata=viewer.md),
                           grpc.StatusCode.PERMISSION_DENIED)
        assert error_info(err).reason == "ACCOUNT_PRIVATE"

    await graph.ApproveFollowRequest(graph_pb.ApproveFollowRequestRequest(
        requester_user_id=follower.user_id), metadata=author.md)
    got = await post.GetPost(pb.GetPostRequest(post_id=created.post_id), metadata=follower.md)
    assert got.post.post_id == created.post_id
    listed = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                      metadata=follower.md)
    assert [p.post_id for p in listed.posts] == [created.post_id]
    batch = await post.BatchGetPosts(pb.BatchGetPostsRequest(post_ids=[created.post_id]),
                                     metadata=stranger.md)
    assert list(batch.missing_post_ids) == [created.post_id] and not batch.posts


async def test_a_block_hides_posts_both_ways(post, graph, new_user, create_post) -> None:
    author, blocked = await new_user(), await new_user()
    theirs, mine = await create_post(author), await create_post(blocked)
    await block(graph, author, blocked.user_id)
    for viewer, seen in ((blocked, theirs), (author, mine)):
        await _fails(post.GetPost(pb.GetPostRequest(post_id=seen.post_id), metadata=viewer.md),
                     grpc.StatusCode.NOT_FOUND)
        batch = await post.BatchGetPosts(pb.BatchGetPostsRequest(post_ids=[seen.post_id]),
                                         metadata=viewer.md)
        assert list(batch.missing_post_ids) == [seen.post_id]
    err = await _fails(post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                          metadata=blocked.md), grpc.StatusCode.NOT_FOUND)
    assert error_info(err).reason == "USER_NOT_FOUND"


async def test_batch_get_keeps_order_and_reports_missing(post, new_user, create_post) -> None:
    author, viewer = await new_user(), await new_user()
    a, b, gone = await asyncio.gather(create_post(author), create_post(author),
                                      create_post(author))
    await post.DeletePost(pb.DeletePostRequest(post_id=gone.post_id), metadata=author.md)
    unknown = 123456789
    reply = await post.BatchGetPosts(pb.BatchGetPostsRequest(
        post_ids=[b.post_id, unknown, a.post_id, gone.post_id, b.post_id]), metadata=viewer.md)
    assert [p.post_id for p in reply.posts] == [b.post_id, a.post_id]
    assert list(reply.missing_post_ids) == [unknown, gone.post_id]

    err = await _fails(post.BatchGetPosts(pb.BatchGetPostsRequest(post_ids=range(1, 502)),
                                          metadata=viewer.md), grpc.StatusCode.INVALID_ARGUMENT)
    assert error_info(err).reason == "BATCH_TOO_LARGE"
    err = await _fails(post.BatchGetPosts(pb.BatchGetPostsRequest(post_ids=[0]),
                                          metadata=viewer.md), grpc.StatusCode.INVALID_ARGUMENT)
    assert "post_ids[0]" in field_violations(err)


async def test_list_user_posts_pages_newest_first(post, new_user, create_post) -> None:
    author, viewer = await new_user(), await new_user()
    made = [(await create_post(author, caption=f"#{i}")).post_id for i in range(5)]
    seen, token = [], ""
    while True:
        page = await post.ListUserPosts(pb.ListUserPostsRequest(
            user_id=author.user_id, page_size=2, page_token=token), metadata=viewer.md)
        assert len(page.posts) <= 2 and page.total_size == 5
        seen += [p.post_id for p in page.posts]
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(made, reverse=True)

    first = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id,
                                                             page_size=2), metadata=viewer.md)
    for bad in (first.next_page_token[:-2] + "xx", "garbage"):
        err = await _fails(post.ListUserPosts(pb.ListUserPostsRequest(
            user_id=author.user_id, page_token=bad), metadata=viewer.md),
            grpc.StatusCode.INVALID_ARGUMENT)
        assert error_info(err).reason == "PAGE_TOKEN_INVALID"
    err = await _fails(post.ListUserPosts(pb.ListUserPostsRequest(  # another viewer's token
        user_id=author.user_id, page_token=first.next_page_token), metadata=author.md),
        grpc.StatusCode.INVALID_ARGUMENT)
    err = await _fails(post.ListUserPosts(pb.ListUserPostsRequest(
        user_id=author.user_id, page_size=-1), metadata=viewer.md),
        grpc.StatusCode.INVALID_ARGUMENT)
    assert error_info(err).reason == "PAGE_SIZE_INVALID"
    err = await _fails(post.ListUserPosts(pb.ListUserPostsRequest(user_id="nope"),
                                          metadata=viewer.md), grpc.StatusCode.INVALID_ARGUMENT)
    assert "user_id" in field_violations(err)


async def test_delete_is_for_the_author_idempotent_and_announced(post, new_user, create_post,
                                                                  mesh) -> None:
    author, other = await new_user(), await new_user()
    created = await create_post(author)
    err = await _fails(post.DeletePost(pb.DeletePostRequest(post_id=created.post_id),
                                       metadata=other.md), grpc.StatusCode.PERMISSION_DENIED)
    assert error_info(err).reason == "NOT_AUTHOR"
    for _ in range(2):
        await post.DeletePost(pb.DeletePostRequest(post_id=created.post_id), metadata=author.md)
    await _fails(post.GetPost(pb.GetPostRequest(post_id=created.post_id), metadata=author.md),
                 grpc.StatusCode.NOT_FOUND)
    listed = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                      metadata=author.md)
    assert not listed.posts and listed.total_size == 0
    events = await published(mesh.env, "deleted", ev.PostDeletedEvent,
                             lambda e: e.post_id == created.post_id, wait_for=1)
    assert len(events) == 1
    assert events[0].author_user_id == author.user_id
    assert list(events[0].media_ids) == [m.media_id for m in created.media]
    await _fails(post.DeletePost(pb.DeletePostRequest(post_id=987654321), metadata=author.md),
                 grpc.StatusCode.NOT_FOUND)


async def test_cached_bodies_never_outlive_a_delete(post, new_user, create_post, mesh) -> None:
    """Reads serve post bodies from Redis; a delete tombstones the cached body first, so no
    read after it (batch, single, like) still finds the post."""
    author, viewer = await new_user(), await new_user()
    created = await create_post(author, "cached #once")
    first = await post.BatchGetPosts(pb.BatchGetPostsRequest(post_ids=[created.post_id]),
                                     metadata=viewer.md)
    assert list(first.posts) == [created]
    key = f"{mesh.env['PHOTOMESH_REDIS_KEY_PREFIX']}post:body:{created.post_id}"
    client = aioredis.Redis.from_url(mesh.env["PHOTOMESH_REDIS_URL"])
    try:
        assert (await client.get(key)) not in (None, b"-")  # the body is cached
        again = await post.BatchGetPosts(pb.BatchGetPostsRequest(post_ids=[created.post_id]),
                                         metadata=viewer.md)
        assert list(again.posts) == [created]  # served from the cache, same post
        await post.DeletePost(pb.DeletePostRequest(post_id=created.post_id), metadata=author.md)
        assert await client.get(key) == b"-"
    finally:
        await client.aclose()
    gone = await post.BatchGetPosts(pb.BatchGetPostsRequest(post_ids=[created.post_id]),
                                    metadata=viewer.md)
    assert not gone.posts and list(gone.missing_post_ids) == [created.post_id]
    await _fails(post.GetPost(pb.GetPostRequest(post_id=created.post_id), metadata=viewer.md),
                 grpc.StatusCode.NOT_FOUND)
    await _fails(post.LikePost(pb.LikePostRequest(post_id=created.post_id), metadata=viewer.md),
                 grpc.StatusCode.NOT_FOUND)
