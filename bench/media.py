"""Media transcoding speed: ``python -m bench.media [--repeat N] [--json PATH]``.

* image: one 1080x1080 JPEG (with EXIF/GPS) to every rendition (thumbnail, small, medium,
  large in JPEG and WebP, the original) plus its blurhash, against a bare Pillow
  decode + one resize + one JPEG of the same image in the same run (the ratio is the
  cost of the full pipeline per upload);
* video: a 10 s 1080p H.264/AAC clip (ffmpeg lavfi testsrc + sine) to the 144p/480p/1080p
  renditions, HLS playlists and poster, as the worker does it.

Single process, one image at a time: the worker runs `worker_concurrency` of these in
parallel (process pool), so its throughput scales with cores.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.harness import Result, ratio, save_json, table, timed
from services.media.images import ImageLimits, bare_resize, transcode_image
from services.media.videos import VideoLimits, transcode_video
from tests.media_support import jpeg_bytes, mp4_bytes


def _result(name: str, latencies: list[float]) -> Result:
    result = Result(name, latencies)
    result.elapsed = sum(latencies)
    return result


async def video_seconds(clip: bytes, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            source, out = Path(tmp) / "source.mp4", Path(tmp) / "out"
            source.write_bytes(clip)
            out.mkdir()
            t0 = time.perf_counter()
            await transcode_video(source, out, VideoLimits(60.0, 4096 * 2304, 900.0, 2))
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="images per measurement")
    parser.add_argument("--video-repeat", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    image = jpeg_bytes(1080, 1080)
    limits = ImageLimits(50_000_000)
    transcode_image(image, limits)  # warm up (codecs, colour profiles)
    bare_resize(image)
    pipeline = _result("image: all renditions + blurhash",
                       timed(lambda: transcode_image(image, limits), args.repeat))
    baseline = _result("image: bare Pillow resize (baseline)",
                       timed(lambda: bare_resize(image), args.repeat))

    clip = mp4_bytes(10.0, 1920, 1080)
    video = _result("video: 10 s 1080p -> 3 renditions+HLS",
                    asyncio.run(video_seconds(clip, args.video_repeat)))

    print(table([pipeline, baseline, video], "media transcoding (one at a time)"))
    print(ratio(pipeline.throughput, baseline.throughput,
                "image pipeline throughput (images/s)"))
    print(f"video: {video.ms(50) / 1000:.1f} s per 10 s 1080p clip "
          f"({10.0 / (video.ms(50) / 1000):.2f}x real time)")
    if args.json:
        save_json(args.json, [pipeline, baseline, video])


if __name__ == "__main__":
    main()
