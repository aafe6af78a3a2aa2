"""Inline SVG charts: well-formed, labelled for screen readers, deterministic, escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from brightline.charts import bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"
labels = st.text(min_size=0, max_size=40)  # control characters included
printable = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=60)
values = st.floats(min_value=0, max_value=1e12, allow_nan=False)


@given(st.lists(st.tuples(labels, values), max_size=12), printable)
def test_bar_charts_are_well_formed_and_say_their_numbers(
    bars: list[tuple[str, float]], title: str
) -> None:
    svg = bar_chart(title, bars)
    root = ET.fromstring(svg)  # escaped: any label parses
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == (title or None)
    desc = root.find(f"{SVG}desc").text or ""
    assert len(root.findall(f"{SVG}rect")) == len(bars)
    if not bars:
        assert desc == "no data"
    assert bar_chart(title, bars) == svg  # deterministic: same figures, same bytes


def test_bars_scale_to_the_largest_value() -> None:
    root = ET.fromstring(bar_chart("t", [("a", 50.0), ("b", 100.0)], width=560))
    widths = [float(r.get("width") or 0) for r in root.findall(f"{SVG}rect")]
    assert widths[1] == 2 * widths[0]
    assert "a: 50; b: 100" in (root.find(f"{SVG}desc").text or "")


@given(st.dictionaries(st.text(min_size=1, max_size=20), st.lists(values, max_size=31), max_size=5))
def test_line_charts_are_well_formed(series: dict[str, list[float]]) -> None:
    days = max((len(points) for points in series.values()), default=0)
    svg = line_chart("usage", series, x_labels=[f"d{i}" for i in range(days)])
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    drawn = root.findall(f"{SVG}polyline") + root.findall(f"{SVG}circle")
    assert len(drawn) == sum(1 for points in series.values() if points)


def test_characters_xml_cannot_carry_are_dropped() -> None:
    root = ET.fromstring(bar_chart("a\x00b\x1fc", [("x\x0cy", 1.0)]))
    assert root.find(f"{SVG}title").text == "abc"
    assert "xy: 1" in (root.find(f"{SVG}desc").text or "")


def test_hostile_labels_are_escaped() -> None:
    svg = bar_chart("<script>x</script>", [("</svg><img src=x>", 1.0)])
    assert "<script>" not in svg
    assert "<img" not in svg
