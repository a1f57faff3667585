"""A backend fails during CreatePost: nothing is written twice and a retry finishes it once.

The shared backends are never stopped: each test starts its own redis-server and
nats-server (JetStream) on free ports, and a second post service process that uses them
(and the run's CQL keyspace, graph and media services). Stopping and restarting those
private servers is the failure.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import redis.asyncio as aioredis
from photomesh.post.v1 import events_pb2 as ev
from photomesh.post.v1 import post_service_pb2 as pb
from photomesh.post.v1 import post_service_pb2_grpc as pb_grpc

from infra import services as mesh_services
from infra.backends.nats import NatsBackend
from infra.backends.redis import RedisBackend
from infra.sandbox import Mesh, free_port
from infra.settings import InfraSettings
from tests.helpers import error_info
from tests.post.conftest import published
from tests.private_backend import PrivateServer
from tests.private_service import private_service

SHARED_KEYS = ("PHOTOMESH_CQL_KEYSPACE", "PHOTOMESH_REDIS_KEY_PREFIX",
               "PHOTOMESH_NATS_STREAM_PREFIX", "PHOTOMESH_NATS_SUBJECT_PREFIX",
               "PHOTOMESH_MINIO_BUCKET", "PHOTOMESH_JWT_PUBLIC_KEY_PATH",
               "PHOTOMESH_JWT_SERVICE_PUBLIC_KEYS_PATH")


@dataclass
class Isolated:
    """A post service on private Redis and NATS servers."""

    redis: PrivateServer
    nats: PrivateServer
    target: str
    env: dict[str, str]


@pytest.fixture
def isolated(mesh: Mesh, backends: InfraSettings, tmp_path: Path) -> Iterator[Isolated]:
    settings = backends.model_copy(update={
        "run_dir": tmp_path, "redis_port": free_port(), "nats_port": free_port(),
        "nats_monitor_port": free_port()})
    redis_server = PrivateServer(RedisBackend(settings), tmp_path / "redis.log")
    nats_server = PrivateServer(NatsBackend(settings), tmp_path / "nats.log")
    env = {key: mesh.env[key] for key in SHARED_KEYS}
    env["PHOTOMESH_JWT_SERVICE_KEY_PATH"] = str(mesh_services.service_key_path(mesh.settings,
                                                                               "post"))
    env.update({"PHOTOMESH_REDIS_URL": redis_server.backend.url(),
                "PHOTOMESH_NATS_URL": nats_server.backend.url(),
                "PHOTOMESH_SNOWFLAKE_WORKER_ID": "1000",
                # Swept fast; 1-second slots make its pending rows its own (the run's post
                # service sweeps 5-second slots and publishes to the run's NATS).
                "PHOTOMESH_POST_OUTBOX_SLOT_SECONDS": "1",
                "PHOTOMESH_POST_OUTBOX_GRACE_SECONDS": "2",
                "PHOTOMESH_POST_OUTBOX_SWEEP_SECONDS": "0.5"})
    try:
        redis_server.start()
        nats_server.start()
        with private_service(mesh, "post", tmp_path, env, settings) as target:
            yield Isolated(redis_server, nats_server, target, env)
    finally:
        redis_server.stop()
        nats_server.stop()


def _restart(server: PrivateServer) -> None:
    server.start()


async def test_nats_down_mid_create_then_one_retry_publishes_once(isolated, new_user,
                                                                  media_for) -> None:
    author = await new_user()
    request = pb.CreatePostRequest(request_id=str(uuid.uuid4()), caption="#outage",
                                   media_ids=await media_for(author, 1))
    async with grpc.aio.insecure_channel(isolated.target) as channel:
        post = pb_grpc.PostServiceStub(channel)
        isolated.nats.stop()
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await post.CreatePost(request, metadata=author.md, timeout=30)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_info(err.value).reason == "BACKEND_UNAVAILABLE"
        # The post row was stored before the publish failed: exactly one, no event yet.
        listed = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                          metadata=author.md)
        assert len(listed.posts) == 1 and listed.total_size == 1

        _restart(isolated.nats)
        retried = None
        for _ in range(20):  # the service's NATS connection comes back within seconds
            try:
                retried = await post.CreatePost(request, metadata=author.md, timeout=30)
                break
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE
        assert retried is not None
        again = await post.CreatePost(request, metadata=author.md)
        assert retried.post.post_id == again.post.post_id == listed.posts[0].post_id
        listed = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                          metadata=author.md)
        assert [p.post_id for p in listed.posts] == [retried.post.post_id]
        assert listed.total_size == 1
    events = await published(isolated.env, "created", ev.PostCreatedEvent,
                             lambda e: e.post_id == retried.post.post_id, wait_for=1)
    assert len(events) == 1


async def test_redis_down_mid_create_keeps_counts_right(isolated, new_user, media_for) -> None:
    author, fan = await new_user(), await new_user()
    first_media, second_media = await media_for(author, 2)
    async with grpc.aio.insecure_channel(isolated.target) as channel:
        post = pb_grpc.PostServiceStub(channel)
        first = (await post.CreatePost(pb.CreatePostRequest(
            request_id=str(uuid.uuid4()), media_ids=[first_media]), metadata=author.md)).post
        await post.LikePost(pb.LikePostRequest(post_id=first.post_id), metadata=fan.md)
        listed = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                          metadata=author.md)
        assert listed.total_size == 1  # now cached in Redis, which saves it to its AOF

        isolated.redis.stop()
        request = pb.CreatePostRequest(request_id=str(uuid.uuid4()), media_ids=[second_media])
        second = (await post.CreatePost(request, metadata=author.md)).post
        liked = await post.LikePost(pb.LikePostRequest(post_id=first.post_id),
                                    metadata=author.md)
        assert liked.like_count == 2  # counted in CQL while Redis is away
        listed = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                          metadata=author.md)
        assert listed.total_size == 2

        _restart(isolated.redis)  # comes back with the stale values it had saved
        again = (await post.CreatePost(request, metadata=author.md)).post
        assert again.post_id == second.post_id
        listed = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                          metadata=author.md)
        assert listed.total_size == 2
        assert {p.post_id: p.like_count for p in listed.posts} == {first.post_id: 2,
                                                                   second.post_id: 0}
    # The stale values Redis came back with are dropped in the background (reads recount
    # meanwhile): soon what Redis holds is right, or gone, never the stale value.
    client = aioredis.Redis.from_url(isolated.env["PHOTOMESH_REDIS_URL"])
    prefix = isolated.env["PHOTOMESH_REDIS_KEY_PREFIX"]
    keys = [f"{prefix}post:n:{{posts:{author.user_id}}}",
            f"{prefix}post:n:{{likes:{first.post_id}}}"]
    try:
        for _ in range(50):
            cached = await client.mget(keys)
            if all(v in (None, b"2") for v in cached):
                break
            await asyncio.sleep(0.1)
        assert all(v in (None, b"2") for v in cached), cached
    finally:
        await client.aclose()


async def _until_served(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Retry while the service reconnects to the restarted server (UNAVAILABLE)."""
    for _ in range(20):
        try:
            return await call(*args, **kwargs)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE
    raise AssertionError("the service did not come back")


