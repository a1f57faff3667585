"""Arrival of uploads: MinIO's bucket event alone, and together with CompleteUpload,
processes each item exactly once; the outcome is published on the media stream."""

from __future__ import annotations

import asyncio

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from photomesh.media.v1 import events_pb2
from photomesh.media.v1 import media_service_pb2 as media_pb

from tests.helpers import bearer
from tests.media_support import jpeg_bytes, upload_media, wait_for_status


async def media_events(mesh, event: str, media_id: str) -> list:
    """Every `event` message of the run's media stream about `media_id`."""
    env = mesh.env
    nc = await nats.connect(env["PHOTOMESH_NATS_URL"])
    try:
        js = nc.jetstream()
        subject = f"{env['PHOTOMESH_NATS_SUBJECT_PREFIX']}.media.{event}"
        sub = await js.pull_subscribe(subject, stream=f"{env['PHOTOMESH_NATS_STREAM_PREFIX']}"
                                                      "_MEDIA")
        found = []
        while True:
            try:
                msgs = await sub.fetch(100, timeout=1.0)
            except (TimeoutError, NatsTimeoutError):
                break
            for msg in msgs:
                parsed = {"uploaded": events_pb2.MediaUploadedEvent,
                          "ready": events_pb2.MediaReadyEvent,
                          "failed": events_pb2.MediaFailedEvent}[event].FromString(msg.data)
                about = parsed.media.media_id if event == "ready" else parsed.media_id
                if about == media_id:
                    found.append(parsed)
                await msg.ack()
        await sub.unsubscribe()
        return found
    finally:
        await nc.close()


async def test_minio_event_alone_starts_processing(media_target, user, mesh) -> None:
    media_id = await upload_media(media_target, user, jpeg_bytes(400, 300), "image/jpeg",
                                  complete=False)
    media = await wait_for_status(media_target, user, media_id, timeout=60)
    ready = await media_events(mesh, "ready", media_id)
    assert len(ready) == 1
    assert ready[0].owner_user_id == media.owner_user_id
    assert [v.url for v in ready[0].media.variants] == [v.url for v in media.variants]
    assert ready[0].media.blurhash == media.blurhash


async def test_complete_and_event_together_process_once(media, media_target, user,
                                                        mesh) -> None:
    media_id = await upload_media(media_target, user, jpeg_bytes(500, 500), "image/jpeg",
                                  complete=False)
    completions = await asyncio.gather(*(
        media.CompleteUpload(media_pb.CompleteUploadRequest(media_id=media_id),
                             metadata=bearer(user)) for _ in range(3)))
    assert all(c.media.status in (media_pb.MEDIA_STATUS_PROCESSING,
                                  media_pb.MEDIA_STATUS_READY) for c in completions)
    first = await wait_for_status(media_target, user, media_id, timeout=60)
    # Completing a READY item changes nothing.
    again = await media.CompleteUpload(media_pb.CompleteUploadRequest(media_id=media_id),
                                       metadata=bearer(user))
    assert again.media.status == media_pb.MEDIA_STATUS_READY
    assert [v.url for v in again.media.variants] == [v.url for v in first.variants]
    assert len(await media_events(mesh, "uploaded", media_id)) == 1
    assert len(await media_events(mesh, "ready", media_id)) == 1
    assert first.process_time.ToDatetime() == again.media.process_time.ToDatetime()


async def test_failure_is_published(media_target, user, mesh) -> None:
    media_id = await upload_media(media_target, user, b"garbage" * 100, "image/png")
    await wait_for_status(media_target, user, media_id, media_pb.MEDIA_STATUS_FAILED)
    failed = await media_events(mesh, "failed", media_id)
    assert len(failed) == 1
    assert failed[0].failure_reason == media_pb.MEDIA_FAILURE_REASON_UNSUPPORTED_FORMAT
    assert failed[0].failure_message
