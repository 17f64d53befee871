"""Accuracy against cost: the Pareto front and the sweep's chart (PNG and SVG), without Qt.

``front(points)`` is plain Python (the editor's live scatter uses it too);
``write_charts(rows, png, svg)`` draws with matplotlib's Agg backend, imported
only when a chart is drawn, and writes each file atomically.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

COSTS = (("params", "parameters"), ("macs", "MACs per image"))


def front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: none costs less or the same with higher accuracy,
    or less with the same. Ordered by cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    out: list[int] = []
    best = -math.inf
    for i in order:
        if points[i][1] > best:
            out.append(i)
            best = points[i][1]
    return out


def human(n: float) -> str:
    """1234567 -> 1.23M (axis ticks)."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.0f}"


def write_charts(rows: list[dict], png: str | Path, svg: str | Path | None = None, title: str = "") -> None:
    """Two panels (accuracy vs parameters, vs MACs) of the rows that have an accuracy; the front
    drawn as a step line; every point labelled with its configuration."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    from training.runs import write_atomic

    done = [r for r in rows if isinstance(r.get("best_val_acc"), (int, float))]
    fig = Figure(figsize=(13, 5.2), dpi=110, layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, (key, name) in zip(axes, COSTS, strict=True):
        pts = [(float(r[key]), 100.0 * float(r["best_val_acc"])) for r in done]
        ax.set_xlabel(name)
        ax.set_ylabel("best validation accuracy (%)")
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: human(v)))
        if not pts:
            ax.text(0.5, 0.5, "no finished run yet", ha="center", va="center", transform=ax.transAxes)
            continue
        on = set(front(pts))
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        errs = [100.0 * float(r.get("best_val_acc_std") or 0.0) for r in done]
        ax.errorbar(xs, ys, yerr=errs if any(errs) else None, fmt="none", ecolor="#888888", capsize=3)
        ax.scatter(
            [x for i, x in enumerate(xs) if i not in on],
            [y for i, y in enumerate(ys) if i not in on],
            s=42,
            color="#7f8c9a",
            label="dominated",
            zorder=3,
        )
        ax.scatter(
            [xs[i] for i in sorted(on)],
            [ys[i] for i in sorted(on)],
            s=54,
            color="#d9534f",
            label="Pareto front",
            zorder=4,
        )
        fx = [pts[i][0] for i in front(pts)]
        fy = [pts[i][1] for i in front(pts)]
        ax.step(fx, fy, where="post", color="#d9534f", linestyle="--", linewidth=1.2, zorder=2)
        for r, x, y in zip(done, xs, ys, strict=True):
            ax.annotate(
                str(r["config"]), (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8, zorder=5
            )
        if max(xs) > 20 * min(xs) > 0:
            ax.set_xscale("log")
        span = max(ys) - min(ys)
        ax.set_ylim(min(ys) - max(span * 0.15, 1.0), max(ys) + max(span * 0.2, 1.5))
        lo, hi = min(xs), max(xs)
        pad = (hi - lo) * 0.12 or hi * 0.1 or 1.0
        if ax.get_xscale() != "log":
            ax.set_xlim(lo - pad, hi + pad * 2)
        ax.set_title(f"accuracy vs {name}")
        ax.legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_atomic(Path(png), buf.getvalue())
    if svg is not None:
        buf = io.BytesIO()
        fig.savefig(buf, format="svg")
        write_atomic(Path(svg), buf.getvalue())


__all__ = ["front", "human", "write_charts"]
