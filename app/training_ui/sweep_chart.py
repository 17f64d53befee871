"""The Sweep tab's live Pareto scatter: best validation accuracy against parameters or MACs, one
point per finished run, the Pareto front dashed, each point labelled with its configuration; a click
on a point opens that run's graph. Built on first use (it imports pyqtgraph)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout


class ParetoChart:
    """The scatter of a SweepPanel (its finished ``points``, planned ``configs``, x axis choice and
    ``open_project_requested``), in ``holder``, a layout of the tab."""

    def __init__(self, sweep, holder: QVBoxLayout) -> None:
        self.sweep = sweep
        self.holder = holder
        self.plot = None
        self._scatter = self._front = None
        self._labels: list = []

    def ensure_plot(self):
        if self.plot is None:
            import pyqtgraph as pg

            class CostAxis(pg.AxisItem):
                """Parameters or MACs as 270k, 1.2M: as many digits as the tick spacing needs
                (before: '0 0 0 0 1 1' on an empty chart)."""

                def tickStrings(self, values, scale, spacing):
                    return cost_ticks([v * scale for v in values], spacing * scale)

            class PercentAxis(pg.AxisItem):
                def tickStrings(self, values, scale, spacing):
                    return percent_ticks([v * scale for v in values], spacing * scale)

            self.plot = pg.PlotWidget(axisItems={"bottom": CostAxis("bottom"), "left": PercentAxis("left")})
            self.plot.setMinimumHeight(200)
            self.plot.setMenuEnabled(False)
            self.plot.hideButtons()
            self.plot.showGrid(x=True, y=True, alpha=0.25)
            self.plot.setLabel("left", "best val acc (%)")
            self.set_theme()
            self._front = pg.PlotDataItem(pen=pg.mkPen("#d9534f", width=1.5, style=Qt.PenStyle.DashLine))
            self._scatter = pg.ScatterPlotItem(size=10, hoverable=True)
            self._scatter.sigClicked.connect(self._on_point_clicked)
            self.plot.addItem(self._front)
            self.plot.addItem(self._scatter)
            self.holder.addWidget(self.plot)
        return self.plot

    def redraw(self) -> None:
        if self.plot is None:
            return
        import pyqtgraph as pg

        from training.pareto import front

        points, configs = self.sweep.points, self.sweep.configs
        key = "params" if self.sweep.x_axis.currentText() == "Parameters" else "macs"
        self.plot.setLabel("bottom", "parameters" if key == "params" else "MACs per image")
        pts = [(float(p[key]), 100.0 * p["acc"]) for p in points]
        on = set(front(pts))
        spots = [
            {
                "pos": (x, y),
                "data": str(p["run"]),
                "brush": pg.mkBrush("#d9534f" if i in on else "#7f8c9a"),
                "pen": pg.mkPen(None),
            }
            for i, ((x, y), p) in enumerate(zip(pts, points, strict=True))
        ]
        self._scatter.setData(spots)
        idx = front(pts)
        self._front.setData([pts[i][0] for i in idx], [pts[i][1] for i in idx], stepMode=None)
        for item in self._labels:
            self.plot.removeItem(item)
        self._labels = []
        for (x, y), p in zip(pts, points, strict=True):
            text = pg.TextItem(p["config"], anchor=(0, 1), color="#8b919e")
            self.plot.addItem(text)
            text.setPos(x, y)
            self._labels.append(text)
        xs = [float(getattr(c, key)) for c in configs] or [x for x, _ in pts]
        if xs:  # the planned costs span the axis from the start; room on the right for a label
            lo, hi = min(xs), max(xs)
            pad = (hi - lo) * 0.1 or hi * 0.1
            self.plot.setXRange(lo - pad, hi + 5 * pad, padding=0)
        ys = [y for _, y in pts]
        self.plot.setYRange(max(0.0, min(ys, default=0.0) - 5), min(100.0, max(ys, default=100.0) + 5))

    def _on_point_clicked(self, _item, points, *_ev) -> None:
        """Open the run's graph as an unsaved copy (the editor's document is never the run's file)."""
        if len(points):
            run = Path(points[0].data())
            self.sweep.open_project_requested.emit(str(run / "project.json"))

    def set_theme(self) -> None:
        """The chart in the current theme's colours (called again when the theme changes)."""
        if self.plot is None:
            return
        import pyqtgraph as pg

        from app.app_style import chrome

        c = chrome()
        self.plot.setBackground(c.base)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(pg.mkPen(c.border))
            axis.setTextPen(pg.mkPen(c.muted))
        for item in self._labels:
            item.setColor(c.muted)


def cost_ticks(values: list[float], spacing: float) -> list[str]:
    """Tick labels for a parameter or MAC axis: 0, 250k, 1.25M; no fractions of a parameter."""
    out = []
    for v in values:
        if spacing < 1 or abs(v) < 1:
            out.append(f"{v:.0f}" if abs(v - round(v)) < 1e-6 else "")
            continue
        for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")):
            if abs(v) >= div:
                digits = 0
                while digits < 3 and spacing / div < 10 ** (-digits) * 0.999:
                    digits += 1
                out.append(f"{v / div:.{digits}f}{unit}")
                break
    return out


def percent_ticks(values: list[float], spacing: float) -> list[str]:
    """Tick labels for the accuracy axis in percent: 40, 45, 50 (never 49.00000000000015)."""
    digits = 0
    while digits < 3 and spacing < 10 ** (-digits) * 0.999:
        digits += 1
    return [f"{v:.{digits}f}" for v in values]
