"""Stories made from media items: only the author's READY items, copied into the story."""

from __future__ import annotations

import uuid

import grpc
import pytest
from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc
from photomesh.story.v1 import story_service_pb2 as pb

from tests.graph_support import Users
from tests.helpers import error_info
from tests.media_support import ready_media


async def test_a_story_shows_the_authors_ready_image(stories, channel_to) -> None:
    author, other = await Users.register(channel_to("auth"), 2)
    media = await ready_media(channel_to("media"), author.token)
    story = (await stories.CreateStory(pb.CreateStoryRequest(
        request_id=str(uuid.uuid4()), media_id=media.media_id), metadata=author.md)).story
    assert story.media.media_id == media.media_id
    assert story.media.kind == common_pb.MEDIA_KIND_IMAGE
    assert (story.media.width, story.media.height) == (media.width, media.height)
    assert [v.url for v in story.media.variants] == [v.url for v in media.variants]
    seen = await stories.GetStory(pb.GetStoryRequest(story_id=story.story_id),
                                  metadata=other.md)
    assert seen.story.media.media_id == media.media_id

    # Someone else's item is unknown to the caller.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.CreateStory(pb.CreateStoryRequest(
            request_id=str(uuid.uuid4()), media_id=media.media_id), metadata=other.md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(err.value).reason == "MEDIA_NOT_FOUND"


async def test_media_that_is_not_ready_is_refused(stories, channel_to) -> None:
    (author,) = await Users.register(channel_to("auth"), 1)
    pending = await media_grpc.MediaServiceStub(channel_to("media")).CreateUpload(
        media_pb.CreateUploadRequest(request_id=str(uuid.uuid4()), content_type="image/jpeg",
                                     size_bytes=1000, kind=common_pb.MEDIA_KIND_IMAGE),
        metadata=author.md)
    request = pb.CreateStoryRequest(request_id=str(uuid.uuid4()), media_id=pending.media_id)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stories.CreateStory(request, metadata=author.md)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(err.value).reason == "MEDIA_NOT_READY"
