"""The middle of the Training tab: the plot toolbar (smoothing, x axis) above the plots.

``PlotArea(panel)`` builds the toolbar and a scrolling holder with a placeholder; the plots
themselves (TrainingPlots, which imports pyqtgraph) are built by ``ensure_plots()`` when the panel
is first shown. While a run streams, ``schedule_refresh()`` redraws them at most every
PLOT_INTERVAL_MS, in PLOT_GROUPS staggered PLOT_STAGGER_MS apart.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QFrame, QLabel, QScrollArea, QSlider, QVBoxLayout, QWidget

from app.panels.flow_layout import FlowLayout

PLOT_INTERVAL_MS = 250
# A redraw of all six plots at once (their data, ranges and the repaint) is the longest piece of work
# in the GUI thread while a run streams: the plots are refreshed in these groups, PLOT_STAGGER_MS
# apart, so each event-loop iteration repaints only half of them.
PLOT_GROUPS = (("loss", "acc", "lr"), ("throughput", "grad", "heatmap"))
PLOT_STAGGER_MS = 30
PLOTS_MIN_HEIGHT = 380  # px: two rows of plots and the legend; less scrolls
PLOT_ROW_HEIGHT = 180  # px: a row of plots, when they reflow into more rows in a narrow panel


class PlotArea:
    """The toolbar, the plots (built on first show) and their throttled refresh, for a TrainingPanel
    (its run store, the runs shown and ``_redraw``)."""

    def __init__(self, panel) -> None:
        self.panel = panel
        self.plots = None  # TrainingPlots, built on first show
        self._plot_timer = QTimer(panel)
        self._plot_timer.setSingleShot(True)
        self._plot_timer.setInterval(PLOT_INTERVAL_MS)
        self._plot_timer.timeout.connect(self._refresh_plots)
        self._plot_group = 0
        self.widget = self._build()

    def _build(self) -> QWidget:
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setFixedWidth(120)
        self.smoothing.setToolTip("Exponential smoothing of the per-step train loss")
        self.smoothing_value = QLabel("0.60")
        self.smoothing_value.setProperty("role", "muted")
        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.x_axis = QComboBox()
        self.x_axis.addItems(["Steps", "Epochs"])
        self.x_axis.currentTextChanged.connect(self._on_x_axis)
        bar = QFrame()
        bar.setObjectName("panelToolbar")
        bar_lay = FlowLayout(bar)  # wraps in a narrow panel
        bar_lay.setContentsMargins(8, 4, 8, 4)
        bar_lay.setSpacing(6)
        for w in (QLabel("Smoothing"), self.smoothing, self.smoothing_value):
            bar_lay.addWidget(w)
        bar_lay.addSpacing(12)
        bar_lay.addWidget(QLabel("X axis"))
        bar_lay.addWidget(self.x_axis)
        bar_lay.addStretch(1)
        self._plot_holder = QWidget()
        self._plot_lay = QVBoxLayout(self._plot_holder)
        self._plot_lay.setContentsMargins(0, 0, 0, 0)
        self._placeholder = QLabel("Plots appear here when training starts or a run is ticked.")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setProperty("role", "muted")
        self._plot_lay.addWidget(self._placeholder)
        self._plot_holder.setMinimumHeight(PLOTS_MIN_HEIGHT)
        self._plot_scroll = QScrollArea()  # a short dock scrolls the plots instead of squashing them
        self._plot_scroll.setWidget(self._plot_holder)
        self._plot_scroll.setWidgetResizable(True)
        self._plot_scroll.setFrameShape(QFrame.Shape.NoFrame)
        # (a panel narrower than one plot scrolls sideways rather than cutting the plots off)
        middle = QWidget()
        mid_lay = QVBoxLayout(middle)
        mid_lay.setContentsMargins(0, 0, 0, 0)
        mid_lay.setSpacing(0)
        mid_lay.addWidget(bar)
        mid_lay.addWidget(self._plot_scroll, 1)
        return middle

    def ensure_plots(self):
        """Build the plots (imports pyqtgraph) if not yet built; returns them."""
        if self.plots is None:
            from app.training_ui.plots import TrainingPlots

            self.plots = TrainingPlots()
            self.plots.columns_changed.connect(self._on_plot_columns)
            self.plots.set_smoothing(self.smoothing.value() / 100)
            self.plots.set_x_mode(self.x_axis.currentText().lower())
            self._placeholder.hide()
            self._plot_lay.addWidget(self.plots)
            self.panel._redraw()
        return self.plots

    def _on_plot_columns(self, _n: int) -> None:
        """More rows of plots in a narrow panel: the plot area scrolls rather than squashing them."""
        rows = self.plots.rows()
        self._plot_holder.setMinimumHeight(PLOTS_MIN_HEIGHT if rows <= 2 else 40 + rows * PLOT_ROW_HEIGHT)

    def _on_smoothing(self, value: int) -> None:
        self.smoothing_value.setText(f"{value / 100:.2f}")
        if self.plots is not None:
            self.plots.set_smoothing(value / 100)

    def _on_x_axis(self, text: str) -> None:
        if self.plots is not None:
            self.plots.set_x_mode(text.lower())

    def schedule_refresh(self) -> None:
        """Redraw the plots at most every PLOT_INTERVAL_MS: a redraw of six plots costs tens of ms
        in software rendering, the drain ticks come every 50 ms."""
        if not self._plot_timer.isActive():
            self._plot_timer.start()

    def _refresh_plots(self) -> None:
        """Refresh the next group of plots (PLOT_GROUPS); the timer comes back for the rest."""
        if self.plots is None:
            return
        group = self._plot_group
        self.plots.refresh(self.panel.store, self.panel._shown(), plots=PLOT_GROUPS[group])
        self._plot_group = (group + 1) % len(PLOT_GROUPS)
        self._plot_timer.setInterval(PLOT_STAGGER_MS if self._plot_group else PLOT_INTERVAL_MS)
        if self._plot_group:
            self._plot_timer.start()
