"""Video transcoding with ffprobe/ffmpeg: probe for real, enforce limits, make renditions.

Renditions are H.264/AAC MP4s whose short side is 144, 480 and 1080 px (never upscaled:
a rung above the source is made at the source size, once), made by one ffmpeg
run that decodes once; an HLS VOD playlist per rendition (segments copied, not re-encoded)
and a master playlist over them; a poster frame (JPEG). Metadata (e.g. a QuickTime
location) is dropped. ffmpeg runs as a child process with a timeout.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from pathlib import Path

from services.media.model import FailureReason, Format, MediaFailure, VariantName

RUNGS: tuple[tuple[VariantName, int, int], ...] = (
    # name, short side, video kbit/s cap (for the HLS BANDWIDTH figure and -maxrate)
    (VariantName.VIDEO_144P, 144, 250),
    (VariantName.VIDEO_480P, 480, 1200),
    (VariantName.VIDEO_1080P, 1080, 5000),
)
CONTAINERS = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2"}
HLS_SEGMENT_SECONDS = 4


@dataclass(frozen=True)
class VideoLimits:
    max_seconds: float
    max_pixels: int
    timeout_seconds: float = 600.0
    threads: int = 2


@dataclass(frozen=True)
class Probe:
    width: int
    height: int
    duration: float
    has_audio: bool


@dataclass(frozen=True)
class OutputFile:
    """A file made in the work directory; `relative` is its name under the version."""

    relative: str
    path: Path
    content_type: str


@dataclass(frozen=True)
class VideoVariant:
    name: VariantName
    format: Format
    width: int
    height: int
    relative: str


@dataclass(frozen=True)
class VideoResult:
    width: int
    height: int
    duration_ms: int
    files: list[OutputFile]
    variants: list[VideoVariant]


async def _run(argv: list[str], timeout: float) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no detail"


async def probe(path: Path, limits: VideoLimits) -> Probe:
    code, out, err = await _run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(path)], min(limits.timeout_seconds, 60.0))
    if code != 0:
        raise MediaFailure(FailureReason.CORRUPT,
                           f"the video could not be read (damaged or not a video): "
                           f"{_last_line(err)} (ffprobe exit {code})")
    info = json.loads(out or "{}")
    container = set(str(info.get("format", {}).get("format_name", "")).split(","))
    if not container & CONTAINERS:
        raise MediaFailure(FailureReason.UNSUPPORTED_FORMAT,
                           "the file is not an MP4 or QuickTime video")
    streams = info.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not s.get("disposition", {}).get("attached_pic")), None)
    if video is None or not video.get("width") or not video.get("height"):
        raise MediaFailure(FailureReason.UNSUPPORTED_FORMAT, "the file has no video track")
    width, height = int(video["width"]), int(video["height"])
    rotation = 0
    for side in video.get("side_data_list", []):
        if "rotation" in side:
            rotation = int(side["rotation"])
    rotation = int(video.get("tags", {}).get("rotate", rotation))
    if abs(rotation) % 180 == 90:
        width, height = height, width
    try:
        duration = float(info.get("format", {}).get("duration") or video.get("duration"))
    except (TypeError, ValueError):
        raise MediaFailure(FailureReason.CORRUPT, "the video has no readable duration") \
            from None
    if width * height > limits.max_pixels:
        raise MediaFailure(FailureReason.DIMENSIONS_OUT_OF_RANGE,
                           f"the video is {width}x{height}; at most "
                           f"{limits.max_pixels} pixels per frame are allowed")
    if duration > limits.max_seconds:
        raise MediaFailure(FailureReason.DIMENSIONS_OUT_OF_RANGE,
                           f"the video is {duration:.1f} s long; the limit is "
                           f"{limits.max_seconds:g} s")
    if duration <= 0:
        raise MediaFailure(FailureReason.CORRUPT, "the video has no frames")
    has_audio = any(s.get("codec_type") == "audio" for s in streams)
    return Probe(width, height, duration, has_audio)


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def rendition_sizes(width: int, height: int) -> list[tuple[VariantName, int, int, int]]:
    """(name, width, height, kbit/s) of each rung, never upscaled: a rung above the source
    is made once, at the source size (so a 720p upload keeps its 720 lines), and the
    144p rung always exists."""
    short = min(width, height)
    sizes = []
    below = 0
    for name, side, kbps in RUNGS:
        if side > short and below >= short:
            break
        scale = min(1.0, side / short)
        sizes.append((name, _even(width * scale), _even(height * scale), kbps))
        below = side
    return sizes


async def transcode_video(source: Path, work: Path, limits: VideoLimits) -> VideoResult:
    """Every rendition of the video at `source`, written under `work`."""
    info = await probe(source, limits)
    sizes = rendition_sizes(info.width, info.height)
    split = f"[0:v]split={len(sizes)}" + "".join(f"[s{i}]" for i in range(len(sizes)))
    scales = ";".join(f"[s{i}]scale={w}:{h},setsar=1[o{i}]"
                      for i, (_, w, h, _) in enumerate(sizes))
    argv = ["ffmpeg", "-v", "error", "-y", "-nostdin", "-i", str(source),
            "-filter_complex", f"{split};{scales}", "-threads", str(limits.threads)]
    gop = ["-g", "48", "-keyint_min", "48", "-sc_threshold", "0",
           "-force_key_frames", f"expr:gte(t,n_forced*{HLS_SEGMENT_SECONDS})"]
    for i, (name, _, _, kbps) in enumerate(sizes):
        argv += ["-map", f"[o{i}]"]
        if info.has_audio:
            argv += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "64k" if kbps < 500 else "128k",
                     "-ac", "2"]
        argv += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
                 "-maxrate", f"{kbps}k", "-bufsize", f"{kbps * 2}k", "-pix_fmt", "yuv420p",
                 "-profile:v", "high", *gop, "-map_metadata", "-1", "-map_chapters", "-1",
                 "-movflags", "+faststart", str(work / f"{name.name.lower()}.mp4")]
    code, _, err = await _run(argv, limits.timeout_seconds)
    if code != 0:
        raise MediaFailure(FailureReason.CORRUPT,
                           f"the video could not be decoded: {_last_line(err)}")

    files: list[OutputFile] = []
    variants: list[VideoVariant] = []
    master = ["#EXTM3U", "#EXT-X-VERSION:3"]
    hls = work / "hls"
    hls.mkdir()
    for name, w, h, kbps in sizes:
        stem = name.name.lower()
        mp4 = work / f"{stem}.mp4"
        files.append(OutputFile(f"{stem}.mp4", mp4, "video/mp4"))
        variants.append(VideoVariant(name, Format.MP4, w, h, f"{stem}.mp4"))
        code, _, err = await _run(
            ["ffmpeg", "-v", "error", "-y", "-nostdin", "-i", str(mp4), "-c", "copy",
             "-map", "0", "-f", "hls", "-hls_time", str(HLS_SEGMENT_SECONDS),
             "-hls_playlist_type", "vod", "-hls_segment_filename", str(hls / f"{stem}_%03d.ts"),
             str(hls / f"{stem}.m3u8")], limits.timeout_seconds)
        if code != 0:
            raise RuntimeError(f"HLS segmenting failed: {_last_line(err)}")
        codecs = "avc1.640028" + (",mp4a.40.2" if info.has_audio else "")
        bandwidth = (kbps + (128 if info.has_audio else 0)) * 1000
        master += [f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={w}x{h},'
                   f'CODECS="{codecs}"', f"{stem}.m3u8"]
    (hls / "master.m3u8").write_text("\n".join(master) + "\n")
    for path in sorted(hls.iterdir()):
        content_type = ("application/vnd.apple.mpegurl" if path.suffix == ".m3u8"
                        else "video/mp2t")
        files.append(OutputFile(f"hls/{path.name}", path, content_type))
    top_name, top_w, top_h, _ = sizes[-1]
    variants.append(VideoVariant(VariantName.HLS, Format.HLS, top_w, top_h, "hls/master.m3u8"))

    poster = work / "poster.jpg"
    at = min(1.0, info.duration / 2)
    code, _, err = await _run(
        ["ffmpeg", "-v", "error", "-y", "-nostdin", "-ss", f"{at:.3f}",
         "-i", str(work / f"{top_name.name.lower()}.mp4"), "-frames:v", "1", "-q:v", "3",
         "-map_metadata", "-1", str(poster)], limits.timeout_seconds)
    if code != 0 or not poster.exists():
        raise RuntimeError(f"poster frame failed: {_last_line(err)}")
    files.append(OutputFile("poster.jpg", poster, "image/jpeg"))
    variants.insert(0, VideoVariant(VariantName.POSTER, Format.JPEG, top_w, top_h,
                                    "poster.jpg"))
    return VideoResult(info.width, info.height, int(math.ceil(info.duration * 1000)), files,
                       variants)
