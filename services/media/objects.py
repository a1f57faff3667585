"""The media bucket in MinIO: pre-signed uploads, renditions, public reads, events.

Bytes of uploads never pass through a service: `presign_put` signs a URL for exactly one
object key, with the Content-Type and Content-Length the client declared among the signed
headers (MinIO refuses any other key, type or size, and the URL after it expires).
Renditions are written with immutable cache headers under versioned keys; anonymous reads
are allowed on those (``m/*``) only, never on raw uploads (``uploads/*``, which may carry
location metadata).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from minio.notificationconfig import NotificationConfig, PrefixFilterRule, QueueConfig

from services.runtime.settings import MinioSettings

IMMUTABLE = "public, max-age=31536000, immutable"
PUBLIC_PREFIX = "m/"
UPLOAD_PREFIX = "uploads/"

@dataclass(frozen=True)
class PresignedPut:
    url: str
    headers: dict[str, str]
    expires_at: datetime


def _sign(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def presign_put(base_url: str, bucket: str, key: str, *, access_key: str, secret_key: str,
                region: str, content_type: str, content_length: int, expires_seconds: int,
                now: datetime | None = None) -> PresignedPut:
    """An AWS Signature V4 query-string URL for one PUT (path-style), whose signature also
    covers ``content-type`` and ``content-length``."""
    now = now or datetime.now(UTC)
    split = urllib.parse.urlsplit(base_url)
    host = split.netloc
    path = "/" + urllib.parse.quote(f"{bucket}/{key}", safe="/-_.~")
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    scope = f"{day}/{region}/s3/aws4_request"
    headers = {"content-length": str(content_length), "content-type": content_type,
               "host": host}
    signed = ";".join(sorted(headers))
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(expires_seconds),
        "X-Amz-SignedHeaders": signed,
    }
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(query.items()))
    canonical_headers = "".join(f"{k}:{headers[k].strip()}\n" for k in sorted(headers))
    canonical = "\n".join(["PUT", path, canonical_query, canonical_headers, signed,
                           "UNSIGNED-PAYLOAD"])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    signing_key = _sign(_sign(_sign(_sign(f"AWS4{secret_key}".encode(), day), region), "s3"),
                        "aws4_request")
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    url = f"{split.scheme}://{host}{path}?{canonical_query}&X-Amz-Signature={signature}"
    expires_at = datetime.fromtimestamp(now.timestamp() + expires_seconds, UTC)
    return PresignedPut(url, {"Content-Type": content_type}, expires_at)


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str


class MediaObjects:
    """Blocking MinIO SDK calls, each run in a thread."""

    def __init__(self, client: Minio, settings: MinioSettings,
                 upload_endpoint: str | None = None) -> None:
        self._client = client
        self.settings = settings
        self.bucket = settings.bucket
        scheme = "https" if settings.secure else "http"
        self._upload_base = upload_endpoint or f"{scheme}://{settings.endpoint}"

    def presign_upload(self, key: str, content_type: str, size: int,
                       expires_seconds: int) -> PresignedPut:
        s = self.settings
        return presign_put(self._upload_base, self.bucket, key,
                           access_key=s.upload_access_key, secret_key=s.upload_secret_key,
                           region=s.region,
                           content_type=content_type, content_length=size,
                           expires_seconds=expires_seconds)

    async def stat(self, key: str) -> ObjectInfo | None:
        try:
            info = await asyncio.to_thread(self._client.stat_object, self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return None
            raise
        return ObjectInfo(int(info.size or 0), (info.etag or "").strip('"'))

    async def read(self, key: str, limit: int) -> bytes:
        """The object's bytes, at most `limit` (callers check the size first)."""
        def fetch() -> bytes:
            response = self._client.get_object(self.bucket, key, length=limit)
            try:
                return bytes(response.read())
            finally:
                response.close()
                response.release_conn()
        return await asyncio.to_thread(fetch)

    async def download(self, key: str, path: Path) -> None:
        await asyncio.to_thread(self._client.fget_object, self.bucket, key, str(path))

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        import io

        await asyncio.to_thread(self._client.put_object, self.bucket, key, io.BytesIO(data),
                                len(data), content_type=content_type,
                                metadata={"Cache-Control": IMMUTABLE})

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        await asyncio.to_thread(self._client.fput_object, self.bucket, key, str(path),
                                content_type=content_type,
                                metadata={"Cache-Control": IMMUTABLE})

    async def delete(self, keys: list[str]) -> None:
        """Delete objects (missing ones are fine)."""
        if not keys:
            return

        def remove() -> None:
            errors = list(self._client.remove_objects(
                self.bucket, [DeleteObject(k) for k in keys]))
            if errors:
                raise RuntimeError(f"could not delete {len(errors)} object(s): {errors[0]}")
        await asyncio.to_thread(remove)

    async def delete_prefix(self, prefix: str) -> None:
        def keys() -> list[str]:
            return [o.object_name for o in self._client.list_objects(
                self.bucket, prefix=prefix, recursive=True) if o.object_name]
        await self.delete(await asyncio.to_thread(keys))

    async def configure_bucket(self, notify_arn: str) -> None:
        """Anonymous reads of renditions only, and an event for every upload that lands
        (MinIO's NATS target). Idempotent; run at start-up."""
        policy = {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{self.bucket}/{PUBLIC_PREFIX}*"],
            }],
        }
        notification = NotificationConfig(queue_config_list=[QueueConfig(
            queue=notify_arn, events=["s3:ObjectCreated:*"], config_id="photomesh-uploads",
            prefix_filter_rule=PrefixFilterRule(UPLOAD_PREFIX))])
        await asyncio.to_thread(self._client.set_bucket_policy, self.bucket,
                                json.dumps(policy))
        try:
            await asyncio.to_thread(self._client.set_bucket_notification, self.bucket,
                                    notification)
        except S3Error as exc:
            raise RuntimeError(
                f"MinIO refused the bucket notification to {notify_arn} ({exc.code}): start "
                "MinIO with its NATS target (./photomesh up configures it) or set "
                "PHOTOMESH_MEDIA_MINIO_NOTIFY_ARN") from exc
