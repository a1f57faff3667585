"""Images end to end: upload through the pre-signed URL, transcoding, stored renditions."""

from __future__ import annotations

import asyncio
import io
import time

from minio import Minio
from minio.error import S3Error
from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.media.v1 import media_service_pb2 as media_pb
from PIL import Image

from tests.media_support import (
    FAILED,
    http_get,
    jpeg_bytes,
    png_with_orientation,
    upload_media,
    wait_for_status,
)

V = common_pb
IMMUTABLE = "public, max-age=31536000, immutable"
FORMATS = {V.MEDIA_FORMAT_JPEG: ("JPEG", "image/jpeg"), V.MEDIA_FORMAT_WEBP: ("WEBP", "image/webp"),
           V.MEDIA_FORMAT_PNG: ("PNG", "image/png")}


async def fetch_image(url: str) -> tuple[Image.Image, dict[str, str], bytes]:
    status, headers, body = await asyncio.to_thread(http_get, url)
    assert status == 200, (url, status, body[:200])
    image = Image.open(io.BytesIO(body))
    image.load()
    return image, headers, body


def by_name(media: media_pb.Media) -> dict[tuple[int, int], common_pb.MediaVariant]:
    return {(v.name, v.format): v for v in media.variants}


async def test_jpeg_gets_every_rendition_without_metadata(media_target, user, direct) -> None:
    media_id = await upload_media(media_target, user, jpeg_bytes(1200, 900), "image/jpeg")
    media = await wait_for_status(media_target, user, media_id)

    assert (media.width, media.height) == (1200, 900)
    assert len(media.blurhash) == 28 and media.kind == V.MEDIA_KIND_IMAGE
    expected = {
        V.VARIANT_NAME_THUMBNAIL: (150, 150), V.VARIANT_NAME_SMALL: (320, 240),
        V.VARIANT_NAME_MEDIUM: (640, 480), V.VARIANT_NAME_LARGE: (1080, 810),
    }
    variants = by_name(media)
    assert set(variants) == {(n, f) for n in expected
                             for f in (V.MEDIA_FORMAT_JPEG, V.MEDIA_FORMAT_WEBP)} | {
        (V.VARIANT_NAME_ORIGINAL, V.MEDIA_FORMAT_JPEG)}
    sizes = [v.width * v.height for v in media.variants]
    assert sizes == sorted(sizes), "variants come smallest first"
    for (name, fmt), variant in variants.items():
        want = expected.get(name, (1200, 900))
        assert (variant.width, variant.height) == want
        assert variant.url.startswith("http://127.0.0.1:18080/media/pmtest-")
        image, headers, body = await fetch_image(direct(variant.url))
        assert image.size == want
        assert image.format == FORMATS[fmt][0]
        assert headers["Content-Type"] == FORMATS[fmt][1]
        assert headers["Cache-Control"] == IMMUTABLE
        assert variant.size_bytes == len(body)
        assert not image.getexif(), f"{variant.url} still carries EXIF"
        assert b"PhotomeshCam" not in body and b"GPS" not in body
        assert "icc_profile" not in image.info and "xmp" not in image.info


async def test_large_image_is_never_upscaled(media_target, user) -> None:
    media_id = await upload_media(media_target, user, jpeg_bytes(200, 100), "image/jpeg")
    media = await wait_for_status(media_target, user, media_id)
    sizes = {V.VARIANT_NAME_THUMBNAIL: (100, 100), V.VARIANT_NAME_SMALL: (200, 100),
             V.VARIANT_NAME_MEDIUM: (200, 100), V.VARIANT_NAME_LARGE: (200, 100)}
    # Every rendition is there (none skipped for being larger than the source) …
    assert set(by_name(media)) == {(n, f) for n in sizes
                                   for f in (V.MEDIA_FORMAT_JPEG, V.MEDIA_FORMAT_WEBP)} | {
        (V.VARIANT_NAME_ORIGINAL, V.MEDIA_FORMAT_JPEG)}
    # … and none is larger than the 200x100 source (the thumbnail is its largest square).
    assert {(v.name, v.format): (v.width, v.height) for v in media.variants} == {
        key: sizes.get(key[0], (200, 100)) for key in by_name(media)}


