"""The key that signs upload URLs (services/media/upload_key.py) is not the services' MinIO
user: with it, a PutObject under uploads/ works and nothing else does — no read, stat,
listing, delete, nor a write anywhere else."""

from __future__ import annotations

import asyncio
import io
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from minio import Minio
from minio.error import S3Error
from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.media.v1 import media_service_pb2 as media_pb

from infra.sandbox import Mesh
from tests.helpers import bearer
from tests.media_support import jpeg_bytes


def _client(mesh: Mesh, access: str, secret: str) -> Minio:
    return Minio(mesh.env["PHOTOMESH_MINIO_ENDPOINT"], access_key=mesh.env[access],
                 secret_key=mesh.env[secret], secure=False,
                 region=mesh.env.get("PHOTOMESH_MINIO_REGION", "us-east-1"))  # no location ask


def _refused(call, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(S3Error) as err:
        result = call(*args, **kwargs)
        if result is not None and not isinstance(result, (str, bytes)):
            list(result)  # a listing is lazy
    return str(err.value.code)


async def test_upload_urls_are_signed_with_the_upload_key(media, user, mesh: Mesh) -> None:
    created = await media.CreateUpload(media_pb.CreateUploadRequest(
        request_id=str(uuid.uuid4()), kind=common_pb.MEDIA_KIND_IMAGE,
        content_type="image/jpeg", size_bytes=100), metadata=bearer(user))
    credential = parse_qs(urlsplit(created.upload_url).query)["X-Amz-Credential"][0]
    assert credential.split("/")[0] == mesh.env["PHOTOMESH_MINIO_UPLOAD_ACCESS_KEY"]
    assert mesh.env["PHOTOMESH_MINIO_ACCESS_KEY"] not in created.upload_url


async def test_the_upload_key_can_only_put_under_uploads(mesh: Mesh) -> None:
    upload = _client(mesh, "PHOTOMESH_MINIO_UPLOAD_ACCESS_KEY",
                     "PHOTOMESH_MINIO_UPLOAD_SECRET_KEY")
    services = _client(mesh, "PHOTOMESH_MINIO_ACCESS_KEY", "PHOTOMESH_MINIO_SECRET_KEY")
    bucket = mesh.env["PHOTOMESH_MINIO_BUCKET"]
    data = jpeg_bytes(16, 16)
    key = f"uploads/{uuid.uuid4()}"

    def attempts() -> dict[str, str]:
        upload.put_object(bucket, key, io.BytesIO(data), len(data), content_type="image/jpeg")
        elsewhere = io.BytesIO(data)
        return {
            "read": _refused(upload.get_object, bucket, key),
            "stat": _refused(upload.stat_object, bucket, key),
            "list the uploads": _refused(upload.list_objects, bucket, prefix="uploads/"),
            "list the buckets": _refused(upload.list_buckets),
            "write a rendition": _refused(upload.put_object, bucket, f"m/{uuid.uuid4()}",
                                          elsewhere, len(data)),
            "write outside uploads/": _refused(upload.put_object, bucket,
                                               f"other/{uuid.uuid4()}", io.BytesIO(data),
                                               len(data)),
            "delete": _refused(upload.remove_object, bucket, key),
        }

    refusals = await asyncio.to_thread(attempts)
    assert all(code == "AccessDenied" for code in refusals.values()), refusals
    # The one thing it may do, it did: the object is there, whole (read with the services'
    # own user).
    stored = await asyncio.to_thread(lambda: services.get_object(bucket, key).read())
    assert stored == data
