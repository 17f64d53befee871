"""The Sweep panel (a tab beside the training settings): vary depth, width, shortcuts, plain and the
learning rate of the open graph, or pick the degradation preset; see every configuration's parameter
and MAC count before anything starts (shape inference, no torch); start the sweep as ordinary runs
queued on the Training tab's controller, or on a Ray cluster ("Run on"; the sweep's own process and
each trial's state in the table: app/training_ui/sweep_ray_runner.py); watch a live Pareto scatter
fill as runs finish, and click a point to open that run's graph.

The sweep folder is the command line's (training/sweep.py): ``runs/sweep-<time>/`` with sweep.json,
one run folder per configuration and repeat, and, when the queue ends, sweep.csv and pareto.png/.svg;
``python main.py sweep --resume DIR`` continues it from a terminal.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.training_ui.sweep_chart import (  # noqa: F401  (cost_ticks, percent_ticks: tests import them here)
    ParetoChart,
    cost_ticks,
    percent_ticks,
)
from graph.errors import UserError
from graph.model import Project

FIELDS = (
    ("depth", "Depth", "blocks per stage, e.g. 3,5,7,9"),
    ("width", "Width ×", "channel multiplier, e.g. 1,2"),
    ("shortcut", "Shortcut", "A,B"),
    ("plain", "Plain", "yes,no"),
    ("lr", "Learning rate", "e.g. 0.1,0.05"),
    ("cardinality", "Cardinality", "ResNeXt's groups, e.g. 8,16"),
    ("base_width", "Base width", "ResNeXt's width per group, e.g. 4,64"),
)
CUSTOM, DEGRADATION = "custom", "degradation"
PREVIEW_DELAY_MS = 150


class SweepPanel(QWidget):
    open_project_requested = Signal(str)  # a run's project.json

    def __init__(self, host, parent: QWidget | None = None) -> None:
        """``host``: the TrainingPanel (its document, settings form, controller and runs folder)."""
        super().__init__(parent)
        self.host = host
        self.configs: list = []
        self.sweep_dir: Path | None = None
        self.jobs: dict[str, tuple] = {}  # job key -> (Config, repeat)
        self.points: list[dict] = []  # finished runs: config, params, macs, acc, run

        form = self._build_form()
        self._build_table()
        from app.training_ui.sweep_ray_runner import RayBackend  # no Ray: the sweep's child imports it

        self.ray = RayBackend(self, getattr(host, "settings", None))
        self.ray.add_rows(form)  # "Run on" and the Ray address, below the axes
        self.ray.state_changed.connect(self._update_start)
        self.ray.trials_changed.connect(self._show_trial_states)
        self._ray_configs: list = []  # the configurations of the Ray sweep shown (the preview may change)
        self._build_controls()
        self.chart = ParetoChart(self, self._plot_holder)  # the live Pareto scatter, built on first use
        self._build_layout(form)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.refresh_preview)
        self.preset.currentIndexChanged.connect(self._on_preset)
        host.controller.job_finished.connect(self._on_job_finished)
        host.controller.queue_finished.connect(self._on_queue_finished)
        host.controller.busy_changed.connect(lambda busy: self._update_start())
        host.form.changed.connect(self._update_uses)
        self._update_uses()
        self._stale = False
        if hasattr(host.document, "changed"):  # the graph changed: its variants' costs too
            host.document.changed.connect(self._on_document_changed)
        self.refresh_preview()

    # ----- building the tab -----------------------------------------------------------
    def _build_form(self) -> QFormLayout:
        """The sweep's preset, its axes and repeats."""
        self.preset = QComboBox()
        self.preset.addItem("The open graph", CUSTOM)
        self.preset.addItem("Degradation: plain vs residual × 20/56 layers", DEGRADATION)
        self.preset.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset.setMinimumContentsLength(12)  # a narrow column elides the preset's long name
        self.preset.setToolTip(
            "The degradation experiment (He et al. 2016, fig. 6) as a sweep: resnet20 with plain yes/no × "
            "depth 3/9 blocks per stage (20 and 56 layers), matched to the dataset"
        )
        self.fields: dict[str, QLineEdit] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Sweep", self.preset)
        for key, label, hint in FIELDS:
            edit = QLineEdit()
            edit.setPlaceholderText(hint)
            edit.textChanged.connect(self._schedule_preview)
            self.fields[key] = edit
            form.addRow(label, edit)
        self.repeats = QSpinBox()
        self.repeats.setRange(1, 10)
        self.repeats.setToolTip("Runs per configuration (seeds seed, seed+1, ...): mean ± std in sweep.csv")
        self.repeats.valueChanged.connect(self._schedule_preview)
        form.addRow("Repeats", self.repeats)

        return form

    def _build_table(self) -> None:
        """One row per configuration: its costs, best accuracy and (on Ray) state."""
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Configuration", "Parameters", "MACs", "Best val acc", "State"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            self.table.horizontalHeader().setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(120)

    def _build_controls(self) -> None:
        """Start, Stop, the message, what every run trains on, and the chart's axis."""
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setProperty("role", "muted")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.start_button = QPushButton("Start sweep")
        self.start_button.setToolTip(
            "Train every configuration, one after another, with the Settings tab's settings"
        )
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop sweep")
        self.stop_button.setToolTip(
            "Stop the running configuration at its next step (it keeps a checkpoint) and drop the "
            "ones not started; sweep.csv and the chart cover what finished"
        )
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.uses = QLabel("")  # what every run trains on: the Settings tab's dataset and epochs
        self.uses.setWordWrap(True)
        self.uses.setProperty("role", "muted")
        self.x_axis = QComboBox()
        self.x_axis.addItems(["Parameters", "MACs"])
        self.x_axis.currentTextChanged.connect(lambda _t: self._redraw())
        self._plot_holder = QVBoxLayout()
        self._plot_holder.setContentsMargins(0, 0, 0, 0)

    def _build_layout(self, form: QFormLayout) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(6)
        heading = QLabel("Sweep")
        heading.setProperty("role", "heading")
        lay.addWidget(heading)
        lay.addLayout(form)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.uses)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 1)
        buttons.addWidget(self.stop_button)
        lay.addLayout(buttons)
        lay.addWidget(self.message)
        row = QHBoxLayout()
        row.addWidget(QLabel("Accuracy vs"))
        row.addWidget(self.x_axis)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addLayout(self._plot_holder, 2)

    # ----- configurations --------------------------------------------------------------
    def _on_preset(self) -> None:
        if self.preset.currentData() == DEGRADATION:
            from app.training_ui.experiment import DEGRADATION_AXES

            for key, edit in self.fields.items():
                edit.setText(",".join(dict(DEGRADATION_AXES).get(key, ())))
        self.refresh_preview()

    def _schedule_preview(self, *_args) -> None:
        self._timer.start()

    def _on_document_changed(self, *_args) -> None:
        if self.isVisible():
            self._schedule_preview()
        else:
            self._stale = True  # planned when the tab is shown

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self._schedule_preview()

    def axes(self):
        from training.sweep import parse_vary

        texts = []
        if self.preset.currentData() == DEGRADATION:  # plain first: the paper's order of the four nets
            order = ("plain", "depth", "width", "shortcut", "lr", "cardinality", "base_width")
        else:
            order = tuple(k for k, _l, _h in FIELDS)
        for key in order:
            text = self.fields[key].text().strip()
            if text:
                texts.append(f"{key}={text}")
        return parse_vary(texts)

    def base_project(self, dataset: str | None = None):
        if self.preset.currentData() == DEGRADATION:
            from app.training_ui.experiment import degradation_base

            if dataset is None:
                try:
                    dataset = self.host.form.config().dataset
                except UserError:
                    dataset = "synthetic"  # the form shows its own problem; the preview follows the project
            return degradation_base(str(dataset), self.host.document.project)
        return self.host.document.project

    def refresh_preview(self) -> bool:
        """Plan the sweep and show every configuration's cost; False (with the reason) if it cannot run."""
        from training.sweep import plan

        self._timer.stop()
        try:
            axes = self.axes()
            if not axes:
                raise UserError("Enter values for at least one setting (comma-separated)")
            batch = int(self.host.document.project.training.get("batch_size") or 128)
            self.configs = plan(self.base_project(), axes, batch)
            self._name_configs()
        except UserError as exc:
            self.configs = []
            self.table.setRowCount(0)
            self._say(exc.message, error=True)
            self._update_start()
            return False
        except OSError as exc:  # a dataset folder that cannot be read (the preset counts its classes)
            self.configs = []
            self._say(f"cannot read the dataset folder: {exc}", error=True)
            self._update_start()
            return False
        self.table.setRowCount(len(self.configs))
        for i, c in enumerate(self.configs):
            for col, text in enumerate((c.label, f"{c.params:,}", f"{c.macs:,}", "")):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, col, item)
        runs = len(self.configs) * self.repeats.value()
        self._say(
            f"{len(self.configs)} configuration{'s' if len(self.configs) != 1 else ''}, {runs} run"
            f"{'s' if runs != 1 else ''}; each an ordinary run in the sweep's folder"
        )
        self._update_start()
        return True

    def _name_configs(self) -> None:
        if self.preset.currentData() == DEGRADATION and all(
            set(c.values) == {"plain", "depth"} for c in self.configs
        ):
            from app.training_ui.experiment import preset_name

            for c in self.configs:
                c.project.name = preset_name(c.values)
        else:
            base = base_name(self.base_project().name, {k for c in self.configs for k in c.values})
            for c in self.configs:
                c.project.name = f"{base} {c.label}"

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setProperty("role", "error" if error else "muted")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.setText(text)

    def _update_start(self) -> None:
        busy = self.host.controller.busy and not self.ray.chosen()  # Ray leaves the controller free
        self.start_button.setEnabled(bool(self.configs) and not busy and not self.running())
        self.stop_button.setEnabled(self.running() and (self.ray.running() or self.host.controller.busy))

    def running(self) -> bool:
        """A job of this sweep is running or queued, or the sweep runs on Ray."""
        if self.ray.running():
            return True
        c = self.host.controller
        return any(j.key in self.jobs for j in ([c.current] if c.current else []) + c.pending)

    def _update_uses(self) -> None:
        """Say what every run of the sweep trains on (the Settings tab's dataset and epochs)."""
        form = self.host.form
        try:
            cfg = form.config()
        except UserError as exc:
            self.uses.setText(f"Settings tab: {exc.message}")
            return
        data = form.dataset.currentText().rstrip("…").strip()
        where = cfg.dataset.partition(":")[2]
        if where and not cfg.dataset.startswith("cache:"):
            data += f" ({where})"
        self.uses.setText(
            f"Each run: {data}, {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}, batch {cfg.batch_size}, "
            f"learning rate {cfg.lr:g} (the Settings tab)"
        )
        self.uses.setToolTip(self.uses.text())

    # ----- running -----------------------------------------------------------------------
    def start(self) -> bool:
        """Queue every configuration on the Training tab's controller; False (reason shown) if it cannot."""
        from app.training_ui.controller import Job
        from training.sweep import TRAIN_AXES, new_spec, train_value, write_spec

        if self.running() or (self.host.controller.busy and not self.ray.chosen()):
            return False
        try:
            cfg = self.host.form.config()
        except UserError as exc:
            self._say(exc.message, error=True)
            return False
        if self.preset.currentData() == DEGRADATION:  # the dataset decides the preset's input and classes
            self._timer.stop()
        if not self.refresh_preview():
            return False
        repeats = self.repeats.value()
        base = self.base_project(cfg.dataset)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out, n = self.host.runs_dir / f"sweep-{stamp}", 1
        while out.exists():
            n += 1
            out = self.host.runs_dir / f"sweep-{stamp}-{n}"
        spec_project = Project(base.name, base.graph, base.blocks, cfg.to_project_training(), base.ui)
        train = {"epochs": cfg.epochs, "dataset": cfg.dataset, "batch_size": cfg.batch_size, "lr": cfg.lr}
        train.update({"seed": cfg.seed, "device": cfg.device})
        try:
            out.mkdir(parents=True)
            write_spec(out, new_spec(spec_project, self.axes(), self.configs, repeats, train))
        except OSError as exc:
            self._say(f"cannot create the sweep folder {out}: {exc}", error=True)
            return False
        if self.ray.chosen():
            return self._start_on_ray(out, cfg.epochs)
        jobs = []
        self.jobs.clear()
        self.points.clear()
        for c in self.configs:
            overrides = {k: train_value(k, v) for k, v in c.values.items() if k in TRAIN_AXES}
            for r in range(repeats):
                job_cfg = cfg.with_overrides(seed=cfg.seed + r, **overrides)
                label = c.project.name + (f" #{r + 1}" if repeats > 1 else "")
                job = Job(
                    label=label,
                    project=c.project.to_dict(),
                    config=job_cfg.to_dict(),
                    run_dir=out / c.run_name(r),
                )
                job.extra["continue_on_error"] = True
                self.jobs[job.key] = (c, r)
                jobs.append(job)
        self.sweep_dir = out
        self.ensure_plot()
        self._redraw()
        self._say(f"Sweep of {len(jobs)} runs in {out}")
        self.host._experiment, self.host._experiment_total = jobs, len(jobs)  # "Run i/N · ..." status
        self.host.controller.start(jobs)
        return True

    def shutdown(self) -> None:
        """The window closes: a sweep on Ray stops at its next step and ends by itself."""
        self.ray.shutdown()

    def reset_project_state(self) -> None:
        """Another project: the last sweep's points, table and chart go (a sweep still running
        keeps going and fills its own folder)."""
        if self.running():
            return
        self.points.clear()
        self.jobs.clear()
        self.sweep_dir = None
        self._redraw()
        self._say("")
        self.refresh_preview()

    def stop(self) -> None:
        """Stop the sweep: the running configuration stops at its next step (with a checkpoint),
        the queued ones never start; the queue's end writes sweep.csv and the chart. On Ray: every
        trial stops at its next step; a second Stop kills the sweep."""
        if self.ray.running():
            self._say(self.ray.stop())
        elif self.running():
            self._say("Stopping the sweep…")
            self.host.stop()

    def _on_job_finished(self, job, state: str, message: str) -> None:
        entry = self.jobs.get(job.key)
        if entry is None:
            return
        self._add_point(*entry, Path(job.run_dir), self.configs)

    def _add_point(self, config, _repeat: int, run_dir: Path, configs: list) -> None:
        """A finished run on the chart, and its configuration's best accuracy in the table."""
        from training.sweep import run_result

        try:
            res = run_result(run_dir)
        except UserError:
            return  # failed before its run folder existed: nothing to plot
        acc = res.get("best_val_acc")
        if not isinstance(acc, (int, float)):
            return
        self.points.append(
            {
                "config": config.label + (f" #{_repeat + 1}" if self.repeats.value() > 1 else ""),
                "params": config.params,
                "macs": config.macs,
                "acc": float(acc),
                "run": run_dir,
            }
        )
        row = self.configs.index(config) if config in self.configs and configs is self.configs else -1
        if row >= 0:
            accs = [
                p["acc"] for p in self.points if p["params"] == config.params and p["macs"] == config.macs
            ]
            self.table.setItem(row, 3, QTableWidgetItem(f"{max(accs):.1%}"))
        self._redraw()

    def _on_queue_finished(self) -> None:
        if self.sweep_dir is None or not self.jobs:
            return
        out = self.sweep_dir
        rows = self._summarize(self.configs, write=True)
        if rows is not None:
            done = sum(r["runs_done"] for r in rows)
            self._say(f"{done} of {len(self.jobs)} runs finished; wrote sweep.csv and pareto.png in {out}")
        self._update_start()

    def _summarize(self, configs: list, write: bool) -> list[dict] | None:
        """sweep.csv's rows from the run folders (written with the charts if ``write``); None and
        the reason shown if that fails."""
        from training.sweep import read_spec, summarize, write_outputs

        out = self.sweep_dir
        try:
            spec = read_spec(out)
            runs = {(e["config"], e["repeat"]): out / e["dir"] for e in spec["runs"]}
            rows = summarize(configs, runs, int(spec["repeats"]))
            if write:
                write_outputs(out, rows, f"{spec['project'].get('name', '')}: sweep")
        except (UserError, OSError, ValueError) as exc:
            self._say(
                f"could not write the sweep's table and chart: {getattr(exc, 'message', exc)}", error=True
            )
            return None
        return rows

    # ----- on a Ray cluster (app/training_ui/sweep_ray_runner.py) ---------------------------
    def _start_on_ray(self, out: Path, epochs: int) -> bool:
        self.jobs.clear()
        self.points.clear()
        self.sweep_dir, self._ray_configs = out, self.configs
        problem = self.ray.start(out, self.configs, self.repeats.value(), epochs)
        if problem:
            self._say(problem, error=True)
            return False
        self.ensure_plot()
        self._redraw()
        self._say(self.ray.progress_text())
        return True

    def _show_trial_states(self) -> None:
        states = self.ray.states
        if states is None or self.configs is not self._ray_configs:
            return  # the table shows another plan now
        for row in range(self.table.rowCount()):
            item = QTableWidgetItem(states.text(row))
            item.setToolTip(states.tooltip(row))
            self.table.setItem(row, 4, item)
        if self.ray.running():
            self._say(self.ray.progress_text())

    def ray_trial_done(self, index: int, repeat: int) -> None:
        configs = self._ray_configs
        if self.sweep_dir is not None and 0 <= index < len(configs):
            c = configs[index]
            self._add_point(c, repeat, self.sweep_dir / c.run_name(repeat), configs)

    def ray_sweep_ended(self, code: int, message: str, error: bool) -> None:
        """The sweep's process ended: its runs on the chart, sweep.csv (written here only where the
        sweep could not: killed or crashed), and what happened."""
        out, configs = self.sweep_dir, self._ray_configs
        if out is None:
            return
        if code == 2:  # refused before training (no Ray, a bad address): nothing of it to keep
            from app.training_ui.sweep_ray_runner import discard_unused

            discard_unused(out)
            self._say(message, error=True)
            return
        repeats = self.ray.states.repeats if self.ray.states is not None else self.repeats.value()
        self.points.clear()
        for c in configs:
            for r in range(repeats):
                if (out / c.run_name(r) / "run.json").exists():
                    self._add_point(c, r, out / c.run_name(r), configs)
        rows = self._summarize(configs, write=code not in (0, 1) or not (out / "sweep.csv").exists())
        if rows is not None:
            done = sum(r["runs_done"] for r in rows)
            total = len(configs) * repeats
            where = " in its folder" if str(out) in message else f" in {out}"  # the message names it
            text = f"{done} of {total} runs finished; sweep.csv and pareto.png{where}. {message}"
            self._say(text.strip(), error)

    # ----- the live Pareto scatter (app/training_ui/sweep_chart.py) ----------------------------
    @property
    def plot(self):
        """The chart's PlotWidget, or None before the first sweep."""
        return self.chart.plot

    @property
    def _scatter(self):
        return self.chart._scatter

    def ensure_plot(self):
        return self.chart.ensure_plot()

    def _redraw(self) -> None:
        self.chart.redraw()

    def set_theme(self) -> None:
        """The chart in the current theme's colours (called again when the theme changes)."""
        self.chart.set_theme()


def base_name(name: str, axes: set[str]) -> str:
    """A project's name without the ``axis=value`` words of the axes swept again: a sweep from a
    run's graph names its runs "ResNet-20 depth=3", not "ResNet-20 depth=2 depth=3"."""
    words = [w for w in name.split() if w.partition("=")[0] not in axes or "=" not in w]
    return " ".join(words) or name