async def test_png_exif_orientation_is_applied(media_target, user, direct) -> None:
    # Stored 400x200 with a red block top-left; orientation 6 means "rotate 90° clockwise
    # to display", so the displayed image is 200x400 with the block top-right.
    media_id = await upload_media(media_target, user, png_with_orientation(400, 200, 6),
                                  "image/png")
    media = await wait_for_status(media_target, user, media_id)
    assert (media.width, media.height) == (200, 400)
    variants = by_name(media)
    original, _, _ = await fetch_image(direct(
        variants[(V.VARIANT_NAME_ORIGINAL, V.MEDIA_FORMAT_PNG)].url))
    assert original.size == (200, 400) and original.format == "PNG"
    assert not original.getexif()
    rgb = original.convert("RGB")
    assert rgb.getpixel((195, 5)) == (255, 0, 0)  # the block, now top-right
    assert rgb.getpixel((5, 5)) != (255, 0, 0)
    small, _, _ = await fetch_image(direct(
        variants[(V.VARIANT_NAME_SMALL, V.MEDIA_FORMAT_JPEG)].url))
    assert small.size == (160, 320)
    r, g, b = small.convert("RGB").getpixel((155, 5))
    assert r > 200 and g < 60 and b < 60


async def test_raw_upload_is_not_public_and_is_removed(media_target, user, mesh) -> None:
    media_id = await upload_media(media_target, user, jpeg_bytes(300, 200), "image/jpeg")
    await wait_for_status(media_target, user, media_id)
    env = mesh.env
    bucket, key = env["PHOTOMESH_MINIO_BUCKET"], f"uploads/{media_id}"
    # Anonymous reads of uploads/ are refused whether or not the object exists (a public
    # prefix answers 404 for a missing object, as m/ does).
    url = f"http://{env['PHOTOMESH_MINIO_ENDPOINT']}/{bucket}/{key}"
    status, _, _ = await asyncio.to_thread(http_get, url)
    assert status == 403
    # The raw bytes themselves are deleted once the renditions are stored (asked with the
    # store's own credentials; the worker removes them right after marking the item READY).
    store = Minio(env["PHOTOMESH_MINIO_ENDPOINT"], access_key=env["PHOTOMESH_MINIO_ACCESS_KEY"],
                  secret_key=env["PHOTOMESH_MINIO_SECRET_KEY"], secure=False)

    async def raw_object_code() -> str:
        try:
            await asyncio.to_thread(store.stat_object, bucket, key)
        except S3Error as err:
            return str(err.code)
        return "present"

    deadline = time.monotonic() + 20
    while True:
        code = await raw_object_code()
        if code != "present" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert code == "NoSuchKey"


async def test_corrupt_and_truncated_files_fail_and_the_worker_goes_on(media_target,
                                                                      user) -> None:
    good = jpeg_bytes(640, 480)
    garbage = await upload_media(media_target, user, b"\x00not an image" * 500, "image/jpeg")
    truncated = await upload_media(media_target, user, good[: len(good) // 2], "image/jpeg")
    after = await upload_media(media_target, user, good, "image/jpeg")

    failed = await wait_for_status(media_target, user, garbage, FAILED)
    assert failed.failure_reason == media_pb.MEDIA_FAILURE_REASON_UNSUPPORTED_FORMAT
    assert "not an image" in failed.failure_message
    assert not failed.variants
    failed = await wait_for_status(media_target, user, truncated, FAILED)
    assert failed.failure_reason == media_pb.MEDIA_FAILURE_REASON_CORRUPT
    assert "truncated" in failed.failure_message
    ready = await wait_for_status(media_target, user, after)
    assert ready.variants


async def test_a_png_declared_as_jpeg_is_judged_by_its_bytes(media_target, user) -> None:
    media_id = await upload_media(media_target, user, png_with_orientation(64, 32, 1),
                                  "image/jpeg")
    media = await wait_for_status(media_target, user, media_id)
    assert (V.VARIANT_NAME_ORIGINAL, V.MEDIA_FORMAT_PNG) in by_name(media)
