"""The report charts: SVG pictures of the figures they are given, names drawn as typed."""

import xml.etree.ElementTree as ElementTree

from reports import charts

SVG = "{http://www.w3.org/2000/svg}"


def texts(chart: charts.Chart) -> list[str]:
    root = ElementTree.fromstring(chart.svg)
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


def test_names_are_drawn_as_typed_never_as_markup_or_tex():
    typed = "$\\frac{ refund <script>alert(1)</script>"
    chart = charts.bars("Classifications", [typed, "a_b^c"], [3, 1], description="d", horizontal=True)
    assert typed in texts(chart) and "a_b^c" in texts(chart)
    assert b"<script" not in chart.svg


def test_each_bar_is_labelled_with_its_value():
    chart = charts.bars("Handle", ["Alice", "Bob"], [262.5, 120], description="d", unit=" s", horizontal=True)
    assert {"262.5 s", "120 s"} <= set(texts(chart))


def test_the_volume_chart_shows_its_target_and_skips_undefined_levels():
    chart = charts.volume_and_service_level(
        ["2 Mar", "3 Mar"], [3, 0], [1, 0], [75.0, None], 80, description="Bars and a line"
    )
    assert "Target 80 %" in texts(chart)
    assert chart.title == "Service level and volume" and chart.description == "Bars and a line"
    assert chart.data_url.startswith("data:image/svg+xml;base64,")


def test_the_same_figures_draw_the_same_picture():
    def draw() -> bytes:
        return charts.bars("Waits", ["0–10 s", "10–20 s"], [4, 2], description="d", half=True).svg

    assert draw() == draw()
