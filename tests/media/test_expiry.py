"""An upload whose bytes never arrive is marked FAILED (UPLOAD_EXPIRED) by the media
service's sweeper once its URL expired, without anyone calling (a private media process
with a 2-second URL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from grpc import StatusCode, aio
from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.media.v1 import events_pb2 as mev
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc

from infra.sandbox import Mesh
from tests.helpers import bearer, error_info, stream_messages
from tests.media_support import jpeg_bytes, upload_media, wait_for_status
from tests.private_service import private_service


@pytest.fixture(scope="module")
def brief_media(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = Path(tmp_path_factory.mktemp("media-expiry"))
    with private_service(mesh, "media", logs, {
            "PHOTOMESH_MEDIA_UPLOAD_URL_TTL_SECONDS": "2",
            "PHOTOMESH_MEDIA_UPLOAD_EXPIRY_GRACE_SECONDS": "1",
            # Slots of 1 s are this process's own (the mesh's media sweeps 10 s slots).
            "PHOTOMESH_MEDIA_UPLOAD_SWEEP_SLOT_SECONDS": "1",
            "PHOTOMESH_MEDIA_UPLOAD_SWEEP_SECONDS": "0.5"}) as target:
        yield target


async def test_an_upload_that_never_arrives_expires(brief_media: str, mesh: Mesh,
                                                    user: str) -> None:
    async with aio.insecure_channel(brief_media) as channel:
        media = media_grpc.MediaServiceStub(channel)
        request = media_pb.CreateUploadRequest(
            request_id=str(uuid.uuid4()), kind=common_pb.MEDIA_KIND_IMAGE,
            content_type="image/jpeg", size_bytes=1234)
        created = await media.CreateUpload(request, metadata=bearer(user))
        item = await wait_for_status(channel, user, created.media_id,
                                     want=media_pb.MEDIA_STATUS_FAILED, timeout=60)
        # Its request cannot be revived: the client is told to start a new upload.
        with pytest.raises(aio.AioRpcError) as err:
            await media.CreateUpload(request, metadata=bearer(user))
    assert item.failure_reason == media_pb.MEDIA_FAILURE_REASON_UPLOAD_EXPIRED
    assert err.value.code() == StatusCode.FAILED_PRECONDITION
    assert error_info(err.value).reason == "UPLOAD_EXPIRED"
    failed = await stream_messages(
        mesh.env, "media", "failed",
        lambda m: mev.MediaFailedEvent.FromString(m.data).media_id == created.media_id,
        want=1, timeout=30)
    assert len(failed) == 1


async def test_an_upload_that_arrives_is_not_expired(brief_media: str, user: str) -> None:
    async with aio.insecure_channel(brief_media) as channel:
        media_id = await upload_media(channel, user, jpeg_bytes(64, 64), "image/jpeg")
        item = await wait_for_status(channel, user, media_id, timeout=60)
        await asyncio.sleep(5)  # past the URL's expiry and a few sweeps
        again = await media_grpc.MediaServiceStub(channel).GetMedia(
            media_pb.GetMediaRequest(media_id=media_id), metadata=bearer(user))
    assert item.status == again.media.status == media_pb.MEDIA_STATUS_READY