async def test_like_and_unlike_failing_before_their_events_are_finished_once_by_a_retry(
        isolated, new_user, media_for) -> None:
    author, fan = await new_user(), await new_user()
    async with grpc.aio.insecure_channel(isolated.target) as channel:
        post = pb_grpc.PostServiceStub(channel)
        created = (await post.CreatePost(pb.CreatePostRequest(
            request_id=str(uuid.uuid4()), media_ids=await media_for(author, 1)),
            metadata=author.md)).post
        pid = created.post_id
        like, unlike = pb.LikePostRequest(post_id=pid), pb.UnlikePostRequest(post_id=pid)

        isolated.nats.stop()  # the like row is written, its event cannot go out
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await post.LikePost(like, metadata=fan.md, timeout=30)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        _restart(isolated.nats)
        retried = await _until_served(post.LikePost, like, metadata=fan.md, timeout=30)
        assert retried.like_count == 1
        assert (await post.LikePost(like, metadata=fan.md)).like_count == 1
        seen = await post.GetPost(pb.GetPostRequest(post_id=pid), metadata=fan.md)
        assert seen.post.like_count == 1 and seen.post.liked_by_caller

        isolated.nats.stop()  # the like is marked unliked, its event cannot go out
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await post.UnlikePost(unlike, metadata=fan.md, timeout=30)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        _restart(isolated.nats)
        done = await _until_served(post.UnlikePost, unlike, metadata=fan.md, timeout=30)
        assert done.like_count == 0
        assert (await post.UnlikePost(unlike, metadata=fan.md)).like_count == 0
        seen = await post.GetPost(pb.GetPostRequest(post_id=pid), metadata=fan.md)
        assert seen.post.like_count == 0 and not seen.post.liked_by_caller
    liked = await published(isolated.env, "liked", ev.PostLikedEvent,
                            lambda e: e.post_id == pid, wait_for=1)
    unliked = await published(isolated.env, "unliked", ev.PostUnlikedEvent,
                              lambda e: e.post_id == pid, wait_for=1)
    await asyncio.sleep(0.5)
    assert len(await published(isolated.env, "liked", ev.PostLikedEvent,
                               lambda e: e.post_id == pid)) == len(liked) == 1
    assert len(await published(isolated.env, "unliked", ev.PostUnlikedEvent,
                               lambda e: e.post_id == pid)) == len(unliked) == 1
    assert liked[0].like_id == unliked[0].like_id


