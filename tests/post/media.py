"""READY media for post tests, made through the media contract: CreateUpload, PUT the bytes
to the pre-signed URL, CompleteUpload, then poll GetMedia until the worker made it READY."""

from __future__ import annotations

import asyncio
import io
import time
import urllib.request
import uuid

from grpc import aio
from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc

from tests.helpers import bearer


def jpeg(seed: int = 0, size: tuple[int, int] = (320, 240)) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, 120))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _put(url: str, method: str, headers: dict[str, str], body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method=method or "PUT", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()


async def ready_media_ids(channel: aio.Channel, token: str, n: int = 1,
                          timeout: float = 60.0) -> list[str]:
    stub = media_grpc.MediaServiceStub(channel)

    async def one(i: int) -> str:
        body = jpeg(i + int(time.time() * 1000))
        upload = await stub.CreateUpload(media_pb.CreateUploadRequest(
            request_id=str(uuid.uuid4()), content_type="image/jpeg", size_bytes=len(body),
            kind=common_pb.MEDIA_KIND_IMAGE), metadata=bearer(token))
        await asyncio.to_thread(_put, upload.upload_url, upload.upload_method,
                                dict(upload.upload_headers), body)
        await stub.CompleteUpload(media_pb.CompleteUploadRequest(media_id=upload.media_id),
                                  metadata=bearer(token))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = await stub.GetMedia(media_pb.GetMediaRequest(media_id=upload.media_id),
                                      metadata=bearer(token))
            if got.media.status == media_pb.MEDIA_STATUS_READY:
                return upload.media_id
            if got.media.status == media_pb.MEDIA_STATUS_FAILED:
                raise AssertionError(f"media processing failed: {got.media.failure_message}")
            await asyncio.sleep(0.1)
        raise AssertionError(f"media {upload.media_id} not READY after {timeout}s")

    return list(await asyncio.gather(*(one(i) for i in range(n))))
