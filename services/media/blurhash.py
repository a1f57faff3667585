"""BlurHash encoder (https://blurha.sh, the reference algorithm by Wolt).

A BlurHash is a few DCT components of an image in base 83: clients decode it into a
blurred placeholder while the real image loads. Encode from a small image (e.g. 32 px):
the cost is width x height x components.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def _base83(value: int, length: int) -> str:
    return "".join(_CHARS[(value // 83 ** (length - i - 1)) % 83] for i in range(length))


def _to_linear(value: int) -> float:
    v = value / 255.0
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def _to_srgb(value: float) -> int:
    v = max(0.0, min(1.0, value))
    srgb = v * 12.92 if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055
    return int(srgb * 255 + 0.5)


def _sign_pow(value: float, exp: float) -> float:
    return math.copysign(abs(value) ** exp, value)


def encode(pixels: Sequence[tuple[int, int, int]], width: int, height: int,
           x_components: int = 4, y_components: int = 3) -> str:
    """BlurHash of `pixels` (RGB tuples, row by row, `width` x `height`)."""
    if not (1 <= x_components <= 9 and 1 <= y_components <= 9):
        raise ValueError("components must be 1..9")
    if len(pixels) != width * height or width == 0:
        raise ValueError("pixels do not match width x height")
    linear = [(_to_linear(r), _to_linear(g), _to_linear(b)) for r, g, b in pixels]
    cos_x = [[math.cos(math.pi * i * x / width) for x in range(width)]
             for i in range(x_components)]
    cos_y = [[math.cos(math.pi * j * y / height) for y in range(height)]
             for j in range(y_components)]
    factors: list[tuple[float, float, float]] = []
    for j in range(y_components):
        for i in range(x_components):
            norm = 1.0 if i == 0 and j == 0 else 2.0
            r = g = b = 0.0
            for y in range(height):
                cy = cos_y[j][y]
                row = y * width
                for x in range(width):
                    basis = cos_x[i][x] * cy
                    pr, pg, pb = linear[row + x]
                    r += basis * pr
                    g += basis * pg
                    b += basis * pb
            scale = norm / (width * height)
            factors.append((r * scale, g * scale, b * scale))

    dc, ac = factors[0], factors[1:]
    result = _base83((x_components - 1) + (y_components - 1) * 9, 1)
    if ac:
        actual_max = max(abs(c) for f in ac for c in f)
        quantised = max(0, min(82, int(actual_max * 166 - 0.5)))
        max_value = (quantised + 1) / 166
        result += _base83(quantised, 1)
    else:
        max_value = 1.0
        result += _base83(0, 1)
    result += _base83((_to_srgb(dc[0]) << 16) + (_to_srgb(dc[1]) << 8) + _to_srgb(dc[2]), 4)
    for f in ac:
        q = [max(0, min(18, int(math.floor(_sign_pow(c / max_value, 0.5) * 9 + 9.5))))
             for c in f]
        result += _base83(q[0] * 19 * 19 + q[1] * 19 + q[2], 2)
    return result
