"""The Inspect panel: what the selected node computes on real samples, and the whole net's depth profile.

Pick the weights (the seeded initialisation, a run folder's latest checkpoint, or a weights file) and
the samples (the project's dataset, or image files), press Inspect: ``training.inspect.run_inspection``
runs on a worker thread (torch is imported there, never on the UI thread's start-up path) while a
progress bar follows its hooks; switching the weights inspects again. Selecting a node (a block
instance, a node inside a block, or a shortcut) shows its output: feature maps of sample 0 with a
channel slider, a histogram, mean / std / min / max, zeros and dead units, saturated gates, and for a
merge the norm of each input (residual branch against shortcut). The depth profile plots every
layer's activation std and gradient norm on log axes; Export writes it as PNG/SVG and the numbers as
CSV (training/inspect_chart.py).
"""

from __future__ import annotations

import threading

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.app_style import chrome
from app.panels.flow_layout import FlowLayout

MAP_COLUMNS = 8
MAP_COUNT = 16  # feature maps shown at once; the slider moves the first one
WEIGHT_CHOICES = ("Initialisation", "Run folder…", "Weights file…")


def _viridis() -> list[int]:
    lut = pg.colormap.get("viridis").getLookupTable(0.0, 1.0, 256)
    return [QColor(int(r), int(g), int(b)).rgb() for r, g, b in lut[:, :3]]


def _plot(log: bool = False) -> pg.PlotWidget:
    """A plot in the theme's colours, as the Training tab draws them (log axes label 1, 2, 5 only)."""
    from app.training_ui.plots import LogAxis

    c = chrome()
    plot = pg.PlotWidget(axisItems={"left": LogAxis("left")} if log else None, background=c.base)
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setMenuEnabled(False)
    plot.hideButtons()
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(c.border))
        axis.setTextPen(pg.mkPen(c.muted))
        axis.enableAutoSIPrefix(False)
    plot.getAxis("left").setWidth(54)
    return plot


