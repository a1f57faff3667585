"""A presigned upload URL grants one thing: a PUT of its own object. Used to read the
object back, to read another object or to list the bucket, MinIO refuses it (the
signature covers the method, the path and the query)."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlsplit, urlunsplit

from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.media.v1 import media_service_pb2 as media_pb

from tests.helpers import bearer
from tests.media_support import http_put, jpeg_bytes

REFUSALS = (b"<Code>AccessDenied</Code>", b"<Code>SignatureDoesNotMatch</Code>")


def _call(url: str, method: str, data: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


async def test_an_upload_url_cannot_read_or_list_anything(media, user) -> None:
    data = jpeg_bytes(48, 48)
    created = await media.CreateUpload(media_pb.CreateUploadRequest(
        request_id=str(uuid.uuid4()), kind=common_pb.MEDIA_KIND_IMAGE,
        content_type="image/jpeg", size_bytes=len(data)), metadata=bearer(user))
    url, headers = created.upload_url, dict(created.upload_headers)
    status, body = await asyncio.to_thread(http_put, url, data, headers)
    assert status == 200, body[:300]

    path = urlsplit(url).path  # /<bucket>/uploads/<media id>
    bucket = path.split("/")[1]
    other = f"/{bucket}/uploads/{uuid.uuid4()}"
    attempts = {
        "read its own object": (url, "GET", None),
        "stat its own object": (url, "HEAD", None),
        "list the bucket": (_with_path(url, f"/{bucket}/"), "GET", None),
        "list the uploads": (_with_path(url, f"/{bucket}") + "&prefix=uploads/", "GET", None),
        "read another object": (_with_path(url, other), "GET", None),
        "write another object": (_with_path(url, other), "PUT", data),
        "delete its object": (url, "DELETE", None),
    }
    for what, (target, method, payload) in attempts.items():
        status, body = await asyncio.to_thread(_call, target, method, payload,
                                               headers if method == "PUT" else None)
        # 403, or 400 where MinIO finds the signed request malformed for the method;
        # always an S3 error naming the refusal, never the bytes or a listing.
        assert status in (400, 403), (what, status, body[:300])
        assert method == "HEAD" or any(code in body for code in REFUSALS), (what, body[:300])
        assert data not in body and b"<ListBucketResult" not in body, what
