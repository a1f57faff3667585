"""Videos end to end: renditions, HLS playlists, poster, limits."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import tempfile
from pathlib import Path

from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.media.v1 import media_service_pb2 as media_pb
from PIL import Image

from tests.media_support import FAILED, http_get, mp4_bytes, upload_media, wait_for_status

V = common_pb
IMMUTABLE = "public, max-age=31536000, immutable"


async def get(url: str) -> tuple[dict[str, str], bytes]:
    status, headers, body = await asyncio.to_thread(http_get, url)
    assert status == 200, (url, status)
    return headers, body


def probe(data: bytes) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.mp4"
        path.write_bytes(data)
        done = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json",
                               "-show_format", "-show_streams", str(path)],
                              capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout)


async def test_mp4_gets_renditions_hls_and_poster(media_target, user, direct) -> None:
    media_id = await upload_media(media_target, user, mp4_bytes(2.0, 640, 360), "video/mp4")
    media = await wait_for_status(media_target, user, media_id, timeout=90)

    assert media.kind == V.MEDIA_KIND_VIDEO and (media.width, media.height) == (640, 360)
    assert 1900 <= media.duration.ToMilliseconds() <= 2200
    assert media.blurhash
    variants = {v.name: v for v in media.variants}
    assert set(variants) == {V.VARIANT_NAME_POSTER, V.VARIANT_NAME_VIDEO_144P,
                             V.VARIANT_NAME_VIDEO_480P, V.VARIANT_NAME_HLS}
    # 1080p would upscale a 360-line source: the 480p rung is made at 360 lines, once.
    assert (variants[V.VARIANT_NAME_VIDEO_144P].width,
            variants[V.VARIANT_NAME_VIDEO_144P].height) == (256, 144)
    assert (variants[V.VARIANT_NAME_VIDEO_480P].width,
            variants[V.VARIANT_NAME_VIDEO_480P].height) == (640, 360)

    for name in (V.VARIANT_NAME_VIDEO_144P, V.VARIANT_NAME_VIDEO_480P):
        variant = variants[name]
        assert variant.format == V.MEDIA_FORMAT_MP4
        headers, body = await get(direct(variant.url))
        assert headers["Content-Type"] == "video/mp4"
        assert headers["Cache-Control"] == IMMUTABLE
        info = probe(body)
        codecs = {s["codec_type"]: s for s in info["streams"]}
        assert codecs["video"]["codec_name"] == "h264"
        assert codecs["audio"]["codec_name"] == "aac"
        assert (codecs["video"]["width"], codecs["video"]["height"]) == (variant.width,
                                                                         variant.height)
        assert "location" not in json.dumps(info["format"].get("tags", {})).lower()

    poster = variants[V.VARIANT_NAME_POSTER]
    headers, body = await get(direct(poster.url))
    assert headers["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(body))
    assert image.format == "JPEG" and image.size == (poster.width, poster.height)

    hls = variants[V.VARIANT_NAME_HLS]
    assert hls.format == V.MEDIA_FORMAT_HLS
    headers, body = await get(direct(hls.url))
    assert headers["Content-Type"] == "application/vnd.apple.mpegurl"
    master = body.decode()
    assert master.startswith("#EXTM3U")
    assert "RESOLUTION=256x144" in master and "RESOLUTION=640x360" in master
    playlists = [line for line in master.splitlines() if line and not line.startswith("#")]
    assert len(playlists) == 2
    base = direct(hls.url).rsplit("/", 1)[0]
    for playlist in playlists:
        _, body = await get(f"{base}/{playlist}")
        segments = [line for line in body.decode().splitlines()
                    if line and not line.startswith("#")]
        assert segments and "#EXT-X-ENDLIST" in body.decode()
        headers, _ = await get(f"{base}/{segments[0]}")
        assert headers["Content-Type"] == "video/mp2t"


async def test_too_long_video_fails_with_a_reason(media_target, user) -> None:
    # The limit is 60 s by default; 61 s of a tiny, fast-to-make clip.
    data = mp4_bytes(61.0, 64, 48, audio=False, rate=5)
    media_id = await upload_media(media_target, user, data, "video/mp4")
    media = await wait_for_status(media_target, user, media_id, FAILED, timeout=60)
    assert media.failure_reason == media_pb.MEDIA_FAILURE_REASON_DIMENSIONS_OUT_OF_RANGE
    assert "limit is 60 s" in media.failure_message


async def test_a_non_video_declared_as_mp4_fails(media_target, user) -> None:
    media_id = await upload_media(media_target, user, b"\x00\x00\x00\x18ftypmp42" + b"x" * 4000,
                                  "video/mp4")
    media = await wait_for_status(media_target, user, media_id, FAILED, timeout=60)
    assert media.failure_reason == media_pb.MEDIA_FAILURE_REASON_CORRUPT
    assert media.failure_message
