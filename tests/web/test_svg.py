"""The server-side SVG: parsed as XML, checked element by element."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from archscale.space import EDGES, cell_at
from service.web import svg

NS = "{http://www.w3.org/2000/svg}"


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)


def by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(NS + tag) if cls in (e.get("class") or "").split()]


def test_nice_ticks_are_round_and_cover_the_range():
    assert svg.nice_ticks(83.2, 95.1) == [85.0, 87.5, 90.0, 92.5, 95.0]
    assert svg.nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(3.0, 3.0) == [3.0]


def test_scatter_has_one_point_per_arch_the_identity_line_and_axes():
    points = [(6111, 94.37, 95.1), (13714, 94.37, 98.0), (81, 92.0, 90.5), (5, 93.0, 93.0)]
    root = parse(svg.scatter(points, "nb201 test accuracy (%)", "arch-aware accuracy (%)"))
    circles = by_class(root, "circle", "pt")
    assert [(int(c.get("data-index")), float(c.get("data-x")), float(c.get("data-y"))) for c in circles] == points
    # each dot carries both numbers in its tooltip
    assert circles[0].find(NS + "title").text == "#6111: 94.37 → 95.10"
    (identity,) = by_class(root, "line", "identity")
    x1, y1, x2, y2 = (float(identity.get(k)) for k in ("x1", "y1", "x2", "y2"))
    assert x2 > x1 and y2 < y1  # bottom-left to top-right
    # the dot with x == y lies on the y = x line (collinear within rounding)
    on_line = circles[3]
    cx, cy = float(on_line.get("cx")), float(on_line.get("cy"))
    assert abs((x2 - x1) * (cy - y1) - (y2 - y1) * (cx - x1)) < 0.6 * abs(x2 - x1)
    # a dot above the line has a higher y value: smaller pixel y than the line at its x
    high = circles[1]
    line_y = y1 + (y2 - y1) * (float(high.get("cx")) - x1) / (x2 - x1)
    assert float(high.get("cy")) < line_y
    titles = [t.text for t in by_class(root, "text", "axis-title")]
    assert titles == ["nb201 test accuracy (%)", "arch-aware accuracy (%)"]
    for axis in ("x-axis", "y-axis"):
        (group,) = by_class(root, "g", axis)
        assert len([t for t in group.iter(NS + "text") if t.get("class") is None]) >= 3  # tick labels


def test_scatter_without_points_says_so():
    root = parse(svg.scatter([], "a", "b"))
    assert not by_class(root, "circle", "pt")
    assert "no architecture has both numbers" in by_class(root, "text", "empty")[0].text


def test_large_scatters_drop_tooltips_but_keep_every_point():
    points = [(i, 80 + (i % 100) / 10, 80 + (i % 70) / 10) for i in range(2500)]
    root = parse(svg.scatter(points, "a", "b"))
    circles = by_class(root, "circle", "pt")
    assert len(circles) == 2500 and circles[0].find(NS + "title") is None


@pytest.mark.parametrize("index", [6111, 0, 15624])
def test_cell_graph_has_4_nodes_and_6_labelled_edges(index):
    cell = cell_at(index)
    root = parse(svg.cell_graph(cell.ops, uid="t"))
    nodes = by_class(root, "g", "node")
    assert [n.get("data-node") for n in nodes] == ["0", "1", "2", "3"]
    edges = by_class(root, "path", "edge")
    labels = by_class(root, "text", "edge-label")
    expected = [f"{s}-{d}" for s, d in EDGES]
    assert [e.get("data-edge") for e in edges] == expected
    assert [t.get("data-edge") for t in labels] == expected
    assert [e.get("data-op") for e in edges] == list(cell.ops)
    assert [t.text for t in labels] == [svg.OP_STYLE[op][0] for op in cell.ops]
    # 'none' edges are always drawn, dashed and marked, never silently omitted
    for edge, op in zip(edges, cell.ops):
        assert ("none" in edge.get("class").split()) == (op == "none")
        assert (edge.get("stroke-dasharray") is not None) == (op == "none")


def test_cell_graph_of_all_none_cell_still_draws_six_edges():
    root = parse(svg.cell_graph(("none",) * 6))
    assert len(by_class(root, "path", "none")) == 6
    assert [t.text for t in by_class(root, "text", "edge-label")] == ["none"] * 6


def _row(k, tau, pairs):
    floors = [{"source": "x", "pairs": [{"seeds": [1, 2], "tau": t, "n": 5} for t in pairs], "mean_tau": None}]
    return {"k": k, "n": 10, "tau": tau, "p_value": 0.1, "ties_a": 0, "ties_b": 0,
            "noise_floor": floors if pairs else []}


def test_kendall_plot_draws_tau_line_and_the_noise_band():
    rows = [_row(100.0, 0.5, [0.7, 0.8, 0.9]), _row(10.0, 0.2, [0.6, 0.75]), _row(1.0, None, [])]
    root = parse(svg.kendall_plot(rows))
    (series,) = by_class(root, "g", "series")
    assert len(series.findall(NS + "circle")) == 2  # K = 1% has no tau: no dot
    (band,) = [p for p in root.iter(NS + "polygon") if p.get("class") == "band"]
    assert len(band.get("points").split()) == 4  # two K values x (high, low)
    ticks = [t.text for t in by_class(root, "g", "x-axis")[0].iter(NS + "text") if t.get("class") is None]
    assert ticks == ["10", "100"]  # only ticks inside the plotted K range


def test_kendall_plot_without_seeds_has_no_band():
    root = parse(svg.kendall_plot([_row(100.0, 0.5, []), _row(50.0, 0.4, [])]))
    assert not [p for p in root.iter(NS + "polygon")]


def test_line_chart_without_points():
    root = parse(svg.line_chart([], "epoch", "acc"))
    assert by_class(root, "text", "empty")[0].text == "no data yet"
