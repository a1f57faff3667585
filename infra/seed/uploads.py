"""The seed's photos, uploaded and processed ahead of the posts and stories that show them:
each starts as soon as its owner is signed in, so the media worker transcodes while the
graph is being built. Upload as any client does: CreateUpload, PUT straight to object
storage, CompleteUpload, then GetMedia until READY (an upload already made, by a run cut
short, is found by its request id and not sent again)."""

from __future__ import annotations

import asyncio
import time

from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.media.v1 import media_service_pb2 as media_pb

from infra.seed import photos
from infra.seed.mesh_client import SignedIn, put
from infra.seed.requests import request_id

POLL_SECONDS = 0.4
PROCESSING_TIMEOUT = 600.0


class Photos:
    def __init__(self, limit: int) -> None:
        self._gate = asyncio.Semaphore(limit)
        self._tasks: dict[tuple[str, str], asyncio.Future[str]] = {}

    def start(self, me: SignedIn, key: str, seed: int, size: tuple[int, int]) -> None:
        """Begin making photo `key` of `me` (idempotent per key)."""
        if (me.username, key) not in self._tasks:
            self._tasks[(me.username, key)] = asyncio.ensure_future(
                self._gated(me, key, seed, size))

    async def ready(self, username: str, key: str) -> str:
        """The media id of a started photo, once READY."""
        return await self._tasks[(username, key)]

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _gated(self, me: SignedIn, key: str, seed: int, size: tuple[int, int]) -> str:
        async with self._gate:
            return await _photo(me, key, seed, size)


async def _photo(me: SignedIn, key: str, seed: int, size: tuple[int, int]) -> str:
    media_stub = me.stubs.media
    body = await asyncio.to_thread(photos.jpeg, seed, *size)
    slot = await me.call(media_stub.CreateUpload, media_pb.CreateUploadRequest(
        request_id=request_id("media", me.username, key), content_type="image/jpeg",
        size_bytes=len(body), kind=common_pb.MEDIA_KIND_IMAGE))
    get = media_pb.GetMediaRequest(media_id=slot.media_id)
    media = (await me.call(media_stub.GetMedia, get)).media
    if media.status == media_pb.MEDIA_STATUS_PENDING_UPLOAD:
        await asyncio.to_thread(put, slot.upload_url, slot.upload_method,
                                dict(slot.upload_headers), body)
        media = (await me.call(media_stub.CompleteUpload,
                               media_pb.CompleteUploadRequest(media_id=slot.media_id))).media
    deadline = time.monotonic() + PROCESSING_TIMEOUT
    while media.status == media_pb.MEDIA_STATUS_PROCESSING:
        if time.monotonic() > deadline:
            raise SystemExit(f"seed: media {slot.media_id} still processing after "
                             f"{PROCESSING_TIMEOUT:.0f}s: is the media worker running?")
        await asyncio.sleep(POLL_SECONDS)
        media = (await me.call(media_stub.GetMedia, get)).media
    if media.status != media_pb.MEDIA_STATUS_READY:
        raise SystemExit(f"seed: photo {slot.media_id} failed: {media.failure_message}")
    return slot.media_id
