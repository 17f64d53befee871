"""The Training tab: settings on the left, live plots in the middle, the runs folder on the right.

``TrainingPanel(document, runs_dir=None)`` is cheap to construct (no torch,
no pyqtgraph): the plots are built when the panel is first shown (or by
``ensure_plots()``), after the window is up. Training runs in a child process
(TrainingController); its records feed per-run series (RunStore) and the
plots redraw at most once per drain tick (20 Hz). A crash of the child shows
its message here; the editor keeps working and the run folder keeps
everything logged until then.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.panels.flow_layout import FlowLayout
from app.training_ui import guard
from app.training_ui.colors import run_color
from app.training_ui.controller import Job, TrainingController
from app.training_ui.download_bar import DownloadBar
from app.training_ui.run_list import RunList
from app.training_ui.series import RunStore
from app.training_ui.settings_form import SettingsForm
from graph.errors import UserError
from training.config import TrainConfig

PLOT_INTERVAL_MS = 250
# A redraw of all six plots at once (their data, ranges and the repaint) is the longest piece of work
# in the GUI thread while a run streams: the plots are refreshed in these groups, PLOT_STAGGER_MS
# apart, so each event-loop iteration repaints only half of them.
PLOT_GROUPS = (("loss", "acc", "lr"), ("throughput", "grad", "heatmap"))
PLOT_STAGGER_MS = 30
NARROW_BELOW = 1250  # px: below this the run list moves into a tab beside the settings
PLOTS_MIN_HEIGHT = 380  # px: two rows of plots and the legend; less scrolls
SIDE_MIN_WIDTH = 290  # px: the settings column (its fields shrink, the labels keep their width)
PLOT_ROW_HEIGHT = 180  # px: a row of plots, when they reflow into more rows in a narrow panel
SYNTHETIC_EPOCHS = 5  # the form's epochs for the synthetic dataset when the project asks for more


class TrainingPanel(QWidget):
    open_project_requested = Signal(str)  # a run's project.json, to open in the editor

    def __init__(
        self,
        document,
        runs_dir: str | Path | None = None,
        parent: QWidget | None = None,
        factory=None,
        settings=None,
    ) -> None:
        """``settings``: app.settings.Settings, where the Sweep tab keeps its backend and Ray address."""
        super().__init__(parent)
        self.document = document
        self.settings = settings
        self._runs_dir_fixed = Path(runs_dir) if runs_dir is not None else None
        self.store = RunStore()
        self.controller = TrainingController(factory=factory, parent=self)
        self.plots = None  # TrainingPlots, built on first show
        self._experiment: list[Job] = []
        self._experiment_total = 0
        self._last_list_refresh = 0.0
        self._started_at = 0.0
        self._first_step = None
        self.last_error = ""
        self._error_from_start = False  # the error refused a start (about the graph or data as it was)
        self._plot_timer = QTimer(self)
        self._plot_timer.setSingleShot(True)
        self._plot_timer.setInterval(PLOT_INTERVAL_MS)
        self._plot_timer.timeout.connect(self._refresh_plots)
        self._plot_group = 0
        self._build_controls()
        scroll = self._build_settings()
        middle = self._build_plot_area()
        self._build_side(scroll)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.side)
        split.addWidget(middle)
        split.addWidget(self.run_list)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 0)
        split.setSizes([300, 860, 440])
        split.setChildrenCollapsible(False)
        self.splitter = split
        self.narrow = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)
        self._wire(document)
        self._on_project_replaced()

    def _build_controls(self) -> None:
        """The settings form, Start, Stop, the degradation experiment, progress, status and error."""
        self.form = SettingsForm()
        self.start_button = QPushButton("Start training")
        self.start_button.setDefault(True)
        self.start_button.setToolTip("Train the open graph in a separate process")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        # the theme draws a disabled button like an enabled one (Start stayed accent blue while a run
        # was going): dim disabled buttons here, in either theme
        self.setStyleSheet(
            "QPushButton:disabled { background: transparent; color: rgba(128, 128, 128, 170); "
            "border: 1px solid rgba(128, 128, 128, 80); }"
        )
        self.stop_button.setToolTip("Stop after the current step; the run keeps its last checkpoint")
        self.experiment_button = QPushButton("Degradation experiment")
        self.experiment_button.setToolTip(
            "Train plain20, plain56, resnet20 and resnet56 one after another on the chosen dataset with "
            "these settings and overlay their curves (He et al. 2016, figure 6: the deeper plain net "
            "trains worse, the deeper ResNet better)"
        )
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.progress.setFixedHeight(16)
        self.status = QLabel("Ready")
        self.status.setProperty("role", "muted")
        self.status.setWordWrap(True)
        self.error = QLabel("")
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()

    def _build_settings(self) -> QScrollArea:
        """The left side: the settings scrolling above a footer that keeps Start, Stop, the estimate,
        progress and any error in view."""
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.start_button, 1)
        buttons.addWidget(self.stop_button)
        self.estimate_label = QLabel("")
        self.estimate_label.setProperty("role", "muted")
        self.estimate_label.setWordWrap(True)
        self._build_confirm()
        self._build_fixes()
        left = QWidget()
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(10, 8, 10, 8)
        left_lay.setSpacing(6)
        heading = QLabel("Training")
        heading.setProperty("role", "heading")
        left_lay.addWidget(heading)
        left_lay.addWidget(self.form)
        left_lay.addSpacing(4)
        left_lay.addWidget(self.experiment_button)
        left_lay.addStretch(1)
        # Start, Stop, the estimate, progress and any error stay in view below the scrolling settings
        self.footer = QFrame()
        self.footer.setObjectName("trainingFooter")
        foot = QVBoxLayout(self.footer)
        foot.setContentsMargins(10, 6, 10, 8)
        foot.setSpacing(5)
        # Start and Stop come last: the footer grows upwards as the status or an error wraps, and a
        # button that moved under the pointer missed its click (issue 25)
        foot.addWidget(self.estimate_label)
        foot.addWidget(self.confirm)
        foot.addWidget(self.progress)
        self.download_bar = DownloadBar()  # a dataset or ImageNet weights being fetched, with Cancel
        self.download_bar.cancel_requested.connect(self.stop)
        foot.addWidget(self.download_bar)
        foot.addWidget(self.status)
        foot.addWidget(self.error)
        foot.addWidget(self.fix_row)
        foot.addLayout(buttons)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for combo in (self.form.dataset, self.form.preset):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
        bar_w = scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        scroll.setMinimumWidth(max(SIDE_MIN_WIDTH, left.minimumSizeHint().width() + bar_w + 2))  # never clips
        scroll.setMaximumWidth(380)
        return scroll

    def _build_plot_area(self) -> QWidget:
        """The middle: the plot toolbar (smoothing, x axis) above the plots (built on first show)."""
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

    def _build_side(self, scroll: QScrollArea) -> None:
        """The runs list (right, or when the panel is narrow a tab beside the settings) and the side
        tabs: the settings page and the sweep."""
        self.run_list = RunList(color_for=self._color_for)
        self.run_list.setMinimumWidth(330)
        self.side = QTabWidget()
        self.side.setDocumentMode(True)
        self.side.setTabBarAutoHide(True)
        settings_page = QWidget()
        page_lay = QVBoxLayout(settings_page)
        page_lay.setContentsMargins(0, 0, 0, 0)
        page_lay.setSpacing(0)
        page_lay.addWidget(scroll, 1)
        page_lay.addWidget(self.footer)
        self.settings_scroll = scroll
        self.side.addTab(settings_page, "Settings")
        from app.training_ui.sweep_panel import SweepPanel

        self.sweep = SweepPanel(self)  # vary depth/width/shortcuts; a live Pareto scatter
        self.sweep.open_project_requested.connect(self.open_project_requested)
        sweep_scroll = QScrollArea()  # its chart appears when a sweep starts: it scrolls, never grows
        sweep_scroll.setWidget(self.sweep)
        sweep_scroll.setWidgetResizable(True)
        sweep_scroll.setFrameShape(QFrame.Shape.NoFrame)
        sweep_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.sweep_scroll = sweep_scroll
        self.side.addTab(sweep_scroll, "Sweep")

    def _wire(self, document) -> None:
        """Buttons, the training controller, the runs list, the form and the document to the panel."""
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.experiment_button.clicked.connect(self.start_experiment)
        self.controller.job_started.connect(self._on_job_started)
        self.controller.records.connect(self._on_records)
        self.controller.job_finished.connect(self._on_job_finished)
        self.controller.busy_changed.connect(self._on_busy)
        self.run_list.overlay_changed.connect(self._on_overlay)
        self.run_list.open_project_requested.connect(self.open_project_requested)
        self.run_list.current_changed.connect(self._on_current_run)
        self.run_list.evaluate_requested.connect(self._on_evaluate)
        self.run_list.resume_requested.connect(self.resume)
        self.form.changed.connect(self._update_estimate)
        if hasattr(document, "project_replaced"):
            document.project_replaced.connect(self._on_project_replaced)
        if hasattr(document, "analysis_changed"):
            document.analysis_changed.connect(self._on_analysis)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ----- set-up -------------------------------------------------------------
    @property
    def runs_dir(self) -> Path:
        if self._runs_dir_fixed is not None:
            return self._runs_dir_fixed
        path = getattr(self.document, "path", None)
        if path:
            return Path(path).resolve().parent / "runs"
        from app.files import unsaved_runs_dir

        return unsaved_runs_dir()  # never the folder Skipwire was started from (issue 25)

    def _on_project_replaced(self) -> None:
        self.form.set_project(self.document.project)  # offers ImageNet weights for torchvision's shapes
        try:
            cfg = TrainConfig.from_project(self.document.project.training)
            self.form.set_config(cfg)
        except UserError as exc:
            cfg = TrainConfig()
            self.form.set_config(cfg)
            self.form.show_problem(f"The project's training settings were not usable: {exc.message}")
        if cfg.dataset.partition(":")[0] == "synthetic" and cfg.epochs > SYNTHETIC_EPOCHS:
            # a template's epochs are the paper's (164 for CIFAR-10): far too many for a first look
            self.form.epochs.setValue(SYNTHETIC_EPOCHS)
            self.status.setText(
                f"Epochs set to {SYNTHETIC_EPOCHS} for the synthetic data (the project's {cfg.epochs} are "
                "meant for a real dataset)."
            )
        if self.run_list.runs_dir != self.runs_dir:
            self.run_list.set_runs_dir(self.runs_dir)
        self._hide_confirm()
        self._update_estimate()

    # ----- estimate and confirmation ------------------------------------------------
    def _build_confirm(self) -> None:
        self.confirm = QFrame()
        self.confirm.setObjectName("confirmLongRun")
        lay = QVBoxLayout(self.confirm)
        lay.setContentsMargins(0, 2, 0, 2)
        lay.setSpacing(4)
        self.confirm_text = QLabel("")
        self.confirm_text.setWordWrap(True)
        lay.addWidget(self.confirm_text)
        row = QHBoxLayout()
        row.setSpacing(4)
        self.confirm_start = QPushButton("Start anyway")
        self.confirm_shorter = QPushButton("")
        self.confirm_cancel = QPushButton("Cancel")
        self.confirm_start.clicked.connect(lambda: self.start(confirmed=True))
        self.confirm_shorter.clicked.connect(self._start_shorter)
        self.confirm_cancel.clicked.connect(self._hide_confirm)
        for b in (self.confirm_start, self.confirm_shorter, self.confirm_cancel):
            row.addWidget(b)
        lay.addLayout(row)
        self.confirm.hide()

    def _hide_confirm(self) -> None:
        if self.confirm.isVisible():
            self.confirm.hide()
            self._update_estimate()

    def current_estimate(self):
        """The rough duration of a run with the form's settings (guard.Estimate), or None."""
        analysis = getattr(self.document, "analysis", None)
        if analysis is None or not getattr(analysis, "valid", False):
            return None
        try:
            cfg = self.form.config()
        except UserError:
            return None
        inputs = self.document.project.graph.nodes_of_type("Input")
        shape = inputs[0].params.get("shape") if inputs else None
        return guard.estimate(analysis.macs, cfg.dataset, shape, cfg.epochs, cfg.device)

    def _update_estimate(self) -> None:
        est = self.current_estimate()
        if est is None:
            self.estimate_label.setText("")
            self.estimate_label.hide()
            return
        self.estimate_label.setText(
            f"About {guard.format_duration(est.seconds)} on {est.device} "
            f"({est.epochs} epoch{'s' if est.epochs != 1 else ''} of {est.images:,} images; "
            f"{'at the speed measured for ' + est.basis if est.measured else 'a rough estimate'})"
        )
        self.estimate_label.show()

    def _ask_long_run(self, est) -> None:
        shorter = est.epochs_within(guard.LONG_RUN_S)
        self.confirm_text.setText(
            f"<b>This run takes about {guard.format_duration(est.seconds)}</b> on {est.device} "
            f"({est.epochs} epochs of {est.images:,} images). Start it?"
        )
        self.confirm_shorter.setText(f"{shorter} epoch{'s' if shorter != 1 else ''} instead")
        self.confirm_shorter.setVisible(shorter < est.epochs)
        self.estimate_label.hide()  # the question says it
        self.confirm.show()
        self.confirm_start.setFocus()

    def _start_shorter(self) -> None:
        est = self.current_estimate()
        if est is not None:
            self.form.epochs.setValue(est.epochs_within(guard.LONG_RUN_S))
        self.start(confirmed=True)

    # ----- one-click fixes for a refused start -----------------------------------------------
    def _build_fixes(self) -> None:
        self.fix_row = QWidget()
        self._fix_lay = QHBoxLayout(self.fix_row)
        self._fix_lay.setContentsMargins(0, 0, 0, 0)
        self._fix_lay.setSpacing(4)
        self._fix_lay.addStretch(1)
        self.fix_buttons: list[QPushButton] = []
        self.fix_row.hide()

    def _show_fixes(self, message: str) -> None:
        for b in self.fix_buttons:
            b.deleteLater()
        self.fix_buttons = []
        for fix in guard.fixes_for(message):
            b = QPushButton(fix.label)
            b.setToolTip("Change the project so that it fits the dataset (one undo step), then press Start")
            b.clicked.connect(lambda _=False, f=fix: self._apply_fix(f))
            self._fix_lay.insertWidget(self._fix_lay.count() - 1, b)
            self.fix_buttons.append(b)
        self.fix_row.setVisible(bool(self.fix_buttons))

    def _apply_fix(self, fix) -> None:
        made = guard.fix_edit(self.document.project, fix)
        if made is None:
            return
        edit, label = made
        self.document.push(edit, label)
        self._clear_error()
        self.status.setText(f"{label}. Press Start to train.")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        w = event.size().width()
        if not self.narrow and w < NARROW_BELOW:
            self.set_narrow(True)
        elif self.narrow and w > NARROW_BELOW + 80:
            self.set_narrow(False)

    def set_narrow(self, narrow: bool) -> None:
        """Narrow (a dock between the palette and the inspector): the runs become a tab beside the
        settings. Wide: settings, plots and runs side by side."""
        if narrow == self.narrow:
            return
        self.narrow = narrow
        if narrow:
            self.side.insertTab(1, self.run_list, "Runs")  # after Settings, before Sweep
            self.side.setMaximumWidth(420)
        else:
            self.side.removeTab(self.side.indexOf(self.run_list))
            self.splitter.addWidget(self.run_list)
            self.run_list.show()
            self.side.setMaximumWidth(16777215)
            self.splitter.setSizes([300, max(400, self.width() - 740), 440])

    def reset_project_state(self) -> None:
        """Another project was opened or created: nothing of the last one stays on screen (its
        error, status, progress, estimate question, ticked curves, heatmap, sweep). A run still
        going keeps its curve, labelled with its project's name (issue 25)."""
        live = self.controller.current.key if self.controller.current else None
        self._clear_error()
        self._hide_confirm()
        if live is None:
            self.status.setText("Ready")
            self.progress.setValue(0)
            self.progress.setFormat("")
            self.download_bar.finish()
        for key in list(self.run_list.checked()):
            if key != live and not self._is_queued(key):
                self.run_list.set_checked(key, False)
        for key in list(self.store.runs):
            if key != live and not self._is_queued(key):
                self.store.remove(key)
        if self.plots is not None:
            self.plots.heatmap_key = live
        self.sweep.reset_project_state()
        self._redraw()
        if self.plots is not None and live is None:
            self.plots.reset_ranges()  # the axes of the last project's runs go too
        self._update_estimate()

    def set_theme(self, _name: str = "") -> None:
        """Plots and the sweep's chart in the current theme (issue 25: they stayed white)."""
        if self.plots is not None:
            self.plots.set_theme()
        self.sweep.set_theme()

    def reset_layout(self) -> None:
        """View ▸ Reset layout: the Settings page in front, the columns at their first widths."""
        self.side.setCurrentIndex(0)
        if self.narrow:
            self.splitter.setSizes([300, max(400, self.width() - 300)])
        else:
            self.splitter.setSizes([300, max(400, self.width() - 740), 440])

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.plots is None:
            QTimer.singleShot(0, self.ensure_plots)

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
            self._redraw()
        return self.plots

    def _on_plot_columns(self, _n: int) -> None:
        """More rows of plots in a narrow panel: the plot area scrolls rather than squashing them."""
        rows = self.plots.rows()
        self._plot_holder.setMinimumHeight(PLOTS_MIN_HEIGHT if rows <= 2 else 40 + rows * PLOT_ROW_HEIGHT)

    def shutdown(self) -> None:
        """Ask a running child to stop and return at once (call when the window closes)."""
        if self.controller.busy:
            self.controller.shutdown()
        self.sweep.shutdown()  # a sweep on Ray stops at its next step and ends by itself

    def continue_in_background(self, wait_s: float = 30.0) -> Path | None:
        """The window closes but the run goes on: stop the child at its next step (it saves a
        checkpoint there), then resume the run in a detached ``main.py train --resume RUNDIR``
        (bitwise the same run on the CPU; its output goes to RUNDIR/background.log). Queued
        experiment runs are dropped. Returns the run folder, or None where no checkpoint was saved
        (the run stopped before its first step)."""
        job = self.controller.current
        if job is None:
            return None
        run_dir = Path(job.run_dir)
        self.stop()
        deadline = time.monotonic() + wait_s
        while self.controller.busy and time.monotonic() < deadline:  # its records still arrive
            QApplication.processEvents()
            time.sleep(0.02)
        if self.controller.busy:  # it did not stop in time: end it, so two processes never share the run
            self.controller.kill()
        if not (run_dir / "last.pt").exists():
            return None
        import subprocess
        import sys

        main = Path(__file__).resolve().parents[2] / "main.py"
        with open(run_dir / "background.log", "ab") as log:
            subprocess.Popen(
                [sys.executable, str(main), "train", "--resume", str(run_dir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(main.parent),
                start_new_session=True,  # outlives the editor, and its Ctrl+C in a terminal
            )
        return run_dir

    # ----- start / stop -------------------------------------------------------
    def start(self, confirmed: bool = False) -> bool:
        """Train the open project with the form's settings; False (with the reason shown) if it cannot.
        A run estimated longer than guard.LONG_RUN_S asks first (inline) unless ``confirmed``."""
        self._hide_confirm()
        if self.controller.busy:
            return False
        try:
            cfg = self.form.config()
        except UserError as exc:
            self.form.show_problem(exc.message)
            return False
        analysis = getattr(self.document, "analysis", None)
        if analysis is not None and not analysis.valid:
            n = len(analysis.errors) if hasattr(analysis, "errors") else 0
            self._show_error(
                f"The graph has {n or 'some'} problem{'s' if n != 1 else ''}; fix them first "
                "(see the Problems panel)."
            )
            self._error_from_start = True
            return False
        est = self.current_estimate()
        if not confirmed and est is not None and est.seconds > guard.LONG_RUN_S:
            self._ask_long_run(est)
            return False
        project = self.document.project
        job = self._job(project.to_dict(), cfg, project.name, getattr(analysis, "macs", None))
        self._experiment, self._experiment_total = [], 0
        self.controller.start([job])
        return True

    def start_experiment(self) -> bool:
        """plain20, plain56, resnet20, resnet56 on the chosen dataset, one after another."""
        if self.controller.busy:
            return False
        try:
            cfg = self.form.config()
            from app.training_ui.experiment import build_projects

            projects = build_projects(cfg.dataset, self.document.project)
        except UserError as exc:
            self.form.show_problem(exc.message)
            return False
        except OSError as exc:
            self.form.show_problem(f"cannot read the dataset folder: {exc}")
            return False
        from graph.shapes import analyze

        jobs = [self._job(p.to_dict(), cfg, p.name, analyze(p).macs) for p in projects]
        for j in jobs:
            j.extra["continue_on_error"] = False
        self._experiment, self._experiment_total = jobs, len(jobs)
        self.controller.start(jobs)
        return True

    def stop(self) -> None:
        if self.controller.busy:
            self.status.setText("Stopping…")
            self.controller.stop()

    def resume(self, key: str) -> bool:
        """Runs ▸ Resume: continue a stopped run where it stopped, in its own folder, with its own
        settings (what ``main.py train --resume RUNDIR`` does); False where it cannot."""
        if self.controller.busy or not self.run_list.can_resume(key):
            return False
        info = self.run_list.infos[key]
        if self.store.get(key) is None:
            self._load_run(key)  # its curves so far; the resumed steps continue them
        job = Job(label=info.project_name or info.name, project={}, config={}, run_dir=Path(key))
        job.extra["resume"] = True
        self._experiment, self._experiment_total = [], 0
        self.controller.start([job])
        return True

    def _job(self, project: dict, cfg: TrainConfig, name: str, macs: int | None = None) -> Job:
        if self.run_list.runs_dir != self.runs_dir:  # the project was saved elsewhere since
            self.run_list.set_runs_dir(self.runs_dir)
        label = name or "run"
        job = Job(
            label=label, project=project, config=cfg.to_dict(), run_dir=new_run_dir(self.runs_dir, label)
        )
        if macs:
            job.extra["macs"] = int(macs)  # the run's images/s then calibrates later estimates
        if self.form.processes.count() > 1:  # the form offers a choice: "one process" is one too
            job.extra["processes"] = self.form.process_count()  # >1: torchrun (training/process.py)
        return job

    # ----- controller signals ----------------------------------------------------
    def _on_analysis(self, _analysis=None) -> None:
        """The graph changed: the estimate follows, and an error about the graph as it was (a start
        refused for a missing head) goes; a training run's own failure stays (issue 25)."""
        if self.last_error and self._error_from_start and not self.controller.busy:
            self._clear_error()
        self._update_estimate()

    def _on_busy(self, busy: bool) -> None:
        self.run_list.set_busy(busy)
        self.start_button.setEnabled(not busy)
        self.experiment_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.form.setEnabled(not busy)

    def _on_job_started(self, job: Job) -> None:
        if self.plots is not None:
            self.plots.heatmap_key = job.key  # the live run's gradients, not an earlier pick
        self._on_busy(True)
        self._clear_error()
        self._started_at = time.monotonic()
        self._first_step: tuple[float, int] | None = None
        run = self.store.add(job.key, job.label)
        run.state = "starting"
        self.run_list.set_checked(job.key, True)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.status.setText(self._prefix(job) + "Starting… (the training process is loading PyTorch)")

    def _on_records(self, key: str, records: list) -> None:
        run = self.store.get(key)
        if run is None:
            return
        before = run.state
        run.ingest(records)
        self.download_bar.ingest(records)
        if run.state != before or any(r.get("kind") == "epoch" for r in records):
            self._refresh_list_soon()
        if run.error:
            self._show_error(run.error, _traceback(records))
        job = self.controller.current
        if job is not None and job.key == key:
            self._show_progress(job, run)
            if run.images_per_s and run.device and job.extra.get("macs"):
                guard.record_rate(run.device, run.images_per_s, job.extra["macs"])  # later estimates
        self._schedule_plot_refresh()

    def _schedule_plot_refresh(self) -> None:
        """Redraw the plots at most every PLOT_INTERVAL_MS: a redraw of six plots costs tens of ms
        in software rendering, the drain ticks come every 50 ms."""
        if not self._plot_timer.isActive():
            self._plot_timer.start()

    def _refresh_plots(self) -> None:
        """Refresh the next group of plots (PLOT_GROUPS); the timer comes back for the rest."""
        if self.plots is None:
            return
        group = self._plot_group
        self.plots.refresh(self.store, self._shown(), plots=PLOT_GROUPS[group])
        self._plot_group = (group + 1) % len(PLOT_GROUPS)
        self._plot_timer.setInterval(PLOT_STAGGER_MS if self._plot_group else PLOT_INTERVAL_MS)
        if self._plot_group:
            self._plot_timer.start()

    def refresh_plots(self) -> None:
        """Bring every plot up to date now."""
        if self.plots is not None:
            self.plots.refresh(self.store, self._shown())

    def _on_job_finished(self, job: Job, state: str, message: str) -> None:
        self.download_bar.finish()
        self.form.refresh_datasets()  # a download may have filled the cache
        run = self.store.get(job.key)
        if run is not None and state != "error":
            run.state = state
        before_first_step = run is None or not any(c.count for c in run.curves().values())
        if run is not None and state == "error" and before_first_step:
            # failed before its first step (a bad dataset path, ...): nothing to plot or list
            self.run_list.set_checked(job.key, False)
            self.store.remove(job.key)
        self.run_list.refresh()
        self._last_list_refresh = time.monotonic()
        self.run_list.update_swatches()
        words = {"completed": "Finished", "stopped": "Stopped", "diverged": "Diverged", "error": "Failed"}
        text = f"{words.get(state, state.title())}: {message}" if message else words.get(state, state)
        if state == "error":
            text = "Failed to train; the editor and the runs folder are unaffected"
        self.status.setText(self._prefix(job) + text)
        if state == "completed":
            self.progress.setValue(1000)
        self.progress.setFormat(
            {
                "completed": "Done",
                "stopped": "Stopped at %p%",
                "diverged": "Diverged at %p%",
                "error": "Failed",
            }.get(state, "%p%")
        )
        if state == "error" and message != self.last_error:
            self._show_error(message)
        self._error_from_start = state == "error" and before_first_step
        if state == "stopped" and (job.run_dir / "last.pt").exists():
            self.status.setText(self.status.text() + " · Runs ▸ Resume continues it")
        if self.plots is not None:
            self.plots.refresh(self.store, self._shown())
        self._update_estimate()  # now at the measured speed

    def _prefix(self, job: Job) -> str:
        if self._experiment_total and job in self._experiment:
            return f"Run {self._experiment.index(job) + 1}/{self._experiment_total} · {job.label} — "
        return f"{job.label} — "

    def _show_progress(self, job: Job, run) -> None:
        if run.state == "starting" or (not run.step and not run.total_steps):
            msg = run.message or "loading data"
            self.status.setText(self._prefix(job) + f"Starting… ({msg})")
            return
        parts = []
        if run.epochs:
            ep = min(int(run.epoch) + 1, run.epochs) if run.epoch % 1 or run.epoch == 0 else int(run.epoch)
            parts.append(f"epoch {ep}/{run.epochs}")
        if run.total_steps:
            frac = min(run.step / run.total_steps, 1.0)
            self.progress.setValue(int(frac * 1000))
            parts.append(f"step {run.step:,}/{run.total_steps:,}")
            eta = run.eta_s  # the engine's, as of the last epoch
            now = time.monotonic()
            if self._first_step is None and run.step:
                self._first_step = (now, run.step)
            elif (
                self._first_step is not None
                and run.step > self._first_step[1]
                and now > self._first_step[0] + 1
            ):
                t0, s0 = self._first_step  # the step rate since the first step (start-up excluded)
                eta = (run.total_steps - run.step) * (now - t0) / (run.step - s0)
            self.progress.setFormat(
                f"%p%  ·  ETA {format_eta(eta)}" if eta is not None and frac < 1 else "%p%"
            )
        if run.images_per_s:
            parts.append(f"{run.images_per_s:,.0f} img/s")
        if run.last_val_acc is not None:
            subset = f" ({run.last_val_images:,} images)" if run.last_val_images else ""
            parts.append(f"val acc {run.last_val_acc:.1%}{subset}")
        self.status.setText(self._prefix(job) + " · ".join(parts))

    # ----- errors -------------------------------------------------------------------
    def _show_error(self, message: str, traceback: str = "") -> None:
        self.last_error = message
        fixes = guard.fixes_for(message)
        self.error.setText(f"⚠ {guard.plain_reason(message) if fixes else message}")
        self.error.setToolTip(traceback[-4000:] if traceback else message)
        self.error.show()
        self._show_fixes(message)

    def _clear_error(self) -> None:
        self.last_error = ""
        self._error_from_start = False
        self.error.hide()
        self.error.setText("")
        self._show_fixes("")
        self.form.show_problem("")

    # ----- runs and overlays ------------------------------------------------------
    def _color_for(self, key: str):
        return run_color(self.store.color_index(key))

    def _shown(self) -> list[str]:
        keys = self.run_list.checked()
        return [k for k in keys if self.store.get(k) is not None]

    def _refresh_list_soon(self) -> None:
        if time.monotonic() - self._last_list_refresh > 1.5:
            self._last_list_refresh = time.monotonic()
            self.run_list.refresh()

    def _on_overlay(self, keys: list) -> None:
        live = self.controller.current.key if self.controller.current else None
        for key in keys:
            if self.store.get(key) is None and key != live:
                self._load_run(key)
        for key in list(self.store.runs):
            if key not in keys and key != live and not self._is_queued(key):
                self.store.remove(key)
        self._label_runs()
        self.run_list.update_swatches()
        self._redraw()

    def _is_queued(self, key: str) -> bool:
        return any(j.key == key for j in self.controller.pending)

    def _load_run(self, key: str) -> None:
        info = self.run_list.infos.get(key)
        if info is None:
            return
        run = self.store.add(key, info.project_name or info.name)
        try:
            run.ingest(info.metrics())
        except (OSError, UserError):
            pass
        if info.status not in ("running",) and not run.finished:
            run.state = info.status

    def _label_runs(self) -> None:
        """Legend names: the project name, with the folder's time stamp where two runs share one."""
        shown = self._shown()
        names: dict[str, int] = {}
        for key in shown:
            base = self.store.get(key).label.split(" (")[0]
            names[base] = names.get(base, 0) + 1
        for key in shown:
            run = self.store.get(key)
            base = run.label.split(" (")[0]
            stamp = _stamp(key)
            run.label = f"{base} ({stamp})" if names[base] > 1 and stamp else base

    def _on_current_run(self, key: str) -> None:
        if self.plots is not None and key:
            self.plots.heatmap_key = key
            self.plots.refresh(self.store, self._shown())

    def _redraw(self) -> None:
        if self.plots is not None:
            self._label_runs()
            self.plots.refresh(self.store, self._shown())
            self.plots._rebuild_legends(self.store)  # labels may have changed (time stamps)

    def _on_smoothing(self, value: int) -> None:
        self.smoothing_value.setText(f"{value / 100:.2f}")
        if self.plots is not None:
            self.plots.set_smoothing(value / 100)

    def _on_x_axis(self, text: str) -> None:
        if self.plots is not None:
            self.plots.set_x_mode(text.lower())

    def _on_evaluate(self, key: str) -> None:
        from app.training_ui.evaluation import show_evaluation

        show_evaluation(self, key)


def new_run_dir(runs_dir: Path, name: str) -> Path:
    """A fresh folder name under ``runs_dir``: <slug>-<date>-<time>[-n] (created by the child)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:40] or "run"
    base = f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = runs_dir / base, 1
    while path.exists() or _reserved(path):
        n += 1
        path = runs_dir / f"{base}-{n}"
    _RESERVED.add(str(path))
    return path


_RESERVED: set[str] = set()


def _reserved(path: Path) -> bool:
    return str(path) in _RESERVED


def _stamp(key: str) -> str:
    m = re.search(r"(\d{8})-(\d{2})(\d{2})(\d{2})(-\d+)?$", key)
    return f"{m.group(2)}:{m.group(3)}:{m.group(4)}{m.group(5) or ''}" if m else Path(key).name


def _traceback(records: list) -> str:
    for r in records:
        if r.get("kind") == "error" and r.get("traceback"):
            return str(r["traceback"])
    return ""


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
