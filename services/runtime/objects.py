"""MinIO (S3 API, `minio` SDK): media objects. The bucket is declared at start-up."""

from __future__ import annotations

import asyncio

from minio import Minio
from minio.error import S3Error

from services.runtime.settings import MinioSettings


async def connect_minio(settings: MinioSettings, *, ensure_bucket: bool = True) -> Minio:
    client = Minio(settings.endpoint, access_key=settings.access_key,
                   secret_key=settings.secret_key, secure=settings.secure,
                   region=settings.region)
    if ensure_bucket:
        exists = await asyncio.to_thread(client.bucket_exists, settings.bucket)
        if not exists:
            try:
                await asyncio.to_thread(client.make_bucket, settings.bucket)
            except S3Error as exc:  # another process made it meanwhile
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
    return client
