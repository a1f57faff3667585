"""Who may see, complete and delete a media item; batch reads for users and services."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from photomesh.media.v1 import media_service_pb2 as media_pb

from infra.services import service_key_path
from services.runtime.auth import ServiceCredentials
from tests.helpers import bearer, error_info
from tests.media_support import http_get, jpeg_bytes, ready_media, upload_media


async def rpc_error(call) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


async def test_others_cannot_see_complete_or_delete_pending_media(media, media_target, user,
                                                                 other_user) -> None:
    media_id = await upload_media(media_target, user, jpeg_bytes(64, 64), "image/jpeg",
                                  complete=False)
    for call in (media.GetMedia(media_pb.GetMediaRequest(media_id=media_id),
                                metadata=bearer(other_user)),
                 media.CompleteUpload(media_pb.CompleteUploadRequest(media_id=media_id),
                                      metadata=bearer(other_user)),
                 media.DeleteMedia(media_pb.DeleteMediaRequest(media_id=media_id),
                                   metadata=bearer(other_user))):
        err = await rpc_error(call)
        assert err.code() == grpc.StatusCode.NOT_FOUND
        assert error_info(err).reason == "MEDIA_NOT_FOUND"


async def test_ready_media_is_visible_to_others_but_only_the_owner_deletes(
        media, media_target, user, other_user, direct) -> None:
    item = await ready_media(media_target, user)
    seen = await media.GetMedia(media_pb.GetMediaRequest(media_id=item.media_id),
                                metadata=bearer(other_user))
    assert seen.media.variants
    err = await rpc_error(media.DeleteMedia(media_pb.DeleteMediaRequest(
        media_id=item.media_id), metadata=bearer(other_user)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(err).reason == "MEDIA_NOT_OWNED"
    err = await rpc_error(media.CompleteUpload(media_pb.CompleteUploadRequest(
        media_id=item.media_id), metadata=bearer(other_user)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED

    await media.DeleteMedia(media_pb.DeleteMediaRequest(media_id=item.media_id),
                            metadata=bearer(user))
    await media.DeleteMedia(media_pb.DeleteMediaRequest(media_id=item.media_id),
                            metadata=bearer(user))  # idempotent
    err = await rpc_error(media.GetMedia(media_pb.GetMediaRequest(media_id=item.media_id),
                                         metadata=bearer(user)))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    for variant in item.variants:
        status, _, _ = await asyncio.to_thread(http_get, direct(variant.url))
        assert status in (403, 404), f"{variant.url} survived the deletion"


async def test_bad_and_unknown_ids(media, user) -> None:
    err = await rpc_error(media.GetMedia(media_pb.GetMediaRequest(media_id="nope"),
                                         metadata=bearer(user)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await rpc_error(media.GetMedia(media_pb.GetMediaRequest(
        media_id=str(uuid.uuid4())), metadata=bearer(user)))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = await rpc_error(media.DeleteMedia(media_pb.DeleteMediaRequest(
        media_id=str(uuid.uuid4())), metadata=bearer(user)))
    assert err.code() == grpc.StatusCode.NOT_FOUND


async def test_batch_get_for_users_and_services(media, media_target, user, other_user,
                                                mesh) -> None:
    mine = await ready_media(media_target, user)
    theirs = await ready_media(media_target, other_user)
    unknown = str(uuid.uuid4())
    ids = [theirs.media_id, mine.media_id, unknown, mine.media_id]

    reply = await media.BatchGetMedia(media_pb.BatchGetMediaRequest(media_ids=ids),
                                      metadata=bearer(user))
    assert [m.media_id for m in reply.media] == [mine.media_id]
    assert list(reply.missing_media_ids) == [theirs.media_id, unknown]

    service = ServiceCredentials.load("post", service_key_path(mesh.settings, "post"))
    reply = await media.BatchGetMedia(media_pb.BatchGetMediaRequest(media_ids=ids),
                                      metadata=bearer(service.principal().token))
    assert [m.media_id for m in reply.media] == [theirs.media_id, mine.media_id]
    assert list(reply.missing_media_ids) == [unknown]
    assert all(m.variants for m in reply.media)

    err = await rpc_error(media.BatchGetMedia(media_pb.BatchGetMediaRequest(
        media_ids=[str(uuid.uuid4()) for _ in range(101)]), metadata=bearer(user)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(err).reason == "BATCH_TOO_LARGE"
    # A service token is not a user: user RPCs refuse it.
    err = await rpc_error(media.GetMedia(media_pb.GetMediaRequest(media_id=mine.media_id),
                                         metadata=bearer(service.principal().token)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
