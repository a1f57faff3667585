"""`GET /media/<bucket>/<key>` through the edge: MinIO path-style, range requests (206),
immutable caching for objects and none for errors, no credentials passed to MinIO."""

from __future__ import annotations

import io
import json
import os

import pytest
from minio import Minio

from infra.backends.envoy import EnvoyBackend
from infra.sandbox import Mesh
from tests.edge.conftest import Account
from tests.edge.http import request

IMMUTABLE = "public, max-age=31536000, immutable"
#: Media objects readable without credentials live under m/ (the media service's layout).
PUBLIC_PREFIX = "m/"


@pytest.fixture(scope="module")
def media_object(mesh: Mesh) -> tuple[str, str, bytes]:
    """(bucket, key, bytes): an object under the public prefix of the mesh's bucket."""
    env = mesh.env
    client = Minio(env["PHOTOMESH_MINIO_ENDPOINT"], env["PHOTOMESH_MINIO_ACCESS_KEY"],
                   env["PHOTOMESH_MINIO_SECRET_KEY"], secure=False)
    bucket = env["PHOTOMESH_MINIO_BUCKET"]
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    try:
        client.get_bucket_policy(bucket)
    except Exception:  # noqa: BLE001 - no policy yet: make m/* public like the media service
        client.set_bucket_policy(bucket, json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{PUBLIC_PREFIX}*"]}]}))
    data = os.urandom(64 * 1024)
    key = f"{PUBLIC_PREFIX}edge-test/{os.urandom(6).hex()}.bin"
    client.put_object(bucket, key, io.BytesIO(data), len(data),
                      content_type="application/octet-stream")
    return bucket, key, data


def test_range_request_is_206_and_immutable(edge: EnvoyBackend, account: Account,
                                             media_object: tuple[str, str, bytes]) -> None:
    bucket, key, data = media_object
    # A signed-in browser sends its bearer token along; MinIO must never see it.
    reply = request(edge.settings.envoy_port, "GET", f"/media/{bucket}/{key}",
                    headers={"range": "bytes=1000-1999"}, token=account.access_token)
    assert reply.status == 206, reply.body[:300]
    assert reply.body == data[1000:2000]
    assert reply.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    assert reply.headers["cache-control"] == IMMUTABLE
    whole = request(edge.settings.envoy_port, "GET", f"/media/{bucket}/{key}")
    assert whole.status == 200 and whole.body == data
    assert whole.headers["cache-control"] == IMMUTABLE
    assert whole.headers["accept-ranges"] == "bytes"


def test_errors_are_not_cached(edge: EnvoyBackend, media_object: tuple[str, str, bytes]
                               ) -> None:
    bucket, _, _ = media_object
    missing = request(edge.settings.envoy_port, "GET", f"/media/{bucket}/{PUBLIC_PREFIX}nope")
    assert missing.status in (403, 404)
    assert missing.headers["cache-control"] == "no-store"
    private = request(edge.settings.envoy_port, "GET", f"/media/{bucket}/uploads/secret")
    assert private.status in (403, 404)


def test_only_the_media_bucket_and_only_reads(edge: EnvoyBackend,
                                              media_object: tuple[str, str, bytes]) -> None:
    bucket, key, _ = media_object
    assert request(edge.settings.envoy_port, "GET", f"/media/some-other-bucket/{key}"
                   ).status == 404
    put = request(edge.settings.envoy_port, "PUT", f"/media/{bucket}/{key}", body=b"x")
    assert put.status in (401, 404)