async def test_changes_abandoned_while_nats_is_away_are_published_by_the_sweeper(
        isolated, new_user, media_for) -> None:
    """The client gives up after UNAVAILABLE and never retries: the post, like, comment and
    comment delete it left stored but unannounced are published once NATS is back, by the
    service's sweeper, once each (the same event ids)."""
    author, fan = await new_user(), await new_user()
    async with grpc.aio.insecure_channel(isolated.target) as channel:
        post = pb_grpc.PostServiceStub(channel)
        liked = (await post.CreatePost(pb.CreatePostRequest(
            request_id=str(uuid.uuid4()), media_ids=await media_for(author, 1)),
            metadata=author.md)).post
        doomed = (await post.CreateComment(pb.CreateCommentRequest(
            request_id=str(uuid.uuid4()), post_id=liked.post_id, text="soon gone"),
            metadata=fan.md)).comment
        left_media = await media_for(author, 1)
        isolated.nats.stop()
        for call, request, md in (
                (post.CreatePost, pb.CreatePostRequest(
                    request_id=str(uuid.uuid4()), caption="left #behind",
                    media_ids=left_media), author.md),
                (post.LikePost, pb.LikePostRequest(post_id=liked.post_id), fan.md),
                (post.CreateComment, pb.CreateCommentRequest(
                    request_id=str(uuid.uuid4()), post_id=liked.post_id, text="hello"),
                 fan.md),
                (post.DeleteComment, pb.DeleteCommentRequest(
                    post_id=liked.post_id, comment_id=doomed.comment_id), fan.md)):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call(request, metadata=md, timeout=30)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE, call
        listed = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                          metadata=author.md)
        assert len(listed.posts) == 2  # stored, not announced
        left = next(p.post_id for p in listed.posts if p.post_id != liked.post_id)
        _restart(isolated.nats)
    created = await published(isolated.env, "created", ev.PostCreatedEvent,
                              lambda e: e.post_id == left, wait_for=1, timeout=60)
    likes = await published(isolated.env, "liked", ev.PostLikedEvent,
                            lambda e: e.post_id == liked.post_id, wait_for=1, timeout=60)
    comments = await published(isolated.env, "comment_added", ev.CommentAddedEvent,
                               lambda e: e.post_id == liked.post_id and e.text_preview == "hello",
                               wait_for=1, timeout=60)
    deleted = await published(isolated.env, "comment_deleted", ev.CommentDeletedEvent,
                              lambda e: e.comment_id == doomed.comment_id, wait_for=1,
                              timeout=60)
    assert [e.caption_preview for e in created] == ["left #behind"]
    assert [e.liker_user_id for e in likes] == [fan.user_id]
    assert [e.commenter_user_id for e in comments] == [fan.user_id]
    assert [e.removed_comment_count for e in deleted] == [1]
    await asyncio.sleep(3)  # more sweeps publish nothing twice
    assert len(await published(isolated.env, "created", ev.PostCreatedEvent,
                               lambda e: e.post_id == left)) == 1
    assert len(await published(isolated.env, "liked", ev.PostLikedEvent,
                               lambda e: e.post_id == liked.post_id)) == 1
    async with grpc.aio.insecure_channel(isolated.target) as channel:
        post = pb_grpc.PostServiceStub(channel)
        shown = await _until_served(post.GetPost, pb.GetPostRequest(post_id=liked.post_id),
                                    metadata=fan.md)
        assert shown.post.like_count == 1 and shown.post.comment_count == 1
        assert shown.post.liked_by_caller
        listed = await post.ListUserPosts(pb.ListUserPostsRequest(user_id=author.user_id),
                                          metadata=author.md)
        assert listed.total_size == 2
