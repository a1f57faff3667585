"""Reusable helpers for tests that need real media (media, posts, stories …).

Stable API (other test packages import these; keep signatures):

* ``jpeg_bytes(width, height, *, gps=True, orientation=None, quality=90) -> bytes``
  a real JPEG (a colour gradient) carrying EXIF (camera make, GPS position unless
  ``gps=False``, an orientation tag if given).
* ``png_with_orientation(width, height, orientation=6) -> bytes`` a PNG whose EXIF
  (eXIf chunk) says how to rotate it; stored ``width`` x ``height``, displayed rotated.
* ``mp4_bytes(seconds=2.0, width=320, height=240, audio=True) -> bytes`` an H.264/AAC MP4
  made with ffmpeg (lavfi testsrc + sine).
* ``await upload_media(channel_or_target, token, data, content_type, *, complete=True)
  -> str`` CreateUpload, PUT the bytes to the pre-signed URL with plain HTTP, then
  CompleteUpload (unless ``complete=False``: MinIO's event alone starts processing).
  Returns the media id.
* ``await wait_for_status(channel_or_target, token, media_id, want=READY, timeout=60)
  -> media_pb.Media`` polls GetMedia until the status is ``want`` (AssertionError if it
  ends in another final state or time runs out).
* ``await ready_media(channel_or_target, token, data=None, content_type="image/jpeg")
  -> media_pb.Media`` both of the above: a READY item (a small JPEG by default).
* ``http_put(url, data, headers) -> (status, body)`` and ``http_get(url) -> (status,
  headers, body)``: plain urllib, run in a thread by the async helpers.

``channel_or_target`` is a ``grpc.aio.Channel`` or a ``"host:port"`` of the media service
(``mesh.target("media")``).
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from grpc import aio
from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc
from PIL import Image

READY = media_pb.MEDIA_STATUS_READY
FAILED = media_pb.MEDIA_STATUS_FAILED
PROCESSING = media_pb.MEDIA_STATUS_PROCESSING
PENDING_UPLOAD = media_pb.MEDIA_STATUS_PENDING_UPLOAD
_FINAL = {READY, FAILED}

GPS_LATITUDE = (52.0, 31.0, 12.34)


def _gradient(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height))
    image.putdata([((x * 255) // max(1, width - 1), (y * 255) // max(1, height - 1), 128)
                   for y in range(height) for x in range(width)])
    # A red block top-left makes orientation visible in the output.
    image.paste((255, 0, 0), (0, 0, max(1, width // 4), max(1, height // 4)))
    return image


def _exif(orientation: int | None, gps: bool) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhotomeshCam"  # Make
    exif[0x0110] = "Model X"       # Model
    if orientation is not None:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: GPS_LATITUDE, 3: "E", 4: (13.0, 24.0, 0.0)}
    return exif


def jpeg_bytes(width: int = 1200, height: int = 900, *, gps: bool = True,
               orientation: int | None = None, quality: int = 90) -> bytes:
    out = io.BytesIO()
    _gradient(width, height).save(out, "JPEG", quality=quality,
                                  exif=_exif(orientation, gps).tobytes())
    return out.getvalue()


def png_with_orientation(width: int = 400, height: int = 200, orientation: int = 6) -> bytes:
    out = io.BytesIO()
    _gradient(width, height).save(out, "PNG", exif=_exif(orientation, gps=True).tobytes())
    return out.getvalue()


def mp4_bytes(seconds: float = 2.0, width: int = 320, height: int = 240,
              audio: bool = True, rate: int = 25) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        argv = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                f"testsrc=duration={seconds}:size={width}x{height}:rate={rate}"]
        if audio:
            argv += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                     "-c:a", "aac", "-b:a", "64k"]
        argv += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                 "-metadata", "location=+52.5200+013.4050/", "-shortest", str(path)]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)
        return path.read_bytes()


def http_put(url: str, data: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method="PUT", headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()


def http_get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return int(response.status), dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as err:
        return int(err.code), dict(err.headers.items()), err.read()


@asynccontextmanager
async def _stub(channel_or_target: aio.Channel | str
                ) -> AsyncIterator[media_grpc.MediaServiceStub]:
    if isinstance(channel_or_target, str):
        async with aio.insecure_channel(channel_or_target) as channel:
            yield media_grpc.MediaServiceStub(channel)
    else:
        yield media_grpc.MediaServiceStub(channel_or_target)


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def kind_of(content_type: str) -> int:
    return (common_pb.MEDIA_KIND_VIDEO if content_type.startswith("video/")
            else common_pb.MEDIA_KIND_IMAGE)


async def upload_media(channel_or_target: aio.Channel | str, token: str, data: bytes,
                       content_type: str, *, complete: bool = True) -> str:
    async with _stub(channel_or_target) as stub:
        created = await stub.CreateUpload(media_pb.CreateUploadRequest(
            request_id=str(uuid.uuid4()), content_type=content_type, size_bytes=len(data),
            kind=kind_of(content_type)), metadata=_bearer(token))
        status, body = await asyncio.to_thread(http_put, created.upload_url, data,
                                               dict(created.upload_headers))
        if status != 200:
            raise AssertionError(f"upload PUT answered {status}: {body[:300]!r}")
        if complete:
            await stub.CompleteUpload(media_pb.CompleteUploadRequest(
                media_id=created.media_id), metadata=_bearer(token))
        return created.media_id


async def wait_for_status(channel_or_target: aio.Channel | str, token: str, media_id: str,
                          want: int = READY, timeout: float = 60.0) -> media_pb.Media:
    deadline = time.monotonic() + timeout
    async with _stub(channel_or_target) as stub:
        while True:
            media = (await stub.GetMedia(media_pb.GetMediaRequest(media_id=media_id),
                                         metadata=_bearer(token))).media
            if media.status == want:
                return media
            if media.status in _FINAL:
                raise AssertionError(
                    f"media {media_id} ended {media_pb.MediaStatus.Name(media.status)} "
                    f"({media.failure_message!r}), wanted {media_pb.MediaStatus.Name(want)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"media {media_id} still "
                                     f"{media_pb.MediaStatus.Name(media.status)} after "
                                     f"{timeout:.0f}s")
            await asyncio.sleep(0.1)


async def ready_media(channel_or_target: aio.Channel | str, token: str,
                      data: bytes | None = None, content_type: str = "image/jpeg",
                      timeout: float = 60.0) -> media_pb.Media:
    payload = data if data is not None else jpeg_bytes(320, 240)
    media_id = await upload_media(channel_or_target, token, payload, content_type)
    return await wait_for_status(channel_or_target, token, media_id, READY, timeout)


async def ready_media_ids(channel_or_target: aio.Channel | str, token: str, n: int = 1
                          ) -> list[str]:
    """`n` READY images of the caller (uploaded concurrently), by id."""
    made = await asyncio.gather(*(ready_media(channel_or_target, token) for _ in range(n)))
    return [m.media_id for m in made]
