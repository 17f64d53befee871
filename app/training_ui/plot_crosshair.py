"""The live plots' hover read-out: a dashed vertical line in every plot at the x under the mouse,
and a box listing each run's values there (in the corner away from the mouse).

Owned by ``TrainingPlots`` (app/training_ui/plots.py), which it reads for the plots, the runs on
screen, the x-axis mode, the smoothing and the theme's colours; it emits the owner's ``hovered``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor

from app.training_ui.colors import run_color
from app.training_ui.series import RunSeries

if TYPE_CHECKING:
    from app.training_ui.plots import TrainingPlots


class PlotCrosshair:
    """The crosshair lines, the read-out box and the mouse tracking of one ``TrainingPlots``."""

    def __init__(self, owner: TrainingPlots, base: str, muted: str, border: str) -> None:
        self.owner = owner
        fill = QColor(base)
        fill.setAlpha(225)
        self.readout_item = pg.TextItem("", anchor=(0, 0), fill=pg.mkBrush(fill), border=pg.mkPen(border))
        self.readout_item.setZValue(1000)
        self.readout_item.setVisible(False)
        owner.view.scene().addItem(self.readout_item)  # top level: it may overlap a neighbouring plot
        self.vlines: dict[str, pg.InfiniteLine] = {}
        for name, p in owner.plots.items():
            line = pg.InfiniteLine(
                angle=90, movable=False, pen=pg.mkPen(muted, width=1, style=Qt.PenStyle.DashLine)
            )
            line.setVisible(False)
            line.setZValue(50)
            p.addItem(line, ignoreBounds=True)
            self.vlines[name] = line
        self._proxy = pg.SignalProxy(owner.view.scene().sigMouseMoved, rateLimit=30, slot=self.on_mouse)

    def set_theme(self, base: str, muted: str, border: str) -> None:
        for line in self.vlines.values():
            line.setPen(pg.mkPen(muted, width=1, style=Qt.PenStyle.DashLine))
        fill = QColor(base)
        fill.setAlpha(225)
        self.readout_item.fill = pg.mkBrush(fill)
        self.readout_item.border = pg.mkPen(border)

    def on_mouse(self, event) -> None:
        pos = event[0]
        plots = self.owner.plots
        hit = None
        for name, p in plots.items():
            if p.sceneBoundingRect().contains(pos) and p.vb.sceneBoundingRect().contains(pos):
                hit = name
                break
        if hit is None:
            self.hide()
            return
        x = plots[hit].vb.mapSceneToView(pos).x()
        self.show(x, hit)

    def hide(self) -> None:
        for line in self.vlines.values():
            line.setVisible(False)
        self.readout_item.setVisible(False)

    def show(self, x: float, plot: str = "loss") -> str:
        """Draw the crosshair at ``x`` and a read-out box in ``plot`` with each run's values there
        (in the corner away from the mouse). Returns the read-out as text ("step 150 | Plain-20: ...")."""
        owner = self.owner
        store, keys = owner._store, owner._keys
        for line in self.vlines.values():
            line.setPos(x)
            line.setVisible(True)
        x_text, values = self.readout(x, plot)
        rows = [(store.get(k), v) for k, v in zip(keys, values, strict=True) if v] if store else []
        if not rows:
            self.readout_item.setVisible(False)
            return x_text
        html = [f"<span style='color:{owner._muted}'>{x_text}</span>"]
        for run, v in rows:
            color = run_color(store.color_index(run.key)).name()
            html.append(
                f"<span style='color:{color}'>━</span>&nbsp;<span style='color:{owner._text}'>"
                f"{run.label}&nbsp;&nbsp;<b>{v}</b></span>"
            )
        vb = owner.plots[plot].vb
        item = self.readout_item
        item.setHtml("<br>".join(html))
        (x0, x1), _ = vb.viewRange()
        right = (x - x0) < 0.5 * (x1 - x0)  # the mouse is on the left: put the box on the right
        item.setAnchor((1, 0) if right else (0, 0))
        item.setPos(vb.mapToScene(QPointF(vb.width() - 4 if right else 4, 4)))
        item.setVisible(True)
        owner.hovered.emit(x)
        return " | ".join([x_text] + [f"{run.label}: {v}" for run, v in rows])

    def readout(self, x: float, plot: str) -> tuple[str, list[str]]:
        owner = self.owner
        store, keys = owner._store, owner._keys
        if store is None or not keys:
            return "", []
        epochs = owner.x_mode == "epochs"
        x_text = f"epoch {x:,.2f}" if epochs else f"step {max(x, 0):,.0f}"
        values = []
        for k in keys:
            run = store.get(k)
            sx = x * run.steps_per_epoch if (epochs and run.steps_per_epoch) else x
            values.append(run_values(run, plot, sx, owner.smoothing))
        return x_text, values


def _fmt(v: float | None, kind: str) -> str | None:
    if v is None:
        return None
    if kind == "pct":
        return f"{v:.1%}"
    if kind == "int":
        return f"{v:,.0f}"
    if kind == "sci":
        return f"{v:.2e}"
    return f"{v:.3f}"


def run_values(run: RunSeries, plot: str, x: float, smoothing: float) -> str:
    """One run's values at ``x`` in ``plot``, as the read-out box shows them."""
    parts = []
    if plot == "loss":
        for label, curve in (("train", run.loss), ("val", run.val_loss)):
            s = _fmt(curve.value_at(x), "f")
            if s:
                parts.append(f"{label} {s}")
    elif plot == "acc":
        for label, curve in (("train", run.train_acc), ("val", run.val_acc)):
            s = _fmt(curve.value_at(x), "pct")
            if s:
                parts.append(f"{label} {s}")
    elif plot == "lr":
        s = _fmt(run.lr.value_at(x), "sci")
        if s:
            parts.append(s)
    elif plot == "throughput":
        s = _fmt(run.throughput.value_at(x), "int")
        if s:
            parts.append(f"{s} img/s")
    elif plot in ("grad", "heatmap") and run.grads.layers:
        g = run.grads
        n = len(g.layers)
        for label, idx in (("first", 0), ("mid", n // 2), ("last", n - 1)):
            xs, ys = g.layer_curve(idx)
            if xs:
                j = min(range(len(xs)), key=lambda i: abs(xs[i] - x))
                parts.append(f"{label} {ys[j]:.2e}")
    return ", ".join(parts)
