"""PNG figures of the experiments (matplotlib, Agg backend: no display needed).

Each function takes the experiment's result dict (what the JSON holds) and a path, and
returns whether it wrote a figure (an experiment that was not run has nothing to plot).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_init", "plot_lr", "plot_mup", "plot_update_scale"]

_SCHEME_STYLE = {"target": ("tab:blue", "o"), "source": ("tab:orange", "s"), "he": ("tab:red", "^")}
_KERNEL_COLOUR = {1: "tab:green", 3: "tab:blue", 5: "tab:purple", 7: "tab:red"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> bool:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    _pyplot().close(fig)
    return True


def _power_of_two_ticks(ax, lo: float, hi: float) -> None:
    """Label log axes at powers of two (the grid's octaves) instead of crowded minor ticks."""
    from matplotlib.ticker import NullFormatter

    ticks = [2.0 ** k for k in range(int(np.floor(np.log2(lo))), int(np.ceil(np.log2(hi))) + 1) if lo <= 2.0 ** k <= hi]
    labels = [f"{t:g}" if t >= 0.01 else f"2^{int(np.log2(t))}" for t in ticks]
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)


def plot_init(result: dict[str, Any], path: Path) -> bool:
    """Measured E||z||^2 / E||x||^2 per vertex against its in-degree, one marker per init scheme."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    offsets = {"target": -0.2, "source": 0.0, "he": 0.2}
    for ax, has_skip, title in ((axes[0], False, "layer edges only (the setting of App. A)"),
                                (axes[1], True, "with skip edges (outside the derivation)")):
        for scheme, (colour, marker) in _SCHEME_STYLE.items():
            xs, ys = [], []
            for row in result["rows"]:
                if row["scheme"] == scheme and row["has_skip"] == has_skip:
                    xs += [d + offsets[scheme] for d in row["in_degree"][1:]]
                    ys += row["measured"][1:]
            label = f"{scheme} degree" if scheme != "he" else "plain He"
            ax.scatter(xs, ys, s=14, c=colour, marker=marker, alpha=0.6, label=label)
        ax.axhspan(0.95, 1.05, color="green", alpha=0.15, label="within 5 % of the input")
        ax.set_yscale("log")
        ax.set_xlabel("in-degree of the vertex")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("E||z||² / E||x||²  (Monte Carlo)")
    axes[0].legend(fontsize=8)
    cfg = result["config"]
    fig.suptitle(f"Init scale per vertex, width {cfg['width']}, {cfg['draws']} draws", fontsize=11)
    return _save(fig, path)


def plot_lr(result: dict[str, Any], path: Path) -> bool:
    """The paper's scatter: grid-searched maximal LR (x) vs the rule's prediction (y), log-log."""
    plt = _pyplot()
    main = result["main"]
    kernels = {n["name"]: n["kernel"] for n in result["networks"]}
    scales = {n["name"]: n.get("output_scale", 1.0) for n in result["networks"]}
    rows = [r for r in main["rows"] if "predicted" in r]
    # MLPs: colour = the output's scale at init (skip edges inflate it; the rule ignores it)
    by_scale = not result.get("cnn") and any(abs(scales[r["name"]] - 1) > 1e-6 for r in rows)
    fig, ax = plt.subplots(figsize=(6.3 if by_scale else 5.5, 5))
    cmap, top = plt.get_cmap("viridis"), max(np.log2(max(scales[r["name"]] for r in rows)), 1.0)
    for row in rows:
        lo, hi = min(row["seed_max_lr"]), max(row["seed_max_lr"])
        if result.get("cnn"):
            colour = _KERNEL_COLOUR.get(kernels[row["name"]], "tab:blue")
        else:
            colour = cmap(np.log2(scales[row["name"]]) / top) if by_scale else "tab:blue"
        # clip: the geometric mean of equal values can land an ulp outside [lo, hi]
        xerr = [[max(row["measured"] - lo, 0.0)], [max(hi - row["measured"], 0.0)]]
        ax.errorbar(row["measured"], row["predicted"], xerr=xerr,
                    fmt="o", color=colour, ms=5 + 6 * row["log2_spread"], alpha=0.8, capsize=2)
    if result.get("cnn"):
        for q, colour in _KERNEL_COLOUR.items():
            ax.scatter([], [], color=colour, label=f"q = {q}")
    values = [v for r in rows for v in (r["predicted"], *r["seed_max_lr"])] + [main["base_lr"]]
    lo, hi = min(values) / 1.5, max(values) * 1.5
    ax.plot([lo, hi], [lo, hi], color="red", lw=1, label="identity")
    ax.scatter([main["base_lr"]], [main["base_lr"]], marker="*", s=140, color="black", zorder=5, label="base (L = 1)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    _power_of_two_ticks(ax, lo, hi)
    ax.set_xlabel("grid-searched maximal LR (geometric mean of seeds)")
    ax.set_ylabel("predicted LR (base LR x rule)")
    if by_scale:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        bar = fig.colorbar(ScalarMappable(Normalize(0, top), cmap), ax=ax)
        bar.set_label("log2 E||z_out||² / E||x||² at init")
    a, cfg = main["agreement"], result["config"]
    import textwrap  # long titles (e.g. nb201-lr's) would be cut at the figure's edge

    head = textwrap.fill(f"{result['title']} ({cfg['init']} init, {cfg.get('readout', 'mup')} readout LR)", 60)
    ax.set_title(f"{head}\n"
                 f"r(log) = {a['r_log']:.3f}, r = {a['r_linear']:.3f}, slope = {a['slope_log']:.2f}, n = {a['n']}",
                 fontsize=9)
    return _save(fig, path)


def plot_mup(result: dict[str, Any], path: Path) -> bool:
    """Final accuracy per cell, one bar per scaling (nothing to plot when the experiment was not run)."""
    rows = result.get("rows") or []
    if not rows:
        return False
    plt = _pyplot()
    cells = sorted({r["arch_index"] for r in rows})
    scalings = sorted({r["scaling"] for r in rows})
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(cells)), 4))
    width = 0.8 / len(scalings)
    for i, scaling in enumerate(scalings):
        means = [np.mean([r["accuracy"] for r in rows if r["arch_index"] == c and r["scaling"] == scaling])
                 for c in cells]
        ax.bar(np.arange(len(cells)) + i * width, means, width, label=scaling)
    ax.set_xticks(np.arange(len(cells)) + 0.4 - width / 2, [str(c) for c in cells])
    ax.set_xlabel("NB201 arch index")
    ax.set_ylabel(result.get("accuracy_name", "accuracy (%)"))
    ax.legend(fontsize=8)
    ax.set_title(result["title"], fontsize=10)
    return _save(fig, path)


def plot_update_scale(result: dict[str, Any], path: Path) -> bool:
    """||Delta f|| after one step against S, standard vs arch-aware, one panel per network variant."""
    rows = result.get("rows") or []
    if not rows:
        return False
    plt = _pyplot()
    eta0 = result["config"]["eta0"][0]
    variants = sorted({r["variant"] for r in rows}, reverse=True)
    fig, axes = plt.subplots(1, len(variants), figsize=(5.2 * len(variants), 4.2), squeeze=False)
    for ax, variant in zip(axes[0], variants):
        for scheme, colour in (("standard", "tab:red"), ("arch-aware", "tab:blue")):
            sel = [r for r in rows if r["variant"] == variant and r["scheme"] == scheme and r["eta0"] == eta0]
            live = [r for r in sel if not r["trivial"]]
            stats = result["summary"]["by_setting"][f"{variant}.eta0={eta0:g}"][scheme]["delta_f"]
            ax.scatter([r["S"] for r in live], [r["delta_f"] for r in live], c=colour, s=18,
                       label=f"{scheme}: {stats['mean']:.3g} ± {stats['std']:.3g} (CV {stats['cv']:.2f})")
            ax.scatter([r["S"] for r in sel if r["trivial"]], [r["delta_f"] for r in sel if r["trivial"]],
                       facecolors="none", edgecolors=colour, s=18)
        ax.set_xscale("log")
        ax.set_yscale("log")
        from matplotlib.ticker import NullFormatter

        ax.xaxis.set_minor_formatter(NullFormatter())  # the minor labels of a log axis overlap
        ax.set_xlabel("S = sum over paths of L_p^3")
        ax.set_ylabel("||Δf|| after one SGD step (mean of 10 minibatches)")
        ax.set_title(f"{variant} network, eta0 = {eta0:g} (open: trivial DAGs)", fontsize=9)
        ax.legend(fontsize=7)
    return _save(fig, path)
