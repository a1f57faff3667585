"""Image transcoding: decode for real, orient, strip metadata, make every rendition.

`transcode_image` is a pure function of bytes (no I/O): the worker runs it in a process
pool, so a hostile file can cost at most one child process its memory limit, never the
worker. Pillow's decompression-bomb guard is set to the pixel limit.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from services.media import blurhash
from services.media.model import FailureReason, Format, MediaFailure, VariantName

THUMBNAIL_SIZE = 150
LONG_SIDES: tuple[tuple[VariantName, int], ...] = (
    (VariantName.SMALL, 320), (VariantName.MEDIUM, 640), (VariantName.LARGE, 1080))
SOURCE_FORMATS: dict[str, Format] = {"JPEG": Format.JPEG, "PNG": Format.PNG,
                                     "WEBP": Format.WEBP}
BLURHASH_SIZE = 32

_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class EncodedVariant:
    name: VariantName
    format: Format
    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class ImageResult:
    width: int
    height: int
    blurhash: str
    variants: list[EncodedVariant]


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int
    jpeg_quality: int = 85
    webp_quality: int = 80


def _open(data: bytes, limits: ImageLimits) -> Image.Image:
    """Identify, check size, verify and fully decode; MediaFailure if not acceptable."""
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    try:
        with warnings.catch_warnings():
            # Over the limit: our own message below; over twice it Pillow refuses to open.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            if probe.format not in SOURCE_FORMATS:
                raise MediaFailure(FailureReason.UNSUPPORTED_FORMAT,
                                   f"{probe.format} images are not supported; upload JPEG, "
                                   "PNG or WebP")
            width, height = probe.size
            if width * height > limits.max_pixels:
                raise MediaFailure(FailureReason.DIMENSIONS_OUT_OF_RANGE,
                                   f"the image is {width}x{height} pixels; at most "
                                   f"{limits.max_pixels // 1_000_000} megapixels are allowed")
            probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
    except MediaFailure:
        raise
    except UnidentifiedImageError:
        raise MediaFailure(FailureReason.UNSUPPORTED_FORMAT,
                           "the file is not an image in a supported format (JPEG, PNG, "
                           "WebP)") from None
    except Image.DecompressionBombError:
        raise MediaFailure(FailureReason.DIMENSIONS_OUT_OF_RANGE,
                           f"the image has more than {limits.max_pixels // 1_000_000} "
                           "megapixels") from None
    except MemoryError:
        raise MediaFailure(FailureReason.TOO_LARGE,
                           "the image needs too much memory to decode") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaFailure(FailureReason.CORRUPT,
                           f"the image could not be decoded (damaged or truncated: "
                           f"{exc})") from None
    return image


def _normalise(image: Image.Image) -> Image.Image:
    """Orientation applied, colours in sRGB, no metadata left, RGB or RGBA."""
    image = ImageOps.exif_transpose(image)
    icc = image.info.get("icc_profile")
    if image.mode not in ("RGB", "RGBA"):
        has_alpha = image.mode in ("LA", "PA") or (image.mode == "P" and
                                                   "transparency" in image.info)
        image = image.convert("RGBA" if has_alpha else "RGB")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            image = ImageCms.profileToProfile(image, source, _SRGB, outputMode=image.mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unreadable profile: keep the pixels as they are
    clean = image.copy()
    clean.info = {}
    return clean


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image


def _encode(image: Image.Image, fmt: Format, limits: ImageLimits, original: bool = False
            ) -> bytes:
    out = io.BytesIO()
    if fmt is Format.JPEG:
        _flatten(image).save(out, "JPEG", quality=95 if original else limits.jpeg_quality,
                             optimize=True, progressive=True)
    elif fmt is Format.WEBP:
        image.save(out, "WEBP", quality=92 if original else limits.webp_quality, method=4)
    else:
        image.save(out, "PNG", optimize=False, compress_level=6)
    return out.getvalue()


def _bounded(image: Image.Image, long_side: int) -> Image.Image:
    """Scaled down so its long side is at most `long_side` (never up)."""
    copy = image.copy()
    copy.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    return copy


def blurhash_of(image: Image.Image) -> str:
    small = _flatten(image).copy()
    small.thumbnail((BLURHASH_SIZE, BLURHASH_SIZE), Image.Resampling.BILINEAR)
    pixels = list(small.convert("RGB").getdata())
    return blurhash.encode(pixels, small.width, small.height, 4, 3)


def transcode_image(data: bytes, limits: ImageLimits) -> ImageResult:
    """All renditions of an uploaded image: thumbnail (square crop), small, medium and
    large (long side 320/640/1080, never upscaled) in JPEG and WebP, and the original
    (full size, in its own format) — each oriented and without metadata."""
    decoded = _open(data, limits)
    source_format = SOURCE_FORMATS[str(decoded.format)]
    image = _normalise(decoded)
    variants: list[EncodedVariant] = []

    side = min(THUMBNAIL_SIZE, image.width, image.height)
    thumb = ImageOps.fit(image, (side, side), Image.Resampling.LANCZOS)
    for fmt in (Format.JPEG, Format.WEBP):
        variants.append(EncodedVariant(VariantName.THUMBNAIL, fmt, side, side,
                                       _encode(thumb, fmt, limits)))
    for name, long_side in LONG_SIDES:
        scaled = _bounded(image, long_side)
        for fmt in (Format.JPEG, Format.WEBP):
            variants.append(EncodedVariant(name, fmt, scaled.width, scaled.height,
                                           _encode(scaled, fmt, limits)))
    variants.append(EncodedVariant(VariantName.ORIGINAL, source_format, image.width,
                                   image.height, _encode(image, source_format, limits,
                                                         original=True)))
    return ImageResult(image.width, image.height, blurhash_of(image), variants)


def bare_resize(data: bytes, long_side: int = 1080) -> bytes:
    """The baseline the benchmark compares against: decode, one resize, one JPEG."""
    image = Image.open(io.BytesIO(data))
    image.thumbnail((long_side, long_side))
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()
