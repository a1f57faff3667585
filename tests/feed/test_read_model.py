"""The feed's read model (services/feed/post_cards.py, services/peers/social_view.py):
every event that changes what a page shows reaches a warm page within the documented
bound, the visibility rules stay as strict as before, and a warm page asks no peer and
no CQL store."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from photomesh.feed.v1 import feed_service_pb2 as fpb
from photomesh.feed.v1 import feed_service_pb2_grpc as fgrpc
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.post.v1 import post_service_pb2 as ppb

from infra.sandbox import Mesh
from tests.feed.support import APPLIED_WITHIN, World, eventually
from tests.graph_support import block, make_private
from tests.private_service import private_service
from tests.tcp_proxy import proxied


@pytest.fixture
def world(feed_mesh, channel_to) -> World:
    return World(channel_to)


async def _item(world: World, viewer, post_id: int) -> fpb.FeedItem | None:
    for item in (await world.home(viewer)).items:
        if item.post.post_id == post_id:
            return item
    return None


async def _until(world: World, viewer, post_id: int, accept, what: str):  # type: ignore[no-untyped-def]
    return await eventually(lambda: _item(world, viewer, post_id),
                            lambda item: item is not None and accept(item.post),
                            timeout=APPLIED_WITHIN, what=what)


async def test_likes_and_comments_reach_a_warm_page(world: World) -> None:
    author, viewer, fan = await world.users(3)
    await world.follow([viewer], author)
    post = await world.post(author, "count me")
    await world.wait_in_feed(viewer, post.post_id)
    await _until(world, viewer, post.post_id, lambda p: p.like_count == 0, "the card")

    await world.posts.LikePost(ppb.LikePostRequest(post_id=post.post_id), metadata=fan.md)
    await _until(world, viewer, post.post_id,
                 lambda p: p.like_count == 1 and not p.liked_by_caller, "a like")
    await world.posts.LikePost(ppb.LikePostRequest(post_id=post.post_id), metadata=viewer.md)
    await _until(world, viewer, post.post_id,
                 lambda p: p.like_count == 2 and p.liked_by_caller, "the viewer's like")
    await world.posts.LikePost(ppb.LikePostRequest(post_id=post.post_id), metadata=viewer.md)
    await world.posts.UnlikePost(ppb.UnlikePostRequest(post_id=post.post_id),
                                 metadata=viewer.md)
    await _until(world, viewer, post.post_id,
                 lambda p: p.like_count == 1 and not p.liked_by_caller, "the viewer's unlike")

    comment = (await world.posts.CreateComment(ppb.CreateCommentRequest(
        request_id=str(uuid.uuid4()), post_id=post.post_id, text="nice"),
        metadata=fan.md)).comment
    await world.posts.CreateComment(ppb.CreateCommentRequest(
        request_id=str(uuid.uuid4()), post_id=post.post_id, text="reply",
        parent_comment_id=comment.comment_id), metadata=author.md)
    await _until(world, viewer, post.post_id, lambda p: p.comment_count == 2, "comments")
    await world.posts.DeleteComment(ppb.DeleteCommentRequest(
        post_id=post.post_id, comment_id=comment.comment_id), metadata=fan.md)
    await _until(world, viewer, post.post_id, lambda p: p.comment_count == 0,
                 "a deleted comment (with its reply)")
    # The other reader's copy is the same post with their own liked flag.
    fan_view = await world.posts.GetPost(ppb.GetPostRequest(post_id=post.post_id),
                                         metadata=fan.md)
    assert fan_view.post.like_count == 1 and fan_view.post.liked_by_caller


async def test_a_profile_change_reaches_a_warm_page(world: World) -> None:
    author, viewer = await world.users(2)
    await world.follow([viewer], author)
    post = await world.post(author)
    await world.wait_in_feed(viewer, post.post_id)
    await world.graph.UpdateProfile(gpb.UpdateProfileRequest(
        profile=gpb.Profile(display_name="Renamed Author"),
        update_mask=FieldMask(paths=["display_name"])), metadata=author.md)
    await _until(world, viewer, post.post_id,
                 lambda p: p.author.display_name == "Renamed Author", "the new name")


async def test_a_deleted_post_leaves_a_warm_page(world: World) -> None:
    author, viewer = await world.users(2)
    await world.follow([viewer], author)
    post = await world.post(author)
    await world.wait_in_feed(viewer, post.post_id)
    await world.posts.DeletePost(ppb.DeletePostRequest(post_id=post.post_id),
                                 metadata=author.md)
    await eventually(lambda: world.home_ids(viewer), lambda ids: post.post_id not in ids,
                     timeout=APPLIED_WITHIN, what="the delete applied")


@pytest.mark.parametrize("who_blocks", ["author", "viewer"])
async def test_a_block_either_way_hides_the_author(world: World, who_blocks: str) -> None:
    author, viewer = await world.users(2)
    await world.follow([viewer], author)
    post = await world.post(author)
    await world.wait_in_feed(viewer, post.post_id)
    if who_blocks == "author":
        await block(world.graph, author, viewer.user_id)
    else:
        await block(world.graph, viewer, author.user_id)
    await eventually(lambda: world.home_ids(viewer), lambda ids: post.post_id not in ids,
                     timeout=APPLIED_WITHIN, what="the block applied")


async def test_an_unfollow_hides_a_private_author_at_once_and_purges_a_public_one(
        world: World) -> None:
    public, private, viewer = await world.users(3)
    await world.follow([viewer], public)
    await world.follow([viewer], private)
    shown = [await world.post(public), await world.post(private)]
    await make_private(world.graph, private)  # the viewer's approved follow stays
    for post in shown:
        await world.wait_in_feed(viewer, post.post_id)
    await _until(world, viewer, shown[1].post_id, lambda p: p.author.private,
                 "the private flag")
    for author in (public, private):
        await world.graph.Unfollow(gpb.UnfollowRequest(user_id=author.user_id),
                                   metadata=viewer.md)
    await eventually(lambda: world.home_ids(viewer),
                     lambda ids: not set(ids) & {p.post_id for p in shown},
                     timeout=APPLIED_WITHIN, what="both authors gone")


async def test_a_private_switch_hides_posts_from_strangers_but_not_followers(
        world: World) -> None:
    author, follower, stranger = await world.users(3)
    await world.follow([follower], author)
    post = await world.post(author)
    await world.wait_in_feed(follower, post.post_id)
    request = ppb.GetPostRequest(post_id=post.post_id)
    assert (await world.posts.GetPost(request, metadata=stranger.md)).post.post_id
    await make_private(world.graph, author)

    async def stranger_sees() -> bool:
        try:
            await world.posts.GetPost(request, metadata=stranger.md)
        except Exception:  # noqa: BLE001 - NOT_FOUND once the switch is applied
            return False
        return True

    await eventually(stranger_sees, lambda seen: not seen, timeout=APPLIED_WITHIN,
                     what="the private switch applied to GetPost")
    await _until(world, follower, post.post_id, lambda p: p.author.private,
                 "the follower still sees it")


async def test_a_warm_page_asks_no_peer_and_no_cql(world: World, feed_mesh: Mesh,
                                                   tmp_path: Path) -> None:
    """A feed process whose graph, post and CQL connections go through proxies: once its
    page is warm, cutting them all changes nothing."""
    author, viewer = await world.users(2)
    await world.follow([viewer], author)
    posts = [await world.post(author, f"warm {i}") for i in range(3)]
    await world.wait_in_feed(viewer, posts[-1].post_id)
    cql = f"{feed_mesh.settings.host}:{feed_mesh.env['PHOTOMESH_CQL_PORT']}"
    with proxied(feed_mesh.target("graph")) as graph, proxied(feed_mesh.target("post")) as post, \
            proxied(cql) as store, private_service(feed_mesh, "feed", tmp_path, {
                "PHOTOMESH_GRAPH_TARGET": graph.address, "PHOTOMESH_POST_TARGET": post.address,
                "PHOTOMESH_CQL_PORT": str(store.port), "PHOTOMESH_OTEL_ENDPOINT": "",
                "PHOTOMESH_SNOWFLAKE_WORKER_ID": "1001"}) as target:
        async with grpc.aio.insecure_channel(target) as channel:
            feed = fgrpc.FeedServiceStub(channel)
            request = fpb.GetHomeFeedRequest(page_size=10)
            cold = await feed.GetHomeFeed(request, metadata=viewer.md)
            warm = await feed.GetHomeFeed(request, metadata=viewer.md)
            assert [i.post.post_id for i in warm.items] == [p.post_id for p in reversed(posts)]
            assert cold == warm
            graph.cut()
            post.cut()
            store.cut()
            for _ in range(3):
                assert await feed.GetHomeFeed(request, metadata=viewer.md, timeout=5) == warm
