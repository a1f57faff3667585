"""GetMedia applies the owner's privacy and blocks: another user's private media is
refused (NOT_FOUND, like a missing item) unless they follow the owner; a block hides
everything, the avatar included; a private account's avatar is shown like its profile."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.media.v1 import media_service_pb2 as media_pb

from tests.graph_support import User, Users, approve, block, follow, graph_stub, make_private
from tests.helpers import error_info
from tests.media_support import jpeg_bytes, ready_media


async def _sees(media, viewer: User, media_id: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        reply = await media.GetMedia(media_pb.GetMediaRequest(media_id=media_id),
                                     metadata=viewer.md, timeout=10)
    except grpc.aio.AioRpcError as err:
        assert err.code() == grpc.StatusCode.NOT_FOUND, err
        assert error_info(err).reason == "MEDIA_NOT_FOUND"
        return False
    assert reply.media.variants  # shown whole, with its URLs
    return True


@pytest.fixture
async def people(channel_to) -> list[User]:
    return await Users.register(channel_to("auth"), 4, "priv")


async def test_private_media_is_refused_to_strangers_and_shown_to_followers(
        media, media_target, channel_to, people) -> None:
    owner, follower, stranger, _ = people
    graph = graph_stub(channel_to("graph"))
    photo = (await ready_media(media_target, owner.token, jpeg_bytes(64, 64))).media_id
    assert await _sees(media, stranger, photo)  # public account: everyone sees it
    await make_private(graph, owner)
    assert not await _sees(media, stranger, photo)  # private: refused at once
    assert await _sees(media, owner, photo)
    await follow(graph, follower, owner.user_id)
    assert not await _sees(media, follower, photo)  # a request is not a follow
    await approve(graph, owner, follower.user_id)
    assert await _sees(media, follower, photo)
    await make_private(graph, owner, private=False)
    assert await _sees(media, stranger, photo)


async def test_blocks_hide_media_and_avatar_both_ways(media, media_target, channel_to,
                                                      people) -> None:
    owner, blocked, stranger, blocker_victim = people
    graph = graph_stub(channel_to("graph"))
    avatar, photo = [(await ready_media(media_target, owner.token, jpeg_bytes(48, 48))).media_id
                     for _ in range(2)]
    await graph.UpdateProfile(gpb.UpdateProfileRequest(
        profile=gpb.Profile(avatar_media_id=avatar), update_mask=FieldMask(
            paths=["avatar_media_id"])), metadata=owner.md)
    await make_private(graph, owner)
    # A private account's avatar is shown with its profile; its other media is not.
    assert await _sees(media, stranger, avatar)
    assert not await _sees(media, stranger, photo)
    # Blocked: nothing, not even the avatar.
    await block(graph, owner, blocked.user_id)
    assert not await _sees(media, blocked, avatar)
    assert not await _sees(media, blocked, photo)
    # Blocking the owner hides the owner's media from the blocker too.
    await make_private(graph, owner, private=False)
    await block(graph, blocker_victim, owner.user_id)
    assert not await _sees(media, blocker_victim, photo)
    assert await _sees(media, stranger, photo)