class MapGrid(QWidget):
    """Feature maps (C, H, W) as a grid of small images, each scaled to its channel's own range."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.maps: np.ndarray | None = None
        self.first = 0
        self._lut = _viridis()
        self.setMinimumSize(240, 120)

    def set_maps(self, maps: np.ndarray | None, first: int = 0) -> None:
        self.maps, self.first = maps, first
        self.update()

    def images(self) -> list[QImage]:
        if self.maps is None:
            return []
        out = []
        for ch in self.maps[self.first : self.first + MAP_COUNT]:
            lo, hi = float(ch.min()), float(ch.max())
            scaled = (
                np.zeros(ch.shape, np.uint8)
                if hi <= lo
                else ((ch - lo) * (255.0 / (hi - lo))).astype(np.uint8)
            )
            data = np.ascontiguousarray(scaled)
            img = QImage(
                data.data, data.shape[1], data.shape[0], data.shape[1], QImage.Format.Format_Indexed8
            )
            img.setColorTable(self._lut)
            out.append(img.copy())
        return out

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        c = chrome()
        p.fillRect(self.rect(), QColor(c.base))
        imgs = self.images()
        if not imgs:
            p.setPen(QColor(c.muted))
            text = "no feature maps: the output is a vector" if self.maps is None else ""
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, text)
            return
        cols = min(MAP_COLUMNS, len(imgs))
        rows = (len(imgs) + cols - 1) // cols
        cell = max(8, min((self.width() - 4) // cols, (self.height() - 4) // rows))
        p.setPen(QColor(c.muted))
        for i, img in enumerate(imgs):
            x, y = 2 + (i % cols) * cell, 2 + (i // cols) * cell
            p.drawImage(x + 1, y + 1, img.scaled(cell - 2, cell - 2))
            if cell >= 36:
                p.drawText(x + 3, y + 12, str(self.first + i))


class InspectPanel(QWidget):
    """The bottom tab "Inspect"."""

    finished = Signal()  # an inspection ended (result or error): tests wait on it

    def __init__(self, document, parent: QWidget | None = None, run=None) -> None:
        super().__init__(parent)
        self.document = document
        self._run = run  # tests may pass their own; None: training.inspect.run_inspection
        self.result = None
        self.current = None  # the record shown
        self._profile_rows: list = []
        self.error = ""
        self.stale = False
        self._weights_path: str | None = None
        self._images: list[str] = []
        self._box: dict = {}
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._build()
        document.selection_changed.connect(self.show_selection)
        document.instance_changed.connect(lambda _block: self.show_selection())
        document.changed.connect(self._on_project_changed)
        document.project_replaced.connect(self._on_project_replaced)
        self._timer = QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._poll)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        bar = self._build_toolbar()
        node = self._build_node_view()
        profile = self._build_profile()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(node)
        split.addWidget(profile)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(bar)
        self.status.setContentsMargins(10, 2, 8, 2)
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        lay.addWidget(split, 1)
        self._set_exports()

    def _build_toolbar(self) -> QFrame:
        """Weights, seed, samples, BatchNorm mode, Inspect/Cancel, progress and the exports; the status
        line below it."""
        bar = QFrame(objectName="panelToolbar")
        bl = FlowLayout(bar)  # wraps onto more rows in a narrow dock instead of widening the window
        bl.setContentsMargins(8, 4, 8, 4)
        self.weights = QComboBox()
        self.weights.addItems(WEIGHT_CHOICES)
        self.weights.setToolTip(
            "Weights: seeded initialisation, a run's latest checkpoint, or a weights file"
        )
        self.weights.activated.connect(self._on_weights_chosen)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed.setPrefix("seed ")
        self.source = QComboBox()
        self.source.addItems(["Project's dataset", "Image files…"])
        self.source.activated.connect(self._on_source_chosen)
        self.samples = QSpinBox(minimum=1, maximum=1024, value=16)
        self.samples.setSuffix(" samples")
        self.mode = QComboBox()
        self.mode.addItems(["BatchNorm: auto", "BatchNorm: batch stats", "BatchNorm: running stats"])
        self.mode.setToolTip(
            "auto: batch statistics for an initialisation, running statistics for trained weights"
        )
        self.go = QPushButton("Inspect")
        self.go.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status = QLabel("Pick weights and samples, then Inspect.")
        self.status.setProperty("role", "muted")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for w in (self.weights, self.seed, self.source, self.samples, self.mode, self.go, self.cancel_button):
            bl.addWidget(w)
        bl.addWidget(self.progress)
        bl.addStretch(1)
        self.export_png = QPushButton("Export picture…")
        self.export_png.clicked.connect(self._export_picture)
        self.export_csv = QPushButton("Export CSV…")
        self.export_csv.clicked.connect(self._export_csv)
        bl.addWidget(self.export_png)
        bl.addWidget(self.export_csv)
        return bar

    def _build_node_view(self) -> QWidget:
        """The selected node: title and numbers, maps with a channel slider, histogram."""
        self.node_title = QLabel("Select a node on the canvas.")
        self.node_title.setTextFormat(Qt.TextFormat.RichText)
        self.stats = QLabel()
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stats.setWordWrap(True)
        self.grid = MapGrid()
        self.channel = QSlider(Qt.Orientation.Horizontal)
        self.channel.setMinimum(0)
        self.channel.valueChanged.connect(self._on_channel)
        self.channel_label = QLabel()
        self.hist = _plot()
        self.hist.setMinimumHeight(90)
        self.hist.setLabel("bottom", "value")
        node = QWidget()
        nl = QGridLayout(node)
        nl.setContentsMargins(8, 4, 8, 4)
        nl.addWidget(self.node_title, 0, 0, 1, 2)
        nl.addWidget(self.stats, 1, 0, 1, 2)
        nl.addWidget(self.grid, 2, 0, 1, 2)
        nl.addWidget(self.channel_label, 3, 0)
        nl.addWidget(self.channel, 3, 1)
        nl.addWidget(self.hist, 4, 0, 1, 2)
        nl.setRowStretch(2, 3)
        nl.setRowStretch(4, 2)
        return node

    def _build_profile(self) -> QWidget:
        """The depth profile: activation std and gradient norm per layer."""
        self.std_plot = _plot(log=True)
        self.grad_plot = _plot(log=True)
        for plot, label in ((self.std_plot, "activation std"), (self.grad_plot, "gradient norm")):
            plot.setLogMode(y=True)
            plot.setLabel("left", label)
        self.grad_plot.setLabel("bottom", "layer (forward order)")
        self.grad_plot.setXLink(self.std_plot)
        self.markers = [pg.InfiniteLine(angle=90, movable=False) for _ in range(2)]
        self.std_plot.addItem(self.markers[0])
        self.grad_plot.addItem(self.markers[1])
        profile = QWidget()
        pl = QVBoxLayout(profile)
        pl.setContentsMargins(4, 4, 4, 4)
        self.profile_title = QLabel("Depth profile")
        pl.addWidget(self.profile_title)
        pl.addWidget(self.std_plot, 1)
        pl.addWidget(self.grad_plot, 1)
        return profile

    # ------------------------------------------------------------------ choices
    def _on_weights_chosen(self, index: int) -> None:
        if index == 0:
            self._weights_path = None
        else:
            if index == 1:
                path = QFileDialog.getExistingDirectory(self, "Run folder", "runs")
            else:
                path, _ = QFileDialog.getOpenFileName(
                    self, "Weights file", "", "Weights (*.safetensors *.pt *.pth)"
                )
            if not path:
                self.weights.setCurrentIndex(0 if self._weights_path is None else index)
                return
            self._weights_path = path
        self.start()  # switching the weights inspects again

    def _on_source_chosen(self, index: int) -> None:
        if index == 1:
            paths, _ = QFileDialog.getOpenFileNames(
                self, "Images", "", "Images (*.png *.ppm *.pgm *.jpg *.jpeg *.bmp)"
            )
            if not paths:
                self.source.setCurrentIndex(0)
                return
            self._images = list(paths)
        else:
            self._images = []

    def set_weights(self, kind: str, path: str | None = None) -> None:
        """Choose the weights without a dialog ("init", "run", "file") and inspect again."""
        self.weights.setCurrentIndex({"init": 0, "run": 1, "file": 2}[kind])
        self._weights_path = path
        self.start()

    def set_images(self, paths: list[str]) -> None:
        self._images = list(paths)
        self.source.setCurrentIndex(1 if paths else 0)

    def weights_choice(self):
        from training.inspect_inputs import WeightsChoice

        kind = ("init", "run", "file")[self.weights.currentIndex()]
        return WeightsChoice(kind, self._weights_path if kind != "init" else None, self.seed.value())

    # ------------------------------------------------------------------ running
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.busy():  # the old worker stops at its next check and writes only into its own box
            self._cancel.set()
        from graph.projectfile import project_from_dict

        project = project_from_dict(self.document.project.to_dict())  # a snapshot: edits go on meanwhile
        mode = (None, "train", "eval")[self.mode.currentIndex()]
        args = {
            "weights": self.weights_choice(),
            "images": list(self._images) or None,
            "samples": self.samples.value(),
            "mode": mode,
        }
        self._box = {"done": 0, "total": 0}
        self._cancel = threading.Event()
        self.error = ""
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.go.setEnabled(False)
        self.status.setText("Building the model and taking the samples…")
        self._thread = threading.Thread(
            target=self._work, args=(project, args, self._box, self._cancel), daemon=True
        )
        self._thread.start()
        self._timer.start()

    def _work(self, project, args: dict, box: dict, cancel: threading.Event) -> None:
        try:
            run = self._run
            if run is None:
                from training.inspect import run_inspection as run

            def progress(done: int, total: int) -> None:
                box["done"], box["total"] = done, total

            box["result"] = run(project, progress=progress, should_cancel=cancel.is_set, **args)
        except Exception as exc:  # noqa: BLE001 - shown in the panel, one line
            if type(exc).__name__ == "Cancelled":
                box["cancelled"] = True
            else:
                box["error"] = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"

    def cancel(self) -> None:
        self._cancel.set()

    def _poll(self) -> None:
        box = self._box
        if box.get("total") and not box.get("discard"):
            self.progress.setRange(0, box["total"])
            self.progress.setValue(box["done"])
            self.status.setText(
                f"Running the samples through the network: {box['done']} of {box['total']} nodes"
            )
        if not any(k in box for k in ("result", "error", "cancelled")):
            return
        self._timer.stop()
        if box.get("discard"):  # started on the project before the one open now
            self.progress.hide()
            self.cancel_button.hide()
            self.go.setEnabled(True)
            self.finished.emit()
            return
        self.progress.hide()
        self.cancel_button.hide()
        self.go.setEnabled(True)
        if "result" in box:
            self.show_result(box["result"])
        elif "error" in box:
            self.error = box["error"]
            self.status.setText(f"<span style='color:{chrome().error}'>{self.error}</span>")
        else:
            self.status.setText("Cancelled.")
        self.finished.emit()

    # ------------------------------------------------------------------ showing
    def show_result(self, result) -> None:
        from training.inspect import depth_profile

        self.result = result
        self.stale = False
        hidden = f"; {len(result.unobserved)} inline nodes not shown" if result.unobserved else ""
        self.status.setText(
            f"{result.weights} · {result.samples} · BatchNorm {result.mode} mode"
            + (f" · gradients of {result.loss}" if result.loss else "")
            + hidden
        )
        rows = depth_profile(result)
        self._profile_rows = rows
        xs = np.arange(len(rows), dtype=float)
        c = chrome()
        self.std_plot.clear()
        self.grad_plot.clear()
        self.std_plot.addItem(self.markers[0])
        self.grad_plot.addItem(self.markers[1])
        std = np.array([r.std if r.std > 0 else np.nan for r in rows], dtype=float)
        grad = np.array([r.grad_norm if r.grad_norm else np.nan for r in rows], dtype=float)
        self.std_plot.plot(xs, std, pen=pg.mkPen("#2a6fdb", width=1.5), connect="finite")
        if np.isfinite(grad).any():
            self.grad_plot.plot(xs, grad, pen=pg.mkPen(c.error, width=1.5), connect="finite")
        self.profile_title.setText(f"Depth profile of {result.project}: {len(rows)} layers")
        self._set_exports()
        self.show_selection()

    def selected_record(self):
        """The record of the selected node or shortcut, or (None, why)."""
        if self.result is None:
            return None, ""
        block, nodes, edges = self.document.selection
        ids = list(nodes) or list(edges)
        if not ids:
            return None, "Select a node on the canvas to see its output."
        target = ids[0]
        owner = (self.document.shown_instance(block) or "") if block is not None else ""
        for r in self.result.records:
            if r.node_id == target and r.block == block and r.owner == owner:
                return r, ""
        graph = self.document.project.graph_of(block)
        node = graph.nodes.get(target) if graph is not None else None
        if node is not None and node.type in ("Input", "Output", "BlockInput", "BlockOutput"):
            return (
                None,
                f"{node.name} is an {node.type} node: it has no output of its own; pick the node next to it.",
            )
        if edges and not nodes:
            return None, "An identity shortcut passes its source node's output unchanged: select that node."
        name = node.name if node is not None else target
        if name in self.result.unobserved:
            return None, f"{name}: {self.result.unobserved[name]}."
        return None, f"{name} is not in the inspected network: the graph changed since; press Inspect."

    def show_selection(self) -> None:
        record, why = self.selected_record()
        self.hist.clear()
        self.current = record
        if record is None:
            self.node_title.setText(why or "Select a node on the canvas.")
            self.stats.setText("")
            self.grid.set_maps(None)
            self.channel.setEnabled(False)
            self.channel_label.setText("")
            return
        shape = "x".join(map(str, record.shape))
        self.node_title.setText(
            f"<b>{record.name}</b> &nbsp; {record.type.removeprefix('block:')} &nbsp; {shape}"
        )
        parts = [
            f"mean {record.mean:.4g}",
            f"std {record.std:.4g}",
            f"min {record.min:.4g}",
            f"max {record.max:.4g}",
            f"zeros {record.zero_fraction:.1%}",
            f"dead units {record.dead_fraction:.1%}",
        ]
        if record.saturated_fraction is not None:
            parts.append(f"saturated {record.saturated_fraction:.1%}")
        if record.grad_norm is not None:
            parts.append(f"gradient norm {record.grad_norm:.4g}")
        text = " · ".join(parts)
        if record.inputs:
            text += "<br>inputs (mean L2 norm per sample): " + ", ".join(
                f"{k} {v:.4g}" for k, v in record.inputs
            )
            if len(record.inputs) == 2 and record.inputs[1][1] > 0:
                text += (
                    f" — the branch adds {record.inputs[0][1] / record.inputs[1][1]:.2f}x the shortcut's norm"
                )
        self.stats.setText(text)
        maps = record.maps.numpy() if record.maps is not None else None
        count = 0 if maps is None else maps.shape[0]
        self.channel.setEnabled(count > MAP_COUNT)
        self.channel.blockSignals(True)
        self.channel.setMaximum(max(0, count - MAP_COUNT))
        self.channel.setValue(0)
        self.channel.blockSignals(False)
        self.grid.set_maps(maps, 0)
        self._channel_text(count)
        edges, counts = record.histogram()
        if counts:
            self.hist.plot(edges, counts, stepMode="center", fillLevel=0, brush=(42, 111, 219, 150), pen=None)
        rows = self._profile_rows
        index = next((i for i, r in enumerate(rows) if r.name == record.name), None)
        for m in self.markers:
            m.setVisible(index is not None)
            if index is not None:
                m.setValue(index)

    def _channel_text(self, count: int) -> None:
        first = self.channel.value()
        self.channel_label.setText(
            f"channels {first}–{min(count, first + MAP_COUNT) - 1} of {count} (sample 0)" if count else ""
        )

    def _on_channel(self, value: int) -> None:
        if self.grid.maps is not None:
            self.grid.set_maps(self.grid.maps, value)
            self._channel_text(self.grid.maps.shape[0])

    def _on_project_changed(self) -> None:
        if self.result is not None and not self.stale:
            self.stale = True
            self.status.setText(self.status.text() + " · the graph changed: press Inspect to see it")

    def _on_project_replaced(self) -> None:
        self.reset_project_state()

    def reset_project_state(self) -> None:
        """Another project: nothing of the last one stays (its depth profile and title, its maps);
        an inspection still running is cancelled and its result dropped (issue 25)."""
        if self.busy():
            self._cancel.set()
            self._box["discard"] = True
        self.result = None
        self.stale = False
        self.std_plot.clear()
        self.grad_plot.clear()
        self.std_plot.addItem(self.markers[0])
        self.grad_plot.addItem(self.markers[1])
        self.profile_title.setText("Depth profile")
        self.status.setText("Pick weights and samples, then Inspect.")
        self._set_exports()
        self.show_selection()

    def set_theme(self, _name: str = "") -> None:
        """The plots in the current theme's colours (they kept the theme they were built in)."""
        c = chrome()
        for plot in (self.hist, self.std_plot, self.grad_plot):
            plot.setBackground(c.base)
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(pg.mkPen(c.border))
                axis.setTextPen(pg.mkPen(c.muted))

    # ------------------------------------------------------------------ export
    def _set_exports(self) -> None:
        for b in (self.export_png, self.export_csv):
            b.setEnabled(self.result is not None)

    def export_picture(self, path: str) -> None:
        from training.inspect_chart import write_profile

        write_profile([self.result], path)

    def export_csv_file(self, path: str) -> None:
        from training.inspect_chart import write_csv

        write_csv([self.result], path)

    def _export_picture(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export depth profile", "profile.png", "PNG (*.png);;SVG (*.svg)"
        )
        if path:
            self._export(self.export_picture, path)

    def _export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export numbers", "profile.csv", "CSV (*.csv)")
        if path:
            self._export(self.export_csv_file, path)

    def _export(self, fn, path: str) -> None:
        try:
            fn(path)
        except Exception as exc:  # noqa: BLE001 - one line in the panel
            self.status.setText(f"<span style='color:{chrome().error}'>{getattr(exc, 'message', exc)}</span>")
            return
        self.status.setText(f"Wrote {path}")


__all__ = ["InspectPanel", "MapGrid"]
