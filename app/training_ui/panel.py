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
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.training_ui import guard
from app.training_ui.columns import PanelColumns
from app.training_ui.controller import Job, TrainingController
from app.training_ui.download_bar import DownloadBar
from app.training_ui.fix_buttons import FixButtons
from app.training_ui.long_run import LongRunGuard
from app.training_ui.plot_area import PlotArea
from app.training_ui.run_list import RunList
from app.training_ui.run_overlays import RunOverlays
from app.training_ui.run_status import RunStatus
from app.training_ui.series import RunStore
from app.training_ui.settings_form import SettingsForm
from graph.errors import UserError
from training.config import TrainConfig

NARROW_BELOW = 1250  # px: below this the run list moves into a tab beside the settings
SIDE_MIN_WIDTH = 290  # px: the settings column (its fields shrink, the labels keep their width)
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
        self._experiment: list[Job] = []
        self._experiment_total = 0
        self.overlays = RunOverlays(self)  # the ticked runs in the store and on the plots
        self.run_status = RunStatus(self)  # the running job's progress bar and status line
        self.last_error = ""
        self._error_from_start = False  # the error refused a start (about the graph or data as it was)
        self.plot_area = PlotArea(self)  # the plot toolbar and the plots (built on first show)
        self._build_controls()
        scroll = self._build_settings()
        middle = self._build_plot_area()
        # the runs list: right, or when the panel is narrow a tab beside the settings
        self.run_list = RunList(color_for=self.overlays.color_for)
        self.run_list.setMinimumWidth(330)
        self.settings_scroll = scroll
        self.columns = PanelColumns(self, scroll, middle)  # side tabs (Settings, Sweep), plots, runs
        self.side, self.splitter, self.sweep = self.columns.side, self.columns.splitter, self.columns.sweep
        self.sweep_scroll = self.columns.sweep_scroll
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.splitter)
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
        self.long_run = LongRunGuard(self)  # the estimate and the question before a long run
        g = self.long_run
        self.estimate_label, self.confirm, self.confirm_text = g.estimate_label, g.confirm, g.confirm_text
        self.confirm_start, self.confirm_shorter, self.confirm_cancel = (
            g.confirm_start,
            g.confirm_shorter,
            g.confirm_cancel,
        )
        self.fixes = FixButtons(self)  # one-click fixes for a refused start
        self.fix_row = self.fixes.row
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
        area = self.plot_area
        self.smoothing, self.smoothing_value, self.x_axis = area.smoothing, area.smoothing_value, area.x_axis
        return area.widget

    def _wire(self, document) -> None:
        """Buttons, the training controller, the runs list, the form and the document to the panel."""
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.experiment_button.clicked.connect(self.start_experiment)
        self.controller.job_started.connect(self._on_job_started)
        self.controller.records.connect(self._on_records)
        self.controller.job_finished.connect(self._on_job_finished)
        self.controller.busy_changed.connect(self._on_busy)
        self.run_list.overlay_changed.connect(self.overlays.on_overlay)
        self.run_list.open_project_requested.connect(self.open_project_requested)
        self.run_list.current_changed.connect(self.overlays.on_current_run)
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

    # ----- estimate, confirmation and fixes (LongRunGuard, FixButtons) ------------------
    def _hide_confirm(self) -> None:
        self.long_run.hide_confirm()

    def current_estimate(self):
        """The rough duration of a run with the form's settings (guard.Estimate), or None."""
        return self.long_run.current_estimate()

    def _update_estimate(self) -> None:
        self.long_run.update_estimate()

    @property
    def fix_buttons(self) -> list[QPushButton]:
        return self.fixes.buttons

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        w = event.size().width()
        if not self.narrow and w < NARROW_BELOW:
            self.set_narrow(True)
        elif self.narrow and w > NARROW_BELOW + 80:
            self.set_narrow(False)

    @property
    def narrow(self) -> bool:
        return self.columns.narrow

    def set_narrow(self, narrow: bool) -> None:
        """Narrow (a dock between the palette and the inspector): the runs become a tab beside the
        settings. Wide: settings, plots and runs side by side."""
        self.columns.set_narrow(narrow, self.width())

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
        self.columns.reset_layout(self.width())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.plots is None:
            QTimer.singleShot(0, self.ensure_plots)

    @property
    def plots(self):
        """TrainingPlots, or None before the panel was first shown."""
        return self.plot_area.plots

    def ensure_plots(self):
        """Build the plots (imports pyqtgraph) if not yet built; returns them."""
        return self.plot_area.ensure_plots()

    def shutdown(self) -> None:
        """Ask a running child to stop and return at once (call when the window closes)."""
        if self.controller.busy:
            self.controller.shutdown()
        self.sweep.shutdown()  # a sweep on Ray stops at its next step and ends by itself

    def continue_in_background(self, wait_s: float = 30.0) -> Path | None:
        """The window closes but the run goes on: app/training_ui/background_resume.py."""
        from app.training_ui.background_resume import continue_in_background

        return continue_in_background(self, wait_s)

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
            self.long_run.ask(est)
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
            self.overlays.load_run(key)  # its curves so far; the resumed steps continue them
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
        run = self.store.add(job.key, job.label)
        run.state = "starting"
        self.run_list.set_checked(job.key, True)
        self.run_status.started(job)

    def _on_records(self, key: str, records: list) -> None:
        run = self.store.get(key)
        if run is None:
            return
        before = run.state
        run.ingest(records)
        self.download_bar.ingest(records)
        if run.state != before or any(r.get("kind") == "epoch" for r in records):
            self.overlays.refresh_list_soon()
        if run.error:
            self._show_error(run.error, _traceback(records))
        job = self.controller.current
        if job is not None and job.key == key:
            self.run_status.show_progress(job, run)
            if run.images_per_s and run.device and job.extra.get("macs"):
                guard.record_rate(run.device, run.images_per_s, job.extra["macs"])  # later estimates
        self.plot_area.schedule_refresh()

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
        self.overlays.last_list_refresh = time.monotonic()
        self.run_list.update_swatches()
        self.run_status.finished(job, state, message)
        if state == "error" and message != self.last_error:
            self._show_error(message)
        self._error_from_start = state == "error" and before_first_step
        if state == "stopped" and (job.run_dir / "last.pt").exists():
            self.status.setText(self.status.text() + " · Runs ▸ Resume continues it")
        if self.plots is not None:
            self.plots.refresh(self.store, self._shown())
        self._update_estimate()  # now at the measured speed

    # ----- errors -------------------------------------------------------------------
    def _show_error(self, message: str, traceback: str = "") -> None:
        self.last_error = message
        fixes = guard.fixes_for(message)
        self.error.setText(f"⚠ {guard.plain_reason(message) if fixes else message}")
        self.error.setToolTip(traceback[-4000:] if traceback else message)
        self.error.show()
        self.fixes.show_for(message)

    def _clear_error(self) -> None:
        self.last_error = ""
        self._error_from_start = False
        self.error.hide()
        self.error.setText("")
        self.fixes.show_for("")
        self.form.show_problem("")

    # ----- runs and overlays (RunOverlays) --------------------------------------------
    def _shown(self) -> list[str]:
        return self.overlays.shown()

    def _is_queued(self, key: str) -> bool:
        return self.overlays.is_queued(key)

    def _redraw(self) -> None:
        self.overlays.redraw()

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


def _traceback(records: list) -> str:
    for r in records:
        if r.get("kind") == "error" and r.get("traceback"):
            return str(r["traceback"])
    return ""
