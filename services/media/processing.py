"""The transcoding worker's rules: take an uploaded item from PROCESSING to READY or FAILED.

Each MediaUploadedEvent is handled at least once; the row's status makes it effectively
once: only an item still PROCESSING is transcoded, renditions go under a version derived
from the upload (so a retry overwrites its own unpublished files and a published URL never
changes meaning), and READY/FAILED are set by lightweight transactions. Bad media ends
FAILED with a reason; a crash or backend error is retried, and the last delivery gives up
with PROCESSING_ERROR. Image decoding runs in a process pool (bounded memory per child),
ffmpeg in child processes, so the worker's event loop stays responsive.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from photomesh.media.v1 import events_pb2
from PIL import Image

from services.media.events import BucketEvent, MediaEvents
from services.media.images import ImageLimits, blurhash_of, transcode_image
from services.media.library import MediaLibrary
from services.media.model import (
    CONTENT_TYPES,
    FailureReason,
    Kind,
    Media,
    MediaFailure,
    Outcome,
    Status,
    Variant,
    variants_prefix,
)
from services.media.objects import UPLOAD_PREFIX, MediaObjects
from services.media.settings import MediaSettings
from services.media.store import MediaStore
from services.media.videos import VideoLimits, transcode_video
from services.runtime import metrics
from services.runtime.errors import NotFound
from services.runtime.events import Delivery

log = logging.getLogger(__name__)

#: Part of every rendition version: bump it when the output of the pipeline changes.
PIPELINE_VERSION = "1"
_EXTENSIONS = {"image/jpeg": "jpg", "image/webp": "webp", "image/png": "png"}


def _limit_memory(megabytes: int) -> None:
    """Pool child initialiser: cap the address space so a decompression bomb that gets
    past the pixel check fails with MemoryError instead of exhausting the machine."""
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class ImagePool:
    """A process pool for image decoding that is rebuilt if a child dies."""

    def __init__(self, workers: int, memory_mb: int) -> None:
        self._workers = workers
        self._memory_mb = memory_mb
        self._pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self._workers, mp_context=get_context("spawn"),
                                   initializer=_limit_memory, initargs=(self._memory_mb,),
                                   max_tasks_per_child=100)

    async def transcode(self, data: bytes, limits: ImageLimits):  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, transcode_image, data, limits)
        except BrokenProcessPool:  # the decoder died on this file (or was killed)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new()
            raise MediaFailure(FailureReason.PROCESSING_ERROR,
                               "the image could not be decoded safely (the decoder "
                               "crashed)") from None
        except MemoryError:
            raise MediaFailure(FailureReason.TOO_LARGE,
                               "decoding the image needed more memory than allowed") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Transcoder:
    def __init__(self, store: MediaStore, objects: MediaObjects, events: MediaEvents,
                 library: MediaLibrary, settings: MediaSettings, pool: ImagePool,
                 max_deliver: int) -> None:
        self._store = store
        self._objects = objects
        self._events = events
        self._library = library
        self._settings = settings
        self._pool = pool
        self._max_deliver = max_deliver

    # --- MinIO bucket events -------------------------------------------------------------

    async def on_bucket_event(self, event: BucketEvent, delivery: Delivery) -> None:
        """An object landed: if it is an upload of ours, start processing it. Events of
        other buckets (other deployments share the stream) are acknowledged and skipped."""
        for record in event.records:
            if record.bucket != self._objects.bucket or not record.key.startswith(
                    UPLOAD_PREFIX):
                continue
            media_id = record.key[len(UPLOAD_PREFIX):]
            try:
                await self._library.receive(media_id, record.size)
            except NotFound:
                log.info("upload %s has no media item (deleted?); ignored", record.key)

    # --- MediaUploadedEvent --------------------------------------------------------------

    async def on_uploaded(self, event: events_pb2.MediaUploadedEvent,
                          delivery: Delivery) -> None:
        media = await self._store.get(event.media_id)
        if media is None or media.deleted:
            return
        if media.finished:
            await self._publish_outcome(media)
            return
        if media.status is not Status.PROCESSING:
            return
        started = time.monotonic()
        kind = media.kind.name.lower()
        try:
            outcome = await self._transcode(media)
        except MediaFailure as failure:
            await self._fail(media, failure.reason, failure.message)
            metrics.media_job(kind, "failed", failure.reason.name, time.monotonic() - started)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if delivery.attempt < self._max_deliver:
                metrics.media_job(kind, "retried", type(exc).__name__)
                raise  # redelivered with backoff
            log.exception("media %s: giving up after %d attempts", media.media_id,
                          delivery.attempt)
            await self._fail(media, FailureReason.PROCESSING_ERROR,
                             f"processing failed after {delivery.attempt} attempts "
                             f"({type(exc).__name__})")
            metrics.media_job(kind, "failed", FailureReason.PROCESSING_ERROR.name)
            return
        if not await self._store.mark_ready(media.media_id, outcome):
            current = await self._store.get(media.media_id)
            if current is None or current.deleted:  # deleted meanwhile: drop our files
                await self._objects.delete([v.key for v in outcome.variants])
                await self._objects.delete_prefix(f"m/{media.media_id}/")
                return
        await self._objects.delete([media.upload_key])
        metrics.media_job(kind, "ready", "", time.monotonic() - started)
        ready = await self._store.get(media.media_id)
        if ready is not None and not ready.deleted:
            await self._publish_outcome(ready)

    async def _fail(self, media: Media, reason: FailureReason, message: str) -> None:
        log.info("media %s failed: %s (%s)", media.media_id, reason.name, message)
        await self._store.mark_failed(media.media_id, Status.PROCESSING, reason, message)
        await self._objects.delete([media.upload_key])
        failed = await self._store.get(media.media_id)
        if failed is not None and failed.status is Status.FAILED:
            await self._publish_outcome(failed)

    async def _publish_outcome(self, media: Media) -> None:
        if not media.outcome_published:
            await self._events.finished(media)
            await self._store.mark_published(media.media_id)

    async def _transcode(self, media: Media) -> Outcome:
        info = await self._objects.stat(media.upload_key)
        if info is None:
            raise MediaFailure(FailureReason.PROCESSING_ERROR,
                               "the uploaded bytes are no longer there; upload again")
        limit = self._library.limit_for(media.kind)
        if info.size > limit or info.size > media.declared_size:
            raise MediaFailure(FailureReason.TOO_LARGE,
                               f"the upload is {info.size} bytes; at most "
                               f"{min(limit, media.declared_size)} bytes are allowed")
        version = hashlib.sha256(f"{info.etag}:{info.size}:{PIPELINE_VERSION}".encode()
                                 ).hexdigest()[:16]
        prefix = variants_prefix(media.media_id, version)
        if media.kind is Kind.IMAGE:
            return await self._image(media, prefix, info.size)
        return await self._video(media, prefix, info.size)

    async def _image(self, media: Media, prefix: str, size: int) -> Outcome:
        s = self._settings
        data = await self._objects.read(media.upload_key, size)
        result = await self._pool.transcode(data, ImageLimits(
            s.max_image_pixels, s.jpeg_quality, s.webp_quality, s.webp_method))
        variants = []
        for v in result.variants:
            content_type = CONTENT_TYPES[v.format]
            side = f"{v.width}x{v.height}"
            key = f"{prefix}{v.name.name.lower()}_{side}.{_EXTENSIONS[content_type]}"
            await self._objects.put(key, v.data, content_type)
            variants.append(Variant(v.name, v.format, v.width, v.height, key, len(v.data)))
        return Outcome(result.width, result.height, size, variants, result.blurhash)

    async def _video(self, media: Media, prefix: str, size: int) -> Outcome:
        s = self._settings
        limits = VideoLimits(s.max_video_seconds, s.max_video_pixels, s.ffmpeg_timeout_seconds,
                             s.ffmpeg_threads)
        with tempfile.TemporaryDirectory(prefix="photomesh-video-") as tmp:
            work = Path(tmp)
            source = work / "source"
            await self._objects.download(media.upload_key, source)
            out = work / "out"
            out.mkdir()
            try:
                result = await transcode_video(source, out, limits)
            except TimeoutError:
                raise MediaFailure(FailureReason.PROCESSING_ERROR,
                                   "transcoding the video took too long") from None
            sizes = {}
            for f in result.files:
                await self._objects.put_file(prefix + f.relative, f.path, f.content_type)
                sizes[f.relative] = f.path.stat().st_size
            poster = next(f for f in result.files if f.relative == "poster.jpg")
            with Image.open(poster.path) as frame:  # small: its blurhash is made right here
                blurhash = blurhash_of(frame.convert("RGB"))
            variants = [Variant(v.name, v.format, v.width, v.height, prefix + v.relative,
                                sizes[v.relative]) for v in result.variants]
        return Outcome(result.width, result.height, size, variants, blurhash,
                       result.duration_ms)
