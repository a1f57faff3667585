"""CreateUpload / CompleteUpload: validation, idempotency, the pre-signed URL's scope."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

import grpc
import pytest
from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc

from infra.sandbox import free_port
from infra.services import REPO, process_env, wait_serving
from tests.helpers import bearer, error_info, field_violations
from tests.media_support import PENDING_UPLOAD, http_put, jpeg_bytes

IMAGE = common_pb.MEDIA_KIND_IMAGE


def create(size: int = 1000, content_type: str = "image/jpeg", kind: int = IMAGE,
           request_id: str | None = None) -> media_pb.CreateUploadRequest:
    return media_pb.CreateUploadRequest(request_id=request_id or str(uuid.uuid4()),
                                        content_type=content_type, size_bytes=size, kind=kind)


async def test_oversized_declared_size_is_refused(media, user) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await media.CreateUpload(create(size=21 * 1024 * 1024), metadata=bearer(user))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(err.value).reason == "MEDIA_TOO_LARGE"
    assert "over the limit" in field_violations(err.value)["size_bytes"]


async def test_unsupported_or_mismatched_content_type_is_refused(media, user) -> None:
    for content_type, kind in (("image/gif", IMAGE), ("video/mp4", IMAGE),
                               ("image/jpeg", common_pb.MEDIA_KIND_VIDEO)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await media.CreateUpload(create(content_type=content_type, kind=kind),
                                     metadata=bearer(user))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_info(err.value).reason == "CONTENT_TYPE_UNSUPPORTED"
        assert "content_type" in field_violations(err.value)


async def test_every_bad_field_is_listed(media, user) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await media.CreateUpload(media_pb.CreateUploadRequest(request_id="x", size_bytes=-1),
                                 metadata=bearer(user))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(err.value)) == {"request_id", "kind", "size_bytes"}


async def test_create_upload_needs_a_user(media) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await media.CreateUpload(create())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_create_upload_is_idempotent_on_request_id(media, user, other_user) -> None:
    request = create(size=2048)
    first = await media.CreateUpload(request, metadata=bearer(user))
    again = await media.CreateUpload(request, metadata=bearer(user))
    assert again.media_id == first.media_id
    assert again.upload_method == "PUT" and again.upload_url
    assert again.expire_time.ToDatetime() >= first.expire_time.ToDatetime()
    assert dict(again.upload_headers) == {"Content-Type": "image/jpeg"}
    # Another user with the same request_id gets their own item.
    theirs = await media.CreateUpload(request, metadata=bearer(other_user))
    assert theirs.media_id != first.media_id
    # The same request_id for a different upload is a client bug.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await media.CreateUpload(create(size=4096, request_id=request.request_id),
                                 metadata=bearer(user))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(err.value).reason == "REQUEST_ID_REUSED"
    got = await media.GetMedia(media_pb.GetMediaRequest(media_id=first.media_id),
                               metadata=bearer(user))
    assert got.media.status == PENDING_UPLOAD and got.media.size_bytes == 2048


async def test_presigned_url_is_scoped_to_one_key_type_and_size(media, user) -> None:
    data = jpeg_bytes(64, 64)
    upload = await media.CreateUpload(create(size=len(data)), metadata=bearer(user))
    headers = dict(upload.upload_headers)
    other_key = upload.upload_url.replace(upload.media_id, str(uuid.uuid4()))
    status, body = await asyncio.to_thread(http_put, other_key, data, headers)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    status, _ = await asyncio.to_thread(http_put, upload.upload_url, data + b"x", headers)
    assert status == 403
    status, _ = await asyncio.to_thread(http_put, upload.upload_url, data,
                                        {"Content-Type": "image/png"})
    assert status == 403
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await media.CompleteUpload(media_pb.CompleteUploadRequest(media_id=upload.media_id),
                                   metadata=bearer(user))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(err.value).reason == "UPLOAD_MISSING"
    status, _ = await asyncio.to_thread(http_put, upload.upload_url, data, headers)
    assert status == 200


async def test_a_second_upload_after_arrival_is_refused(media, user) -> None:
    data = jpeg_bytes(64, 64)
    request = create(size=len(data))
    upload = await media.CreateUpload(request, metadata=bearer(user))
    status, _ = await asyncio.to_thread(http_put, upload.upload_url, data,
                                        dict(upload.upload_headers))
    assert status == 200
    await media.CompleteUpload(media_pb.CompleteUploadRequest(media_id=upload.media_id),
                               metadata=bearer(user))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await media.CreateUpload(request, metadata=bearer(user))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(err.value).reason == "UPLOAD_ALREADY_RECEIVED"


async def test_upload_url_expires(mesh, user) -> None:
    """A media service whose URLs live one second: the URL is refused afterwards, and
    CompleteUpload says the upload expired."""
    port = free_port()
    # The media process's environment (its own service key) with the run's names.
    env = {**process_env(mesh.settings, "media", None, mesh.ports), **mesh.env,
           "PHOTOMESH_MEDIA_PORT": str(port), "PHOTOMESH_MEDIA_UPLOAD_URL_TTL_SECONDS": "1"}
    env.pop("PHOTOMESH_OTEL_ENDPOINT", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.media", env=env, cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        target = f"127.0.0.1:{port}"
        await asyncio.to_thread(wait_serving, target, None, 60.0, "short-lived media")
        async with grpc.aio.insecure_channel(target) as channel:
            stub = media_grpc.MediaServiceStub(channel)
            data = jpeg_bytes(32, 32)
            upload = await stub.CreateUpload(create(size=len(data)), metadata=bearer(user))
            assert abs(upload.expire_time.seconds - time.time()) <= 2
            await asyncio.sleep(2.5)  # let the URL's lifetime pass (not a synchronisation)
            status, body = await asyncio.to_thread(http_put, upload.upload_url, data,
                                                   dict(upload.upload_headers))
            assert status == 403 and b"expired" in body.lower()
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.CompleteUpload(media_pb.CompleteUploadRequest(
                    media_id=upload.media_id), metadata=bearer(user))
            assert error_info(err.value).reason == "UPLOAD_EXPIRED"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
