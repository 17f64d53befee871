"""The live plots' axis ranges, set by hand rather than by pyqtgraph's auto-range.

Auto-range would move every axis on every update (a new minimum, a longer run), and re-laying out
and re-drawing 12 axes is what makes a redraw slow. So the x range spans the planned run, and the y
ranges snap to round bounds with hysteresis: they stay while the data stay inside and fill more than
about half of them. Owned by ``TrainingPlots`` (app/training_ui/plots.py)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pyqtgraph as pg

from app.training_ui.series import RunStore


class PlotRanges:
    """The x range shared by the plots and each plot's y range (log plots: in decades)."""

    def __init__(
        self, plots: dict[str, pg.PlotItem], x_mode: Callable[[], str], updates: Callable[[str], bool]
    ) -> None:
        self.plots = plots
        self._x_mode = x_mode  # "steps" or "epochs", read from the owner
        self._updates = updates  # whether the owner's current refresh updates a plot
        self.yr: dict[str, tuple[float, float]] = {}
        self.xr: tuple[float, float] | None = None

    def forget(self) -> None:
        self.xr = None
        self.yr = {}

    def fit(self, store: RunStore, keys: list[str]) -> None:
        runs = [store.get(k) for k in keys]
        self.fit_x(runs)
        r = _span([c for run in runs for c in (run.train_loss, run.val_loss)])
        q = _quantiles([y for run in runs for y in run.loss.data()[1]], 0.01, 0.98)
        if q:
            r = (min(r[0], q[0]), max(r[1], q[1])) if r else q
        if r:
            self.fit_linear("loss", r[0], r[1], zero=False)
        r = _span([c for run in runs for c in (run.train_acc, run.val_acc)])
        if r:
            self.fit_linear("acc", r[0], r[1], zero=False, limits=(0.0, 1.0))
        r = _span([run.throughput for run in runs])
        if r:
            self.fit_linear("throughput", 0.0, r[1])
        r = _span([run.lr for run in runs], positive=True)
        if r:
            self.fit_log("lr", r[0], r[1])
        lo, hi = math.inf, -math.inf
        for run in runs:
            for col in run.grads.columns:
                vals = [v for v in col if v is not None and v > 0]
                if vals:
                    lo, hi = min(lo, min(vals)), max(hi, max(vals))
        if lo <= hi:
            self.fit_log("grad", lo, hi, headroom=2)

    def fit_x(self, runs: list) -> None:
        """The shared x range: from 0 to the furthest run's end (its total steps, or its last point)."""
        ext = 0.0
        for run in runs:
            end = float(run.total_steps or 0)
            for c in run.curves().values():
                last = c.last()
                if last is not None:
                    end = max(end, last[0])
            if self._x_mode() == "epochs" and run.steps_per_epoch:
                end /= run.steps_per_epoch
            ext = max(ext, end)
        if ext > 0 and self.xr != (0.0, ext):
            self.xr = (0.0, ext)
            self.plots["loss"].setXRange(0, ext, padding=0.02)

    def fit_linear(
        self, name: str, lo: float, hi: float, zero: bool = True, limits: tuple[float, float] | None = None
    ) -> None:
        """Snap the y range to round numbers around [lo, hi] (from 0 when ``zero``); keep it while the
        data stay inside and fill more than about half of it."""
        if not self._updates(name):
            return
        if zero:
            lo = min(lo, 0.0)
        cur = self.yr.get(name)
        if cur and cur[0] <= lo and hi <= cur[1] and (hi - lo) > 0.45 * (cur[1] - cur[0]):
            return
        span = hi - lo if hi > lo else (abs(hi) or 1.0)
        step = _nice_ceil(span / 4)
        bottom = 0.0 if zero and lo >= 0 else math.floor((lo - 0.04 * span) / step) * step
        if lo >= 0:
            bottom = max(bottom, 0.0)
        top = math.ceil((hi + 0.04 * span) / step) * step
        if top <= bottom:
            top = bottom + step
        if limits is not None:
            bottom, top = max(bottom, limits[0]), min(top, limits[1])
        self.yr[name] = (bottom, top)
        self.plots[name].setYRange(bottom, top, padding=0)

    def fit_log(self, name: str, lo: float, hi: float, headroom: int = 0) -> None:
        if not self._updates(name):
            return
        a, b = math.log10(lo), math.log10(hi)
        cur = self.yr.get(name)
        if cur and cur[0] <= a and b <= cur[1] - headroom and (b - a) > (cur[1] - cur[0]) - headroom - 2.5:
            return
        bottom, top = math.floor(a - 0.05), math.ceil(b + 0.05) + headroom
        self.yr[name] = (bottom, top)
        span = top - bottom
        major = 1 if span <= 5 else 2 if span <= 10 else 3  # a label every 1-3 decades, never crowded
        self.plots[name].getAxis("left").setTickSpacing(levels=[(major, 0)])
        self.plots[name].setYRange(bottom, top, padding=0)


def _span(curves, positive: bool = False) -> tuple[float, float] | None:
    """The y extent of ``curves`` (their pending points too); above 0 when ``positive``."""
    lo, hi = math.inf, -math.inf
    for c in curves:
        ys = c.ys
        if ys:
            lo, hi = min(lo, min(ys)), max(hi, max(ys))
        if c._pending:
            pys = [y for _, y in c._pending]
            lo, hi = min(lo, min(pys)), max(hi, max(pys))
    if positive:
        lo = max(lo, 1e-12)
    return (lo, hi) if lo <= hi else None


def _quantiles(values: list[float], lo: float, hi: float) -> tuple[float, float] | None:
    if not values:
        return None
    v = sorted(values)
    n = len(v) - 1
    return v[int(lo * n)], v[round(hi * n)]


def _nice_ceil(v: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10 times a power of ten that is >= v."""
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * e >= v * (1 - 1e-9):
            return m * e
    return 10 * e
