"""Photos for the demo community, drawn with Pillow (nothing is downloaded): landscapes of
a seeded sky, sun or moon, layered hills and sometimes a lake, so every post looks like
someone's picture and no two are alike. The same seed always draws the same JPEG."""

from __future__ import annotations

import io
import math
import random

from PIL import Image, ImageDraw, ImageFilter, ImageOps

#: (top of the sky, horizon, sun) per time of day.
SKIES = (
    ((255, 183, 94), (255, 236, 179), (255, 250, 230)),    # dawn
    ((64, 140, 230), (190, 225, 250), (255, 255, 240)),    # day
    ((70, 40, 120), (250, 130, 90), (255, 210, 120)),      # dusk
    ((12, 18, 48), (48, 70, 120), (235, 235, 215)),        # night (a moon)
    ((120, 130, 140), (200, 205, 210), (235, 235, 235)),   # overcast
)
HILLS = ((46, 94, 62), (70, 60, 90), (90, 70, 50), (40, 70, 100), (110, 90, 120))


def _blend(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, ...]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))


def landscape(seed: int, width: int = 640, height: int = 640) -> Image.Image:
    rng = random.Random(seed)
    top, horizon, sun = SKIES[rng.randrange(len(SKIES))]
    # The sky: a vertical gradient (drawn small, scaled up: cheap and smooth).
    ramp = Image.linear_gradient("L").resize((1, height)).point(lambda v: min(255, v * 10 // 7))
    image = ImageOps.colorize(ramp, top, horizon).resize((width, height))
    # The sun (or moon), with a soft glow (blurred at a quarter of the size).
    cx, cy = rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.45) * height
    radius = rng.uniform(0.04, 0.09) * width
    small = Image.new("RGB", (width // 4, height // 4), (0, 0, 0))
    ImageDraw.Draw(small).ellipse([(cx - radius * 3) / 4, (cy - radius * 3) / 4,
                                   (cx + radius * 3) / 4, (cy + radius * 3) / 4],
                                  fill=_blend(horizon, sun, 0.6))
    glow = small.filter(ImageFilter.GaussianBlur(radius / 2.5)).resize((width, height))
    image = Image.blend(image, glow, 0.25)
    draw = ImageDraw.Draw(image)
    draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=sun)
    # Hills, far to near: lighter and bluer far away, darker close by.
    base = HILLS[rng.randrange(len(HILLS))]
    layers = rng.randint(2, 4)
    lake = rng.random() < 0.4
    ground = height * (0.72 if lake else 0.9)
    for layer in range(layers):
        depth = (layer + 1) / layers
        colour = _blend(horizon, base, 0.35 + 0.65 * depth)
        level = height * (0.45 + 0.12 * layer)
        amplitude = height * rng.uniform(0.05, 0.14) * (1.2 - depth * 0.4)
        phase, freq = rng.uniform(0, math.tau), rng.uniform(1.0, 3.2) / width
        points = [(x, level - amplitude * (0.6 * math.sin(x * freq * math.tau + phase)
                                           + 0.4 * math.sin(x * freq * 2.7 * math.tau)))
                  for x in range(0, width + 8, 8)]
        draw.polygon([(0, ground), *points, (width, ground)], fill=colour)
    if lake:  # the scene mirrored in darker water
        water = image.crop((0, round(2 * ground - height), width, round(ground)))
        water = water.transpose(Image.Transpose.FLIP_TOP_BOTTOM).filter(
            ImageFilter.GaussianBlur(2))
        tint = Image.new("RGB", water.size, _blend(top, (10, 30, 60), 0.6))
        image.paste(Image.blend(water, tint, 0.45), (0, round(ground)))
    else:
        draw.rectangle([0, ground, width, height], fill=_blend(base, (20, 20, 20), 0.5))
    return image


def jpeg(seed: int, width: int = 640, height: int = 640, quality: int = 85) -> bytes:
    out = io.BytesIO()
    landscape(seed, width, height).save(out, "JPEG", quality=quality)
    return out.getvalue()
