"""Two plain SVG charts written with nothing but Python: lines against categories (with a
log scale for latencies that span orders of magnitude) and horizontal stacked bars."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac", "#1b9e77", "#d95f02", "#7570b3", "#e7298a",
           "#66a61e")
FONT = 'font-family="Helvetica, Arial, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per category; None: no point
    color: str
    dashed: bool = False


def _open(width: int, height: int, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" {FONT}>',
            f'<rect width="{width}" height="{height}" fill="white"/>',
            f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15" '
            f'font-weight="bold">{escape(title)}</text>']


def _nice_ticks_log(low: float, high: float) -> list[float]:
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 2, 5):
            value = mantissa * 10 ** exponent
            if low <= value <= high:
                ticks.append(value)
    return ticks


def _nice_ticks(high: float, count: int = 5) -> list[float]:
    raw = high / count
    step = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= step * factor:
            step *= factor
            break
    return [step * i for i in range(count + 2) if step * i <= high * 1.0001]


def _label(value: float) -> str:
    return f"{value:g}" if value < 1000 else f"{value:,.0f}"


def line_chart(categories: Sequence[str], series: Sequence[Series], *, title: str,
               x_label: str, y_label: str, log_y: bool = True,
               guides: Mapping[str, float] | None = None, width: int = 760,
               height: int = 440) -> str:
    """One polyline per series over evenly spaced categories; `guides` are labelled
    horizontal lines (a target)."""
    left, right, top, bottom = 70, 210, 40, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for v in s.values if v is not None and v > 0]
    values += list((guides or {}).values())
    low, high = min(values or [1.0]), max(values or [1.0])
    if log_y:
        low, high = 10 ** math.floor(math.log10(low)), 10 ** math.ceil(math.log10(high))

        def y(v: float) -> float:
            span = math.log10(high) - math.log10(low)
            return top + plot_h * (1 - (math.log10(v) - math.log10(low)) / span)
        ticks = _nice_ticks_log(low, high)
    else:
        low, high = 0.0, high * 1.1

        def y(v: float) -> float:
            return top + plot_h * (1 - v / high)
        ticks = _nice_ticks(high)

    def x(i: int) -> float:
        return left + plot_w * (i + 0.5) / max(1, len(categories))

    out = _open(width, height, title)
    for tick in ticks:
        out.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{left + plot_w}" '
                   f'y2="{y(tick):.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                   f'{_label(tick)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
               f'stroke="#333"/>')
    for i, category in enumerate(categories):
        out.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle">'
                   f'{escape(category)}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 18}" text-anchor="middle">'
               f'{escape(x_label)}</text>')
    out.append(f'<text x="18" y="{top + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {top + plot_h / 2})">{escape(y_label)}</text>')
    for name, value in (guides or {}).items():
        out.append(f'<line x1="{left}" y1="{y(value):.1f}" x2="{left + plot_w}" '
                   f'y2="{y(value):.1f}" stroke="#c00" stroke-dasharray="2,3"/>')
        out.append(f'<text x="{left + plot_w - 4}" y="{y(value) - 4:.1f}" text-anchor="end" '
                   f'fill="#c00">{escape(name)}</text>')
    for k, s in enumerate(series):
        points = [(x(i), y(v)) for i, v in enumerate(s.values) if v is not None and v > 0]
        dash = ' stroke-dasharray="6,4"' if s.dashed else ""
        if points:
            out.append(f'<polyline fill="none" stroke="{s.color}" stroke-width="2"{dash} '
                       f'points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}"/>')
            out += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{s.color}"/>'
                    for px, py in points]
        ly = top + 10 + 18 * k
        out.append(f'<line x1="{width - right + 14}" y1="{ly}" x2="{width - right + 40}" '
                   f'y2="{ly}" stroke="{s.color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{width - right + 46}" y="{ly + 4}">{escape(s.name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Marker:
    name: str
    value: float
    color: str = "#000"


@dataclass(frozen=True)
class Bar:
    label: str
    parts: Mapping[str, float]  # segment name -> value (negative drawn as 0)
    markers: Sequence[Marker] = ()  # ticks across the bar (a target, a floor)
    total: float | None = None  # the figure written after the bar (default: its length)


def stacked_bars(bars: Sequence[Bar], *, title: str, x_label: str, width: int = 900,
                 bar_height: int = 22) -> str:
    """One horizontal bar per row, stacked by segment (same colour for a segment name in
    every bar, largest segments first in the legend), with the total at the end."""
    totals: dict[str, float] = {}
    for bar in bars:
        for name, value in bar.parts.items():
            totals[name] = totals.get(name, 0.0) + max(0.0, value)
    names = sorted(totals, key=lambda n: -totals[n])
    colors = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    left, right, top = 200, 150, 40
    legend_rows = math.ceil(len(names) / 5)
    height = top + len(bars) * (bar_height + 10) + 50 + 18 * legend_rows
    plot_w = width - left - right
    high = max([sum(max(0.0, v) for v in b.parts.values()) for b in bars]
               + [m.value for b in bars for m in b.markers] + [1e-9])
    ticks = _nice_ticks(high)
    high = max(high, ticks[-1])

    def x(v: float) -> float:
        return left + plot_w * v / high

    out = _open(width, height, title)
    bottom = top + len(bars) * (bar_height + 10)
    for tick in ticks:
        out.append(f'<line x1="{x(tick):.1f}" y1="{top}" x2="{x(tick):.1f}" y2="{bottom}" '
                   f'stroke="#e5e5e5"/>')
        out.append(f'<text x="{x(tick):.1f}" y="{bottom + 16}" text-anchor="middle">'
                   f'{_label(tick)}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{bottom + 34}" text-anchor="middle">'
               f'{escape(x_label)}</text>')
    for i, bar in enumerate(bars):
        by = top + i * (bar_height + 10)
        out.append(f'<text x="{left - 8}" y="{by + bar_height / 2 + 4}" text-anchor="end">'
                   f'{escape(bar.label)}</text>')
        at = 0.0
        for name in names:
            value = max(0.0, bar.parts.get(name, 0.0))
            if value <= 0:
                continue
            out.append(f'<rect x="{x(at):.1f}" y="{by}" width="{x(at + value) - x(at):.2f}" '
                       f'height="{bar_height}" fill="{colors[name]}"><title>'
                       f'{escape(name)}: {value:.2f}</title></rect>')
            at += value
        shown = at if bar.total is None else bar.total
        out.append(f'<text x="{x(at) + 6:.1f}" y="{by + bar_height / 2 + 4}">{shown:.2f}</text>')
        for m in bar.markers:
            out.append(f'<line x1="{x(m.value):.1f}" y1="{by - 3}" x2="{x(m.value):.1f}" '
                       f'y2="{by + bar_height + 3}" stroke="{m.color}" stroke-width="2">'
                       f'<title>{escape(m.name)}: {m.value:g}</title></line>')
    legend_y = bottom + 52
    for k, name in enumerate(names):
        lx = 20 + (k % 5) * ((width - 40) / 5)
        ly = legend_y + 18 * (k // 5)
        out.append(f'<rect x="{lx:.1f}" y="{ly - 10}" width="12" height="12" '
                   f'fill="{colors[name]}"/>')
        out.append(f'<text x="{lx + 18:.1f}" y="{ly}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


__all__ = ["PALETTE", "Bar", "Marker", "Series", "line_chart", "stacked_bars"]
