"""Plots and the cell graph as inline SVG, drawn on the server in plain Python.

No chart library and no CDN: the machines that serve this page are offline, and an SVG
string works with JavaScript off, prints, and is easy to assert on in tests (one
``<circle class="pt">`` per architecture, one ``<text class="edge-label">`` per edge).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from archscale.space import EDGES

__all__ = ["Scale", "nice_ticks", "scatter", "line_chart", "kendall_plot", "cell_graph", "OP_STYLE"]

#: op -> (short label, colour); 'none' is drawn dashed and grey so a reader sees the cut edge.
OP_STYLE = {"none": ("none", "#9aa0a6"), "skip_connect": ("skip", "#1a73e8"),
            "nor_conv_1x1": ("conv 1×1", "#e37400"), "nor_conv_3x3": ("conv 3×3", "#c5221f"),
            "avg_pool_3x3": ("avg pool 3×3", "#188038")}
PALETTE = ("#1a73e8", "#c5221f", "#188038", "#e37400", "#8430ce", "#007b83", "#b06000", "#5f6368")
MARGIN = (16, 20, 48, 58)  # top, right, bottom, left: room for tick labels and axis titles


def _f(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") if abs(x) < 1e6 else f"{x:.0f}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


@dataclass(frozen=True)
class Scale:
    """Data [lo, hi] -> pixels [a, b] (b < a for a y axis); ``log`` for K% axes."""

    lo: float
    hi: float
    a: float
    b: float
    log: bool = False

    def __call__(self, v: float) -> float:
        lo, hi, v = (math.log10(self.lo), math.log10(self.hi), math.log10(v)) if self.log else (self.lo, self.hi, v)
        span = hi - lo or 1.0
        return self.a + (v - lo) / span * (self.b - self.a)


def _open(width: int, height: int, cls: str, label: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot {cls}" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}">',
            f"<title>{escape(label)}</title>"]


def _axes(out: list[str], x: Scale, y: Scale, xticks: Sequence[float], yticks: Sequence[float],
          x_label: str, y_label: str, xtick_text: Sequence[str] | None = None) -> None:
    top, bottom = y.b, y.a
    left, right = x.a, x.b
    out.append('<g class="grid">')
    for t in yticks:
        out.append(f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>')
    out.append("</g>")
    out.append(f'<g class="axis x-axis"><line x1="{left:.1f}" x2="{right:.1f}" y1="{bottom:.1f}" y2="{bottom:.1f}"/>')
    for i, t in enumerate(xticks):
        text = xtick_text[i] if xtick_text else _f(t)
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{bottom:.1f}" y2="{bottom + 5:.1f}"/>'
                   f'<text x="{x(t):.1f}" y="{bottom + 18:.1f}" text-anchor="middle">{escape(text)}</text>')
    out.append(f'<text class="axis-title" x="{(left + right) / 2:.1f}" y="{bottom + 40:.1f}" '
               f'text-anchor="middle">{escape(x_label)}</text></g>')
    out.append(f'<g class="axis y-axis"><line x1="{left:.1f}" x2="{left:.1f}" y1="{top:.1f}" y2="{bottom:.1f}"/>')
    for t in yticks:
        out.append(f'<line x1="{left - 5:.1f}" x2="{left:.1f}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
                   f'<text x="{left - 8:.1f}" y="{y(t) + 4:.1f}" text-anchor="end">{_f(t)}</text>')
    out.append(f'<text class="axis-title" transform="translate({left - 44:.1f},{(top + bottom) / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">{escape(y_label)}</text></g>')


def _frame(width: int, height: int) -> tuple[float, float, float, float]:
    top, right, bottom, left = MARGIN
    return left, width - right, height - bottom, top


def scatter(points: Sequence[tuple[int, float, float]], x_label: str, y_label: str, *, width: int = 560,
            height: int = 460, label: str = "scatter") -> str:
    """One dot per (index, x, y) and the y = x line over a shared range (so the diagonal is 45°)."""
    out = _open(width, height, "scatter", label)
    left, right, bottom, top = _frame(width, height)
    if not points:
        out.append(f'<text class="empty" x="{width / 2}" y="{height / 2}" text-anchor="middle">'
                   "no architecture has both numbers yet</text></svg>")
        return "".join(out)
    values = [v for _, x, y in points for v in (x, y)]
    lo, hi = min(values), max(values)
    pad = max((hi - lo) * 0.04, 0.5)
    lo, hi = lo - pad, hi + pad
    x, y = Scale(lo, hi, left, right), Scale(lo, hi, bottom, top)
    ticks = nice_ticks(lo, hi)
    _axes(out, x, y, ticks, ticks, x_label, y_label)
    out.append(f'<line class="identity" x1="{x(lo):.1f}" y1="{y(lo):.1f}" x2="{x(hi):.1f}" y2="{y(hi):.1f}">'
               "<title>y = x: no change</title></line>")
    many = len(points) > 2000  # tooltips and data-x/y would double the page (1.1 MB at 15,625 dots)
    radius = 1.6 if many else 3.0
    out.append('<g class="points">')
    for index, a, b in points:
        if many:
            out.append(f'<circle class="pt" data-index="{index}" cx="{x(a):.1f}" cy="{y(b):.1f}" r="{radius}"/>')
        else:
            out.append(f'<circle class="pt" data-index="{index}" data-x="{a:.3f}" data-y="{b:.3f}" cx="{x(a):.1f}" '
                       f'cy="{y(b):.1f}" r="{radius}"><title>#{index}: {a:.2f} → {b:.2f}</title></circle>')
    out.append("</g></svg>")
    return "".join(out)


def line_chart(series: Sequence[dict], x_label: str, y_label: str, *, width: int = 560, height: int = 340,
               band: Sequence[tuple[float, float, float]] = (), band_label: str = "", log_x: bool = False,
               y_range: tuple[float, float] | None = None, x_ticks: Sequence[float] | None = None,
               integer_x: bool = False, label: str = "line chart") -> str:
    """Lines of ``{"label", "points": [(x, y), ...]}``; ``band`` = (x, low, high) drawn behind them.
    ``integer_x``: only whole-number x ticks (epochs)."""
    out = _open(width, height, "lines", label)
    xs = [p[0] for s in series for p in s["points"]] + [b[0] for b in band]
    ys = [p[1] for s in series for p in s["points"]] + [v for b in band for v in b[1:]]
    if not xs:
        out.append(f'<text class="empty" x="{width / 2}" y="{height / 2}" text-anchor="middle">no data yet</text></svg>')
        return "".join(out)
    left, right, bottom, top = _frame(width, height)
    right -= 130  # legend column
    y_lo, y_hi = y_range or (min(ys), max(ys))
    if y_hi - y_lo < 1e-9:
        y_lo, y_hi = y_lo - 1, y_hi + 1
    y_pad = 0 if y_range else (y_hi - y_lo) * 0.05
    x_lo, x_hi = min(xs), max(xs)
    if x_hi == x_lo:
        x_lo, x_hi = (x_lo / 2, x_hi * 2) if log_x else (x_lo - 1, x_hi + 1)
    x, y = Scale(x_lo, x_hi, left, right, log_x), Scale(y_lo - y_pad, y_hi + y_pad, bottom, top)
    xt = [t for t in x_ticks if x_lo <= t <= x_hi] if x_ticks else nice_ticks(x_lo, x_hi, 6)
    if integer_x:
        xt = [t for t in xt if t == int(t)]
    _axes(out, x, y, xt, nice_ticks(y_lo - y_pad, y_hi + y_pad), x_label, y_label)
    if band:
        ordered = sorted(band)
        ring = [(x(b[0]), y(b[2])) for b in ordered] + [(x(b[0]), y(b[1])) for b in reversed(ordered)]
        pts = " ".join(f"{px:.1f},{py:.1f}" for px, py in ring)
        out.append(f'<polygon class="band" points="{pts}"><title>{escape(band_label)}</title></polygon>')
    legend_y = top + 8
    for i, s in enumerate(series):
        colour = s.get("colour") or PALETTE[i % len(PALETTE)]
        pts = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in s["points"])
        out.append(f'<g class="series" data-label="{escape(s["label"])}">'
                   f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for px, py in s["points"]:
            out.append(f'<circle cx="{x(px):.1f}" cy="{y(py):.1f}" r="2.5" fill="{colour}">'
                       f"<title>{escape(s['label'])}: {_f(px)}, {py:.3g}</title></circle>")
        out.append("</g>")
        out.append(f'<g class="legend"><line x1="{right + 12:.1f}" x2="{right + 30:.1f}" y1="{legend_y:.1f}" '
                   f'y2="{legend_y:.1f}" stroke="{colour}" stroke-width="2"/><text x="{right + 35:.1f}" '
                   f'y="{legend_y + 4:.1f}">{escape(s["label"])}</text></g>')
        legend_y += 18
    if band:
        out.append(f'<g class="legend"><rect class="band" x="{right + 12:.1f}" y="{legend_y - 6:.1f}" width="18" '
                   f'height="12"/><text x="{right + 35:.1f}" y="{legend_y + 4:.1f}">{escape(band_label)}</text></g>')
    out.append("</svg>")
    return "".join(out)


def kendall_plot(rows: Sequence[dict], *, width: int = 560, height: int = 460) -> str:
    """Kendall tau vs top-K% (log axis), the seed-to-seed taus as a min..max band behind it."""
    line = [(r["k"], r["tau"]) for r in rows if r["tau"] is not None]
    band = []
    for r in rows:
        taus = [p["tau"] for floor in r["noise_floor"] for p in floor["pairs"] if p["tau"] is not None]
        if taus:
            band.append((r["k"], min(taus), max(taus)))
    ks = sorted({r["k"] for r in rows})
    ticks = [k for k in ks if k in (1, 5, 10, 20, 50, 100)] or ks
    return line_chart([{"label": "τ(a, b)", "points": sorted(line), "colour": "#1a73e8"}], "top-K% (log scale)",
                      "Kendall τ", width=width, height=height, band=band, band_label="seed noise floor",
                      log_x=True, y_range=(min([-0.2] + [v for b in band for v in b[1:]] + [t for _, t in line]), 1.0),
                      x_ticks=ticks, label="Kendall tau vs top-K%")


# Node positions of the cell drawn left to right; edges skipping a node arc above (0->2,
# 1->3) or below (0->3) so that no two edges and no two labels overlap.
_NODES = {0: (60, 150), 1: (230, 150), 2: (400, 150), 3: (570, 150)}
_BEND = {1: 0, 2: -70, 3: 95}


def cell_graph(ops: Sequence[str], *, uid: str = "cell") -> str:
    """The NB201 cell: 4 nodes, 6 labelled edges; 'none' edges are always drawn, dashed."""
    out = _open(630, 280, "cell-graph", "cell graph: " + ", ".join(f"{s}→{d} {op}" for (s, d), op in zip(EDGES, ops)))
    out.append(f'<defs><marker id="{uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
               'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/>'
               "</marker></defs>")
    labels = []
    for (src, dst), op in zip(EDGES, ops):
        (x1, y0), (x2, _) = _NODES[src], _NODES[dst]
        bend = _BEND[dst - src]
        short, colour = OP_STYLE[op]
        x1, x2 = x1 + 22, x2 - 22  # start and end at the node circles
        cls = "edge none" if op == "none" else "edge"
        dash = ' stroke-dasharray="5 4"' if op == "none" else ""
        mid = (x1 + x2) / 2
        out.append(f'<path class="{cls}" data-edge="{src}-{dst}" data-op="{op}" d="M{x1},{y0} Q{mid},{y0 + 2 * bend} '
                   f'{x2},{y0}" fill="none" stroke="{colour}" stroke-width="2.2"{dash} '
                   f'marker-end="url(#{uid}-arrow)"/>')
        ly = y0 + bend + (-7 if bend <= 0 else 16)
        labels.append(f'<text class="edge-label" data-edge="{src}-{dst}" x="{mid}" y="{ly}" text-anchor="middle" '
                      f'fill="{colour}">{escape(short)}</text>')
    out.extend(labels)  # after every edge: a label is never painted over by another edge
    for node, (cx, cy) in _NODES.items():
        name = {0: "in", 3: "out"}.get(node, str(node))
        out.append(f'<g class="node" data-node="{node}"><circle cx="{cx}" cy="{cy}" r="20"/>'
                   f'<text x="{cx}" y="{cy + 5}" text-anchor="middle">{name}</text></g>')
    out.append("</svg>")
    return "".join(out)
