"""Profile pictures: UpdateProfile takes only the caller's own READY image as avatar, and
its URL (the small square variant) is shown wherever the user is: the profile, user
summaries, a post's author, a feed item, a comment, a liker, a story tray and a
notification, each replaced after a change by the profile-updated event (which carries
the new summary itself)."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.feed.v1 import feed_service_pb2 as fpb
from photomesh.feed.v1 import feed_service_pb2_grpc as fgrpc
from photomesh.graph.v1 import events_pb2 as ev
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc
from photomesh.notification.v1 import notification_service_pb2 as npb
from photomesh.notification.v1 import notification_service_pb2_grpc as ngrpc
from photomesh.post.v1 import post_service_pb2 as ppb
from photomesh.post.v1 import post_service_pb2_grpc as pgrpc
from photomesh.story.v1 import story_service_pb2 as spb
from photomesh.story.v1 import story_service_pb2_grpc as sgrpc

from tests.feed.support import eventually
from tests.graph_support import User, Users, follow
from tests.helpers import error_info, stream_messages
from tests.media_support import http_get, jpeg_bytes, ready_media


async def set_avatar(graph, user: User, media_id: str) -> gpb.Profile:
    reply = await graph.UpdateProfile(gpb.UpdateProfileRequest(
        profile=gpb.Profile(avatar_media_id=media_id),
        update_mask=FieldMask(paths=["avatar_media_id"])), metadata=user.md)
    return reply.profile


def thumbnail_url(media: media_pb.Media) -> str:
    [url] = [v.url for v in media.variants if v.name == common_pb.VARIANT_NAME_THUMBNAIL
             and v.format == common_pb.MEDIA_FORMAT_JPEG]
    return url


async def pending_upload(media, user: User) -> str:
    """An item whose bytes never arrived (PENDING_UPLOAD)."""
    reply = await media.CreateUpload(media_pb.CreateUploadRequest(
        request_id=str(uuid.uuid4()), content_type="image/jpeg", size_bytes=1000,
        kind=common_pb.MEDIA_KIND_IMAGE), metadata=user.md)
    return reply.media_id


async def refused(call, code: grpc.StatusCode, reason: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value
    assert error_info(err.value).reason == reason


async def test_the_avatar_is_shown_everywhere_the_user_is(graph, channel_to, mesh,
                                                         edge) -> None:
    owner, fan, other = await Users.register(channel_to("auth"), 3, "ava")
    media_channel = channel_to("media")
    media = media_grpc.MediaServiceStub(media_channel)
    posts = pgrpc.PostServiceStub(channel_to("post"))
    feed = fgrpc.FeedServiceStub(channel_to("feed"))
    stories = sgrpc.StoryServiceStub(channel_to("story"))
    notes = ngrpc.NotificationServiceStub(channel_to("notification"))
    first, second, photo = await asyncio.gather(*(
        ready_media(media_channel, owner.token, jpeg_bytes(200, 120)) for _ in range(3)))
    theirs, waiting = await pending_upload(media, other), await pending_upload(media, owner)

    # The owner everywhere before any avatar: a post in the fan's feed, a comment, a like,
    # a story in the fan's tray, a notification ("started following you") to the fan.
    await follow(graph, fan, owner.user_id)
    post = (await posts.CreatePost(ppb.CreatePostRequest(
        request_id=str(uuid.uuid4()), caption="me", media_ids=[photo.media_id]),
        metadata=owner.md)).post
    await posts.CreateComment(ppb.CreateCommentRequest(
        request_id=str(uuid.uuid4()), post_id=post.post_id, text="first"), metadata=owner.md)
    await posts.LikePost(ppb.LikePostRequest(post_id=post.post_id), metadata=owner.md)
    await stories.CreateStory(spb.CreateStoryRequest(request_id=str(uuid.uuid4()),
                                                     text="hello"), metadata=owner.md)
    await follow(graph, owner, fan.user_id)

    async def shown() -> dict[str, str | None]:
        """The owner's avatar_url on each surface (None where the owner is not there yet)."""
        profile, summaries, got, items, comments, likers, tray, inbox = await asyncio.gather(
            graph.GetProfile(gpb.GetProfileRequest(user_id=owner.user_id), metadata=fan.md),
            graph.BatchGetUserSummaries(gpb.BatchGetUserSummariesRequest(
                user_ids=[owner.user_id]), metadata=fan.md),
            posts.GetPost(ppb.GetPostRequest(post_id=post.post_id), metadata=fan.md),
            feed.GetHomeFeed(fpb.GetHomeFeedRequest(page_size=10), metadata=fan.md),
            posts.ListComments(ppb.ListCommentsRequest(post_id=post.post_id),
                               metadata=fan.md),
            posts.ListPostLikers(ppb.ListPostLikersRequest(post_id=post.post_id),
                                 metadata=fan.md),
            stories.GetStoryTray(spb.GetStoryTrayRequest(), metadata=fan.md),
            notes.ListNotifications(npb.ListNotificationsRequest(), metadata=fan.md))

        def first_of(users) -> str | None:
            return next((u.avatar_url for u in users if u.user_id == owner.user_id), None)
        return {
            "profile": profile.profile.avatar_url,
            "summary": first_of(summaries.users),
            "post author": got.post.author.avatar_url,
            "feed item": first_of(i.post.author for i in items.items),
            "comment": first_of(c.author for c in comments.comments),
            "liker": first_of(x.user for x in likers.likers),
            "story tray": first_of(e.author for e in tray.entries),
            "notification": first_of(a for n in inbox.notifications for a in n.actors),
        }

    async def everywhere(url: str) -> None:
        await eventually(shown, lambda seen: all(v == url for v in seen.values()),
                         what=f"avatar_url {url!r} on every surface")

    await everywhere("")

    profile = await set_avatar(graph, owner, first.media_id)
    url = thumbnail_url(first)
    assert (profile.avatar_media_id, profile.avatar_url) == (first.media_id, url)
    assert url in {v.url for v in first.variants}
    status, _, body = await asyncio.to_thread(http_get, url)
    assert status == 200 and body  # a URL a client can fetch (through the edge)
    await everywhere(url)

    # A second change replaces it everywhere; its event carries the new summary.
    profile = await set_avatar(graph, owner, second.media_id)
    assert profile.avatar_url == thumbnail_url(second) != url
    await everywhere(thumbnail_url(second))
    [event] = await stream_messages(
        mesh.env, "graph", "profile_updated",
        lambda m: ev.ProfileUpdatedEvent.FromString(m.data).avatar_media_id == second.media_id,
        want=1)
    update = ev.ProfileUpdatedEvent.FromString(event.data)
    assert update.user.avatar_url == thumbnail_url(second)
    assert (update.user.user_id, update.user.username) == (owner.user_id, owner.username)
    assert list(update.changed_paths) == ["avatar_media_id"] and update.version >= 3

    # Refused: another user's item, one still waiting for its bytes, an unknown id.
    await refused(set_avatar(graph, owner, theirs), grpc.StatusCode.PERMISSION_DENIED,
                  "MEDIA_NOT_OWNED")
    await refused(set_avatar(graph, owner, waiting), grpc.StatusCode.FAILED_PRECONDITION,
                  "MEDIA_NOT_READY")
    await refused(set_avatar(graph, owner, str(uuid.uuid4())), grpc.StatusCode.NOT_FOUND,
                  "MEDIA_NOT_FOUND")
    assert (await set_avatar(graph, owner, second.media_id)).avatar_url == thumbnail_url(
        second), "a repeat of the same avatar keeps it"

    # Cleared: gone everywhere.
    profile = await set_avatar(graph, owner, "")
    assert (profile.avatar_media_id, profile.avatar_url) == ("", "")
    await everywhere("")

