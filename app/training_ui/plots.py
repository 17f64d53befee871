"""The live plots (pyqtgraph; import this module only after the window shows).

Six plots share one x-axis (steps, or epochs), each run has one colour in all
of them: loss (the train loss of every step record, faint, and its smoothed
curve, bold; train and validation loss per epoch with markers), accuracy
(train dotted, validation solid, as the ResNet paper's figure: thin train,
bold test), learning rate (log scale), throughput (images/s), gradient norms
of the first, middle and last weight (log scale) and a heatmap of every
layer's gradient norm over steps for one run. Hovering shows a vertical line
in every plot and the values of each run at that x.

The hover read-out lives in plot_crosshair.py (``PlotCrosshair``) and the hand-set
axis ranges in plot_ranges.py (``PlotRanges``); ``TrainingPlots`` owns one of each.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.panels.flow_layout import FlowLayout
from app.training_ui.colors import run_color
from app.training_ui.plot_crosshair import PlotCrosshair
from app.training_ui.plot_ranges import PlotRanges
from app.training_ui.series import RunSeries, RunStore, smooth

PLOT_MIN_WIDTH = 240  # px: a plot narrower than this reads badly; the grid reflows instead
PLOT_NAMES = ("loss", "acc", "lr", "throughput", "grad", "heatmap")
TITLES = {
    "loss": "Loss",
    "acc": "Accuracy",
    "lr": "Learning rate",
    "throughput": "Images / s",
    "grad": "Gradient norm",
    "heatmap": "Gradient norm by layer",
}


class LogAxis(pg.AxisItem):
    """A log axis that labels only 1, 2 and 5 times a power of ten when the minor ticks crowd."""

    def logTickStrings(self, values, scale, spacing):
        strings = super().logTickStrings(values, scale, spacing)
        if len(values) <= 4:
            return strings
        out = []
        for v, text in zip(values, strings, strict=False):  # pyqtgraph's list, one per value
            m = 10 ** (v - math.floor(v + 1e-9))
            out.append(text if min(abs(m - k) for k in (1, 2, 5, 10)) < 1e-6 else "")
        return out


def _colors():
    try:
        from app.app_style import chrome

        c = chrome()
        return c.base, c.muted, c.text, c.border, c.name
    except Exception:  # noqa: BLE001
        return "#16181d", "#8b919e", "#d8dbe2", "#30343d", "dark"


def line_sample(
    color: QColor, style=Qt.PenStyle.SolidLine, width: float = 2.2, marker: bool = False
) -> QPixmap:
    pm = QPixmap(26, 12)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(color, width)
    pen.setStyle(style)
    p.setPen(pen)
    p.drawLine(1, 6, 25, 6)
    if marker:
        p.setBrush(color)
        p.drawEllipse(10, 3, 6, 6)
    p.end()
    return pm


class LegendBar(QWidget):
    """One legend for all six plots: a colour per run, then what the line styles mean. The entries
    wrap onto more rows where the row is narrow (a sweep's many runs), never cut a name short."""

    def __init__(self, muted: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.muted = QColor(muted)
        self.runs: list[tuple[str, QColor]] = []
        self.run_labels: list[QLabel] = []
        self.keys: list[QLabel] = []
        self._lay = FlowLayout(self, spacing=10)
        self._lay.setContentsMargins(10, 4, 10, 2)
        self.set_runs([])

    def _add(self, pixmap: QPixmap | None, text: str, muted: bool = False) -> QLabel:
        entry = QWidget()
        row = QHBoxLayout(entry)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        if pixmap is not None:
            icon = QLabel()
            icon.setPixmap(pixmap)
            row.addWidget(icon)
        label = QLabel(text)
        label.setTextFormat(Qt.TextFormat.PlainText)
        if muted:
            label.setProperty("role", "muted")
        row.addWidget(label)
        self._lay.addWidget(entry)
        return label

    def set_runs(self, runs: list[tuple[str, QColor]]) -> None:
        self.runs = list(runs)
        while self._lay.count():
            item = self._lay.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()
                item.widget().deleteLater()
        self.run_labels = [self._add(line_sample(color, width=3.0), label) for label, color in runs]
        m = self.muted
        self.keys = [
            self._add(line_sample(m), "train, smoothed", True),
            self._add(line_sample(m, Qt.PenStyle.DotLine, 1.6), "train, per epoch", True),
            self._add(line_sample(m, Qt.PenStyle.DashLine, marker=True), "validation", True),
        ]
        self._lay.invalidate()
        self.updateGeometry()


class TrainingPlots(QWidget):
    """The plot grid. ``refresh(store, keys)`` redraws the runs in ``keys`` (only what changed)."""

    hovered = Signal(float)  # x under the mouse
    columns_changed = Signal(int)  # plots per row (the panel makes room for the rows)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        base, muted, text, border, theme = _colors()
        self._text, self._muted, self._theme = text, muted, theme
        pg.setConfigOptions(antialias=True, foreground=muted, background=base)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(base)
        self.view.ci.setContentsMargins(4, 4, 4, 4)
        self.view.ci.setSpacing(6)
        self.legend = LegendBar(muted)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.legend)
        lay.addWidget(self.view, 1)
        self.smoothing = 0.6
        self.x_mode = "steps"  # or "epochs"
        self.heatmap_key: str | None = None
        self.plots: dict[str, pg.PlotItem] = {}
        self._items: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._versions: dict[tuple[str, str], tuple] = {}
        self._keys: list[str] = []
        self._store: RunStore | None = None
        self._heat_version: tuple | None = None
        self._only: set[str] | None = None  # the plots the current refresh updates (None: all)
        self.columns = 3
        font = QFont()
        font.setPointSizeF(9.0)
        self._build_grid(text, muted, border, font)
        self._build_grad_legend(muted)
        self._build_heatmap(muted, font)
        self.ranges = PlotRanges(self.plots, lambda: self.x_mode, self._updates)
        self.crosshair = PlotCrosshair(self, base, muted, border)
        # An axis draws its grid lines across the whole plot, and replaying that QPicture costs a few ms
        # per axis (about 40 of the 45 ms of a full repaint): keep each axis's rendering as a pixmap,
        # redrawn only when the axis changes (its range, size or style), so a curve update repaints
        # the plots with a blit per axis.
        for p in self.plots.values():
            for ax in ("left", "bottom"):
                p.getAxis(ax).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._update_x_label()

    def _build_grid(self, text: str, muted: str, border: str, font: QFont) -> None:
        """The plots, three to a row, x-linked to the loss plot, with fixed (not auto) ranges."""
        for i, name in enumerate(PLOT_NAMES):
            axes = {"left": LogAxis("left")} if name in ("lr", "grad") else None
            p = self.view.addPlot(row=i // 3, col=i % 3, axisItems=axes)
            p.setTitle(f"<span style='color:{text};font-size:10pt'>{TITLES[name]}</span>")
            p.showGrid(x=True, y=True, alpha=0.15)
            p.setMenuEnabled(False)
            p.hideButtons()
            for ax in ("left", "bottom"):
                a = p.getAxis(ax)
                a.setPen(pg.mkPen(border))
                a.setTextPen(pg.mkPen(muted))
                a.setStyle(tickFont=font, tickTextOffset=4)
            p.getAxis("left").setWidth(46)
            self.plots[name] = p
            if name != "loss":
                p.setXLink(self.plots["loss"])
        # Ranges are set here, not by pyqtgraph's auto-range: it would move every axis on every update
        # (new minimum, longer run), and re-laying out and re-drawing 12 axes is what makes a redraw
        # slow. The x range spans the planned run; y ranges snap to round bounds with hysteresis.
        for p in self.plots.values():
            p.vb.disableAutoRange()
        for col in range(3):
            self.view.ci.layout.setColumnStretchFactor(col, 1)
            self.view.ci.layout.setColumnPreferredWidth(col, 300)
        self.plots["lr"].setLogMode(y=True)
        self.plots["grad"].setLogMode(y=True)
        self.plots["acc"].setYRange(0, 1, padding=0)

    def _build_grad_legend(self, muted: str) -> None:
        """The gradient plot's legend: the first, middle and last layer's line styles."""
        leg = self.plots["grad"].addLegend(
            offset=(-6, 4), colCount=3, labelTextColor=muted, labelTextSize="9pt", brush=None, pen=None
        )
        for label, dash in (
            ("first", Qt.PenStyle.SolidLine),
            ("middle", Qt.PenStyle.DashLine),
            ("last", Qt.PenStyle.DotLine),
        ):
            leg.addItem(pg.PlotDataItem([], [], pen=pg.mkPen(muted, width=1.6, style=dash)), label)
        self.grad_legend = leg
        # three entries side by side need ~210 px: a narrower plot stacks them (never clipped)
        self.plots["grad"].vb.sigResized.connect(self._fit_grad_legend)

    def _build_heatmap(self, muted: str, font: QFont) -> None:
        """The per-layer gradient heatmap and its colour bar."""
        hp = self.plots["heatmap"]
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setColorMap(pg.colormap.get("viridis"))
        hp.addItem(self.heat)
        hp.getAxis("left").setLabel("layer", color=muted)
        hp.invertY(True)
        self.colorbar = pg.ColorBarItem(
            values=(0, 1), colorMap=pg.colormap.get("viridis"), width=10, interactive=False
        )
        self.colorbar.setImageItem(self.heat, insert_in=hp)
        self.colorbar.getAxis("right").setTextPen(pg.mkPen(muted))
        self.colorbar.getAxis("right").setStyle(tickFont=font)

    # ----- theme ---------------------------------------------------------------
    def set_theme(self) -> None:
        """Repaint in the current theme's colours (View ▸ Light theme and back: issue 25, the plots
        stayed in the theme they were built in)."""
        base, muted, text, border, theme = _colors()
        self._text, self._muted, self._theme = text, muted, theme
        pg.setConfigOptions(foreground=muted, background=base)
        self.view.setBackground(base)
        for name, p in self.plots.items():
            p.setTitle(f"<span style='color:{text};font-size:10pt'>{TITLES[name]}</span>")
            for ax in ("left", "bottom"):
                a = p.getAxis(ax)
                a.setPen(pg.mkPen(border))
                a.setTextPen(pg.mkPen(muted))
        self._update_x_label()
        self.plots["heatmap"].getAxis("left").setLabel(
            self.plots["heatmap"].getAxis("left").labelText, color=muted
        )
        self.colorbar.getAxis("right").setTextPen(pg.mkPen(muted))
        for _sample, label in self.grad_legend.items:
            label.setAttr("color", muted)
            label.setText(label.text)
        self.crosshair.set_theme(base, muted, border)
        self.legend.muted = QColor(muted)
        self.legend.set_runs(self.legend.runs)
        for key_item in list(self._items.values()):
            key_item.update()

    # ----- layout -------------------------------------------------------------
    def columns_for(self, width: int) -> int:
        """Three plots a row where each gets PLOT_MIN_WIDTH, else two, else one (issue 25: at
        1280 px the third column hid behind the inspector)."""
        return max(1, min(3, width // PLOT_MIN_WIDTH))

    def set_columns(self, n: int) -> None:
        """Lay the six plots out ``n`` to a row (3: two rows; 2: three; 1: six)."""
        if n == self.columns:
            return
        ci = self.view.ci
        for p in self.plots.values():
            ci.removeItem(p)
        for i, name in enumerate(PLOT_NAMES):
            ci.addItem(self.plots[name], row=i // n, col=i % n)
        for col in range(3):
            ci.layout.setColumnStretchFactor(col, 1 if col < n else 0)
            ci.layout.setColumnPreferredWidth(col, 300 if col < n else 0)
            ci.layout.setColumnMaximumWidth(col, 1e6 if col < n else 0)
        self.columns = n
        self.columns_changed.emit(n)

    def rows(self) -> int:
        return -(-len(PLOT_NAMES) // self.columns)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.set_columns(self.columns_for(event.size().width()))

    # ----- data ---------------------------------------------------------------
    def set_smoothing(self, weight: float) -> None:
        self.smoothing = weight
        self._versions.clear()
        self._redraw()

    def set_x_mode(self, mode: str) -> None:
        self.x_mode = mode
        self.ranges.xr = None
        self._versions.clear()
        self._heat_version = None
        self._update_x_label()
        self._redraw()

    def _update_x_label(self) -> None:
        for p in self.plots.values():
            p.getAxis("bottom").setLabel("epoch" if self.x_mode == "epochs" else "step", color=self._muted)

    def _redraw(self) -> None:
        if self._store is not None:
            self.refresh(self._store, self._keys)

    def _fit_grad_legend(self, *_args) -> None:
        leg = self.grad_legend
        wide = self.plots["grad"].vb.width() >= 230
        if (leg.columnCount == 3) != wide:
            leg.setColumnCount(3 if wide else 1)

    def refresh(self, store: RunStore, keys: list[str], plots=None) -> None:
        """Show the runs ``keys`` of ``store``; curves whose data did not change are left alone.
        ``plots`` (names of PLOT_NAMES) limits the update to those plots; the others catch up on
        their next refresh."""
        self._store = store
        self._only = set(plots) if plots is not None else None
        keys = [k for k in keys if store.get(k) is not None]
        if keys != self._keys:
            for k, what in [ik for ik in self._items if ik[0] not in keys]:
                self._remove_item(k, what)
            self._keys = list(keys)
            self._rebuild_legends(store)
        for k in keys:
            self._refresh_run(store.get(k), run_color(store.color_index(k)))
        if self._updates("heatmap"):
            self._refresh_heatmap(store)
        self.ranges.fit(store, keys)
        self._only = None

    def _updates(self, plot: str) -> bool:
        return self._only is None or plot in self._only

    # ----- ranges -------------------------------------------------------------
    def reset_ranges(self) -> None:
        """Forget the ranges (after the user zoomed, or the x-axis mode changed)."""
        self.ranges.forget()
        if self._store is not None:
            self.ranges.fit(self._store, self._keys)
        if not self._keys:  # nothing shown: neutral axes, not those of runs that are gone
            self.plots["loss"].setXRange(0, 1, padding=0.02)
            for name in ("loss", "throughput"):
                self.plots[name].setYRange(0, 1, padding=0.02)

    def curve(self, key: str, what: str) -> pg.PlotDataItem | None:
        """The item drawing ``what`` (loss, loss_smooth, train_loss, val_loss, train_acc, val_acc, lr,
        throughput, grad_first, grad_mid, grad_last) of run ``key`` (for tests)."""
        return self._items.get((key, what))

    def _remove_item(self, key: str, what: str) -> None:
        item = self._items.pop((key, what), None)
        self._versions.pop((key, what), None)
        if item is not None:
            for p in self.plots.values():
                if item in p.items:
                    p.removeItem(item)

    def _item(self, key: str, what: str, plot: str, color: QColor, **style) -> pg.PlotDataItem:
        item = self._items.get((key, what))
        if item is None:
            width = style.pop("width", 1.6)
            alpha = style.pop("alpha", 255)
            dash = style.pop("dash", None)
            c = QColor(color)
            c.setAlpha(alpha)
            pen = pg.mkPen(c, width=width)
            if dash is not None:
                pen.setStyle(dash)
            symbol = style.pop("symbol", None)
            kw = {}
            if symbol:
                kw = {
                    "symbol": symbol,
                    "symbolSize": style.pop("symbolSize", 6),
                    "symbolPen": pg.mkPen(c),
                    "symbolBrush": pg.mkBrush(c if style.pop("filled", True) else QColor(0, 0, 0, 0)),
                }
            item = pg.PlotDataItem([], [], pen=pen, skipFiniteCheck=True, **kw)
            item.setDownsampling(auto=True, method="peak")  # to the plot's pixel width
            item.setClipToView(True)
            item.setZValue(style.pop("z", 0))
            self.plots[plot].addItem(item)
            self._items[(key, what)] = item
        return item

    def _set(self, run: RunSeries, what: str, plot: str, color: QColor, xs, ys, version, **style) -> None:
        if self._versions.get((run.key, what)) == version and (run.key, what) in self._items:
            return
        if not xs and (run.key, what) not in self._items:
            return
        if not self._updates(plot):
            return
        item = self._item(run.key, what, plot, color, **style)
        if self.x_mode == "epochs":
            xs = run.to_epochs(xs)
        item.setData(list(xs), list(ys))
        self._versions[(run.key, what)] = version

    def _refresh_run(self, run: RunSeries, color: QColor) -> None:
        spe = run.steps_per_epoch
        if self._updates("loss"):
            xs, ys = run.loss.data()
            self._set(run, "loss", "loss", color, xs, ys, (run.loss.version, spe), width=1, alpha=70)
            self._set(
                run,
                "loss_smooth",
                "loss",
                color,
                xs,
                smooth(ys, self.smoothing, run.loss.bucket),
                (run.loss.version, spe, self.smoothing),
                width=2.2,
                z=5,
            )
        for what, plot, style in (
            ("train_loss", "loss", {"width": 1.2, "dash": Qt.PenStyle.DotLine}),
            (
                "val_loss",
                "loss",
                {"width": 2.0, "dash": Qt.PenStyle.DashLine, "symbol": "o", "symbolSize": 6, "z": 6},
            ),
            ("train_acc", "acc", {"width": 1.4, "dash": Qt.PenStyle.DotLine}),
            (
                "val_acc",
                "acc",
                {"width": 2.0, "dash": Qt.PenStyle.DashLine, "symbol": "o", "symbolSize": 6, "z": 5},
            ),
            ("lr", "lr", {"width": 1.8}),
        ):
            c = getattr(run, what)
            xs, ys = c.data()
            self._set(run, what, plot, color, xs, ys, (c.version, spe), **style)
        if self._updates("throughput"):
            xs, ys = run.throughput.data()
            self._set(
                run,
                "throughput",
                "throughput",
                color,
                xs,
                smooth(ys, self.smoothing, run.throughput.bucket),
                (run.throughput.version, spe, self.smoothing),
                width=1.8,
            )
        g = run.grads
        if g.layers and self._updates("grad"):
            n = len(g.layers)
            for what, idx, dash in (
                ("grad_first", 0, None),
                ("grad_mid", n // 2, Qt.PenStyle.DashLine),
                ("grad_last", n - 1, Qt.PenStyle.DotLine),
            ):
                xs, ys = g.layer_curve(idx)
                self._set(run, what, "grad", color, xs, ys, (g.version, spe), width=1.6, dash=dash)

    def _rebuild_legends(self, store: RunStore) -> None:
        self.legend.set_runs([(store.get(k).label, run_color(store.color_index(k))) for k in self._keys])

    def legend_labels(self) -> list[str]:
        return [label for label, _ in self.legend.runs]

    def _refresh_heatmap(self, store: RunStore) -> None:
        key = self.heatmap_key if self.heatmap_key in self._keys else (self._keys[-1] if self._keys else None)
        run = store.get(key) if key else None
        g = run.grads if run is not None else None
        version = (key, g.version if g else None, self.x_mode, run.steps_per_epoch if run else None)
        if version == self._heat_version:
            return
        self._heat_version = version
        if g is None or not g.columns or not g.layers:
            self.heat.clear()
            self._set_heat_title("")
            return
        import numpy as np

        n_layers, n_steps = len(g.layers), len(g.columns)
        raw = np.array([col[:n_layers] + [None] * (n_layers - len(col)) for col in g.columns], dtype=float).T
        with np.errstate(divide="ignore", invalid="ignore"):
            img = np.where(raw > 0, np.log10(np.where(raw > 0, raw, 1.0)), np.nan).astype(np.float32)
        finite = img[np.isfinite(img)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi - lo < 1e-6:
            hi = lo + 1.0
        img = np.where(np.isfinite(img), img, lo)
        self.heat.setImage(img, levels=(lo, hi), autoLevels=False)
        x0 = g.steps[0]
        x1 = g.steps[-1] if n_steps > 1 else x0 + 1
        dx = (x1 - x0) / max(n_steps - 1, 1)
        left, width = x0 - dx / 2, (x1 - x0) + dx
        if self.x_mode == "epochs" and run.steps_per_epoch:
            left, width = left / run.steps_per_epoch, width / run.steps_per_epoch
        from PySide6.QtCore import QRectF

        self.heat.setRect(QRectF(left, -0.5, width, n_layers))
        if self.plots["heatmap"].vb.viewRange()[1] != [-0.5, n_layers - 0.5]:  # unchanged: no axis redraw
            self.plots["heatmap"].setYRange(-0.5, n_layers - 0.5, padding=0)
        self.colorbar.setLevels((lo, hi))
        self._set_heat_title(f"{run.label}: {n_layers} layers")

    def _set_heat_title(self, what: str) -> None:
        # setting an axis label, even the same one, re-lays the axis out and redraws it: only on a change
        axis = self.plots["heatmap"].getAxis("left")
        if axis.labelText != (what or "layer") or not axis.label.isVisible():
            axis.setLabel(what or "layer", color=self._muted)

    # ----- hover read-out (app/training_ui/plot_crosshair.py) -----------------------------
    @property
    def readout_item(self) -> pg.TextItem:
        return self.crosshair.readout_item

    def hide_crosshair(self) -> None:
        self.crosshair.hide()

    def show_crosshair(self, x: float, plot: str = "loss") -> str:
        """Draw the crosshair at ``x`` and a read-out box in ``plot`` with each run's values there
        (in the corner away from the mouse). Returns the read-out as text ("step 150 | Plain-20: ...")."""
        return self.crosshair.show(x, plot)

    def readout(self, x: float, plot: str) -> tuple[str, list[str]]:
        return self.crosshair.readout(x, plot)
