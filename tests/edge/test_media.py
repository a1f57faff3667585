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
