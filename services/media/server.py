"""gRPC transport of MediaService: proto in, domain call, proto out."""

from __future__ import annotations

from grpc import aio
from photomesh.media.v1 import media_service_pb2 as pb
from photomesh.media.v1 import media_service_pb2_grpc as pb_grpc

from services.media.library import MediaLibrary
from services.media.messages import PublicUrls, media_pb
from services.runtime.auth import caller_name, current_principal
from services.runtime.clock import timestamp_from_datetime


class MediaServicer(pb_grpc.MediaServiceServicer):
    def __init__(self, library: MediaLibrary, urls: PublicUrls) -> None:
        self._library = library
        self._urls = urls

    async def CreateUpload(self, request: pb.CreateUploadRequest,
                           context: aio.ServicerContext) -> pb.CreateUploadResponse:
        reservation = await self._library.create_upload(
            current_principal().user_id, request.request_id, request.kind, request.content_type,
            request.size_bytes)
        expire = timestamp_from_datetime(reservation.upload.expires_at)
        return pb.CreateUploadResponse(
            media_id=reservation.media.media_id, upload_url=reservation.upload.url,
            upload_method="PUT", upload_headers=reservation.upload.headers,
            expire_time=expire)

    async def CompleteUpload(self, request: pb.CompleteUploadRequest,
                             context: aio.ServicerContext) -> pb.CompleteUploadResponse:
        media = await self._library.complete_upload(current_principal().user_id, request.media_id)
        return pb.CompleteUploadResponse(media=media_pb(media, self._urls))

    async def GetMedia(self, request: pb.GetMediaRequest, context: aio.ServicerContext
                       ) -> pb.GetMediaResponse:
        media = await self._library.get(current_principal().user_id, request.media_id)
        return pb.GetMediaResponse(media=media_pb(media, self._urls))

    async def BatchGetMedia(self, request: pb.BatchGetMediaRequest,
                            context: aio.ServicerContext) -> pb.BatchGetMediaResponse:
        items, missing = await self._library.batch_get(caller_name(),
                                                       list(request.media_ids))
        return pb.BatchGetMediaResponse(media=[media_pb(m, self._urls) for m in items],
                                        missing_media_ids=missing)

    async def DeleteMedia(self, request: pb.DeleteMediaRequest, context: aio.ServicerContext
                          ) -> pb.DeleteMediaResponse:
        await self._library.delete(current_principal().user_id, request.media_id)
        return pb.DeleteMediaResponse()
