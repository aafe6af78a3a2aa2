"""Charts as inline SVG: no script, no fonts or assets from the internet.

The console and the transparency site both show figures that people would
rather see than read. Each chart here is a pure function from values to SVG
text, labelled for screen readers (``role="img"`` with a ``<title>`` and a
``<desc>`` that states the numbers), so a page that shows a chart still reads
without it. Pages should also show the same figures as a table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from hashlib import sha256
from html import escape

__all__ = ["PALETTE", "bar_chart", "line_chart"]

# Colour-blind-safe (Okabe-Ito), each with at least 3:1 contrast on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#B8860B", "#56B4E9", "#000000")

_FONT = 'font-family="system-ui, sans-serif" font-size="12" fill="#1a1a1a"'


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    """Escaped for XML, with the characters XML cannot carry removed."""
    return escape(_NOT_XML.sub("", value))


def _chart_id(title: str, data: object) -> str:
    """Deterministic, so the same figures always render to the same bytes."""
    return "chart-" + sha256(repr((title, data)).encode()).hexdigest()[:10]


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float]],
    *,
    width: int = 560,
    unit: str = "",
) -> str:
    """Horizontal bars, one per (label, value), largest scale first."""
    chart_id = _chart_id(title, bars)
    row, label_width = 22, 180
    height = 30 + row * max(len(bars), 1)
    top = _nice_max(max((value for _, value in bars), default=0.0))
    plot = width - label_width - 80
    desc = "; ".join(f"{label}: {_number(value)}{unit}" for label, value in bars) or "no data"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{_text(title)}</title>',
        f'<desc id="{chart_id}-d">{_text(desc)}</desc>',
    ]
    if not bars:
        parts.append(f'<text x="8" y="20" {_FONT}>No data</text>')
    for index, (label, value) in enumerate(bars):
        y = 10 + index * row
        length = 0.0 if top == 0 else plot * value / top
        colour = PALETTE[0]
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end" {_FONT}>'
            f"{_text(label[:28])}</text>"
            f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" height="{row - 6}"'
            f' fill="{colour}"/>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + 14}" {_FONT}>'
            f"{_text(_number(value))}{_text(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    title: str,
    series: Mapping[str, Sequence[float]],
    *,
    x_labels: Sequence[str],
    width: int = 640,
    height: int = 220,
    unit: str = "",
) -> str:
    """One line per series over shared x positions (for example 30 days)."""
    chart_id = _chart_id(title, sorted(series.items()))
    left, right, top_pad, bottom = 64, 32, 12, 40
    legend = 18 * len(series)
    total_height = height + legend
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    values = [value for points in series.values() for value in points]
    top = _nice_max(max(values, default=0.0))
    points_count = max(len(x_labels), 1)

    def x(index: int) -> float:
        return left + (plot_w * index / (points_count - 1) if points_count > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top_pad + plot_h - plot_h * value / top

    desc_parts = [
        f"{name}: total {_number(sum(points))}{unit}, peak {_number(max(points, default=0))}{unit}"
        for name, points in series.items()
    ]
    desc = (
        f"{len(x_labels)} points from {x_labels[0]} to {x_labels[-1]}; " if x_labels else ""
    ) + ("; ".join(desc_parts) or "no data")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}"'
        f' height="{total_height}" viewBox="0 0 {width} {total_height}"'
        f' aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{_text(title)}</title>',
        f'<desc id="{chart_id}-d">{_text(desc)}</desc>',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}"'
        f' y2="{top_pad + plot_h}" stroke="#555"/>',
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" stroke="#555"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        value = top * fraction
        parts.append(
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" {_FONT}>'
            f"{_text(_number(value))}</text>"
        )
    if x_labels:
        for index in sorted({0, (len(x_labels) - 1) // 2, len(x_labels) - 1}):
            parts.append(
                f'<text x="{x(index):.1f}" y="{top_pad + plot_h + 16}" text-anchor="middle"'
                f" {_FONT}>{_text(x_labels[index])}</text>"
            )
    for number, (name, points) in enumerate(series.items()):
        colour = PALETTE[number % len(PALETTE)]
        path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(points))
        if len(points) == 1:
            parts.append(f'<circle cx="{x(0):.1f}" cy="{y(points[0]):.1f}" r="3" fill="{colour}"/>')
        elif points:
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>'
            )
        legend_y = height + 18 * number
        parts.append(
            f'<rect x="{left}" y="{legend_y - 2}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{left + 18}" y="{legend_y + 8}" {_FONT}>{_text(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
