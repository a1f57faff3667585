"""Media through the edge: a real JPEG uploaded and transcoded by the media service, its
variant URLs (`<edge>/media/<bucket>/<key>`) read through the edge from MinIO with range
requests (206) and immutable caching; errors uncached; no credentials passed to MinIO."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest
from photomesh.media.v1 import media_service_pb2 as media_pb

from infra.backends.envoy import EnvoyBackend
from infra.sandbox import Mesh
from tests.edge.conftest import Account, make_account
from tests.edge.http import request
from tests.media_support import jpeg_bytes, ready_media

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(scope="module")
async def owner(edge: EnvoyBackend) -> Account:
    return make_account(edge)


@pytest.fixture(scope="module")
async def photo(mesh: Mesh, owner: Account) -> media_pb.Media:
    return await ready_media(mesh.target("media"), owner.access_token, jpeg_bytes(800, 600))


def test_variant_urls_point_at_the_edge_media_route(photo: media_pb.Media, mesh: Mesh) -> None:
    bucket = mesh.env["PHOTOMESH_MINIO_BUCKET"]
    assert photo.variants
    for variant in photo.variants:
        assert urlsplit(variant.url).path.startswith(f"/media/{bucket}/"), variant.url


def test_range_request_is_206_and_immutable(edge: EnvoyBackend, owner: Account,
                                             photo: media_pb.Media) -> None:
    variant = max(photo.variants, key=lambda v: v.size_bytes)
    path = urlsplit(variant.url).path
    whole = request(edge.settings.envoy_port, "GET", path)
    assert whole.status == 200, whole.body[:300]
    assert len(whole.body) == variant.size_bytes
    assert whole.headers["cache-control"] == IMMUTABLE
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] in ("image/jpeg", "image/webp")
    # A signed-in browser sends its bearer token along; MinIO must never see it.
    part = request(edge.settings.envoy_port, "GET", path, headers={"range": "bytes=100-599"},
                   token=owner.access_token)
    assert part.status == 206, part.body[:300]
    assert part.body == whole.body[100:600]
    assert part.headers["content-range"] == f"bytes 100-599/{variant.size_bytes}"
    assert part.headers["cache-control"] == IMMUTABLE


def test_get_media_over_rest(edge: EnvoyBackend, owner: Account,
                             photo: media_pb.Media) -> None:
    reply = request(edge.settings.envoy_port, "GET", f"/v1/media/{photo.media_id}",
                    token=owner.access_token)
    assert reply.status == 200, reply.body
    media = reply.json()["media"]
    assert media["status"] == "MEDIA_STATUS_READY"
    assert {v["url"] for v in media["variants"]} == {v.url for v in photo.variants}
    missing = request(edge.settings.envoy_port, "GET", f"/v1/media/{uuid.uuid4()}",
                      token=owner.access_token)
    assert missing.status == 404 and missing.json()["code"] == 5


def test_errors_are_not_cached(edge: EnvoyBackend, photo: media_pb.Media) -> None:
    path = urlsplit(photo.variants[0].url).path
    missing = request(edge.settings.envoy_port, "GET", path.rsplit("/", 1)[0] + "/nope.jpg")
    assert missing.status in (403, 404)
    assert missing.headers["cache-control"] == "no-store"


def test_only_the_media_bucket_and_only_reads(edge: EnvoyBackend, photo: media_pb.Media
                                              ) -> None:
    path = urlsplit(photo.variants[0].url).path
    bucket = path.split("/")[2]
    other = path.replace(f"/media/{bucket}/", "/media/some-other-bucket/", 1)
    assert request(edge.settings.envoy_port, "GET", other).status == 404
    assert request(edge.settings.envoy_port, "PUT", path, body=b"x").status in (401, 404)


@pytest.fixture(scope="module")
def raw_upload(mesh: Mesh) -> str:
    """A raw upload in the bucket (under uploads/, where clients' bytes land before
    processing), put there with the services' own MinIO credentials; its key."""
    from io import BytesIO

    from minio import Minio

    key = f"uploads/{uuid.uuid4()}"
    client = Minio(mesh.env["PHOTOMESH_MINIO_ENDPOINT"],
                   access_key=mesh.env["PHOTOMESH_MINIO_ACCESS_KEY"],
                   secret_key=mesh.env["PHOTOMESH_MINIO_SECRET_KEY"], secure=False)
    client.put_object(mesh.env["PHOTOMESH_MINIO_BUCKET"], key, BytesIO(b"raw bytes, GPS"), 14)
    return key


def test_a_raw_upload_is_unreachable_through_the_edge(edge: EnvoyBackend, mesh: Mesh,
                                                      photo: media_pb.Media,
                                                      raw_upload: str) -> None:
    bucket = mesh.env["PHOTOMESH_MINIO_BUCKET"]
    port = edge.settings.envoy_port
    variant = urlsplit(photo.variants[0].url).path
    signed = ("?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x%2F20260101%2Fus-east-1"
              "%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900"
              "&X-Amz-SignedHeaders=host&X-Amz-Signature=00")
    refused = {
        f"/media/{bucket}/{raw_upload}": 404,                      # not the public prefix
        f"/media/{bucket}/m/../{raw_upload}": 404,                 # normalised, then refused
        f"/media/{bucket}/m/%2e%2e/{raw_upload}": 404,
        f"/media/{bucket}/m/..%2f{raw_upload}": 400,               # escaped slash refused
        f"/media/{bucket}//{raw_upload}": 404,
        f"/media/{bucket}/{raw_upload}{signed}": 400,              # no query strings at all
        f"/media/{bucket}/?list-type=2": 400,                      # no listing
        f"/media/{bucket}/": 404,
        f"{variant}?response-content-type=text/html": 400,
    }
    for path, status in refused.items():
        reply = request(port, "GET", path)
        assert reply.status == status, (path, reply.status, reply.body[:200])
        assert b"raw bytes" not in reply.body, path
    # The rendition itself is still served, and anonymously MinIO gives nothing else.
    assert request(port, "GET", variant).status == 200
    from tests.media_support import http_get

    status, _, body = http_get(f"http://{mesh.env['PHOTOMESH_MINIO_ENDPOINT']}/{bucket}/"
                               f"{raw_upload}")
    assert status == 403 and b"raw bytes" not in body
