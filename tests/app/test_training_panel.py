"""The Training tab: a real short run in a child process, overlays, crashes, downsampling."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from real_window_support import tiny_project

from app.document import Document
from app.training_ui import TrainingPanel
from app.training_ui.series import Curve, RunSeries, smooth
from training import runs
from training.metrics import MetricsWriter, read_metrics, record

ROOT = Path(__file__).resolve().parents[2]


def step_records(n: int, start: int = 1, spe: int = 100) -> list[dict]:
    out = []
    for s in range(start, start + n):
        out.append(
            record(
                "step",
                step=s,
                epoch=s / spe,
                loss=2.3 * math.exp(-s / 300) + 0.1 * math.sin(s),
                lr=0.1,
                images_per_s=1000.0,
            )
        )
        if s % spe == 0:
            e = s // spe
            out.append(
                record(
                    "epoch",
                    epoch=e,
                    step=s,
                    train_loss=1.0 / e,
                    train_acc=1 - 0.5 / e,
                    val_loss=1.2 / e,
                    val_acc=1 - 0.6 / e,
                    lr=0.1,
                    images_per_s=1000.0,
                    epoch_time_s=1.0,
                    eta_s=5.0,
                    gpu_mem_mb=None,
                    best=True,
                )
            )
        if s % 25 == 0:
            out.append(
                record(
                    "grad",
                    step=s,
                    epoch=1,
                    layers=["conv.weight", "mid.weight", "fc.weight"],
                    norms=[0.5, 0.05, 0.005],
                )
            )
    return out


class FakeProcess:
    """Stands in for training.process.TrainingProcess: hands out scripted records, then 'exits'."""

    def __init__(self, records: list[dict], exit_after: bool = True, exitcode: int = -11) -> None:
        self.records = list(records)
        self.exit_after = exit_after
        self.exitcode = exitcode
        self.stopped = False

    def poll(self, max_items: int = 1000) -> list[dict]:
        out, self.records = self.records[:max_items], self.records[max_items:]
        return out

    def stop(self) -> None:
        self.stopped = True
        self.records.append(record("status", state="stopped", message="stopped by the user"))

    def is_alive(self) -> bool:
        return bool(self.records) or not (self.exit_after or self.stopped)


def make_panel(qtbot, tmp_path, factory=None, project=None) -> TrainingPanel:
    doc = Document(project or tiny_project())
    panel = TrainingPanel(doc, runs_dir=tmp_path / "runs", factory=factory)
    qtbot.addWidget(panel)
    panel.resize(1500, 460)
    panel.show()
    panel.ensure_plots()
    return panel


def fake_run_folder(runs_dir: Path, name: str, n_steps: int, final_acc: float) -> Path:
    run = runs_dir / name
    runs.create_run(
        run,
        tiny_project(name.split("-")[0].title()).to_dict(),
        {"dataset": "synthetic", "epochs": 2},
        "# model\n",
        {"dataset": "synthetic"},
    )
    w = MetricsWriter(run / "metrics.jsonl")
    for rec in step_records(n_steps):
        w.write(rec)
    w.write(record("status", state="completed", message="done"))
    w.close()
    runs.update_run_meta(run, status="completed", epochs_done=2, best_val_acc=final_acc)
    return run


# --------------------------------------------------------------------------- start-up cost
def test_constructing_the_panel_imports_neither_torch_nor_pyqtgraph():
    code = (
        "import sys; from PySide6.QtWidgets import QApplication; app = QApplication([]);"
        "from app.document import Document; from app.training_ui import TrainingPanel;"
        "p = TrainingPanel(Document(), runs_dir='/nonexistent-runs');"
        "print('torch' in sys.modules, 'pyqtgraph' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["False", "False"]


# --------------------------------------------------------------------------- a real child process
def test_real_run_streams_points_stops_and_is_listed(qtbot, tmp_path, monkeypatch):
    # one intra-op thread in the child: on a shared 2-core machine torch's default threads thrash
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    panel = make_panel(qtbot, tmp_path)
    # far more epochs than the test waits for (it stops after 0.1% of the run), on any machine
    panel.form.epochs.setValue(100)
    panel.form.batch_size.setValue(64)
    panel.form.device.setCurrentText("cpu")
    assert panel.start()
    assert "Starting" in panel.status.text()
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    key = panel.controller.current.key

    def has_points():
        item = panel.plots.curve(key, "loss")
        assert item is not None and len(item.xData) >= 5

    qtbot.waitUntil(has_points, timeout=60_000)
    xs, ys = panel.plots.curve(key, "loss").getData()
    assert list(xs[:3]) == [1.0, 2.0, 3.0] and all(y > 0 for y in ys)
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=60_000)
    assert "step" in panel.status.text()

    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=30_000)
    assert panel.error.isHidden(), panel.last_error
    assert "Stopped" in panel.status.text()
    assert panel.start_button.isEnabled()
    item = panel.run_list.item(key)
    assert item is not None and item.text(1) == "stopped"
    assert item.checkState(0) == Qt.CheckState.Checked
    assert (Path(key) / "metrics.jsonl").exists() and json.loads((Path(key) / "project.json").read_text())[
        "name"
    ] == "Tiny"
    # "Open" asks the editor to open the run's project file (the window opens it as a copy)
    panel.run_list.tree.setCurrentItem(item)
    with qtbot.waitSignal(panel.open_project_requested) as sig:
        panel.run_list.open_button.click()
    assert sig.args == [str(Path(key) / "project.json")]
    # Resume continues the stopped run in its own folder, with the real engine (issue 25)
    assert panel.run_list.resume_button.isEnabled()
    assert panel.run_list.context_menu(key).actions()[1].isEnabled()
    stopped_at = max(panel.plots.curve(key, "loss").getData()[0])
    panel.run_list.resume_button.click()
    assert panel.controller.busy and panel.controller.current.key == key
    assert not panel.run_list.resume_button.isEnabled()  # one run at a time
    qtbot.waitUntil(lambda: max(panel.plots.curve(key, "loss").getData()[0]) > stopped_at + 2, timeout=60_000)
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=30_000)
    assert panel.error.isHidden(), panel.last_error
    assert panel.run_list.keys().count(key) == 1  # the same run, not a new folder


# --------------------------------------------------------------------------- overlays
def test_two_runs_overlay_on_the_same_axes_in_different_colours(qtbot, tmp_path):
    a = fake_run_folder(tmp_path / "runs", "plain-20261127-010000", 300, 0.80)
    b = fake_run_folder(tmp_path / "runs", "resnet-20261127-020000", 200, 0.90)
    panel = make_panel(qtbot, tmp_path)
    assert set(panel.run_list.keys()) == {str(a), str(b)}
    assert panel.run_list.item(str(b)).text(3) == "90.0%"
    for run in (a, b):
        panel.run_list.item(str(run)).setCheckState(0, Qt.CheckState.Checked)
    ca, cb = panel.plots.curve(str(a), "loss_smooth"), panel.plots.curve(str(b), "loss_smooth")
    assert ca is not None and cb is not None
    assert ca in panel.plots.plots["loss"].items and cb in panel.plots.plots["loss"].items
    assert len(ca.xData) == 300 and len(cb.xData) == 200
    assert ca.opts["pen"].color().name() != cb.opts["pen"].color().name()
    # the same run keeps its colour in every plot
    assert panel.plots.curve(str(a), "val_acc").opts["pen"].color().name() == ca.opts["pen"].color().name()
    assert panel.plots.curve(str(a), "lr").opts["pen"].color().name() == ca.opts["pen"].color().name()
    legend = panel.plots.legend_labels()
    assert "Plain" in legend and "Resnet" in legend
    text = panel.plots.show_crosshair(150.0, "loss")
    assert "Plain: train" in text and "Resnet: train" in text and text.startswith("step 150")
    assert panel.plots.readout_item.isVisible() and "Resnet" in panel.plots.readout_item.toPlainText()
    panel.plots.hide_crosshair()
    assert not panel.plots.readout_item.isVisible()
    # unticking removes the curve, ticking again brings it back in the same colour
    color = ca.opts["pen"].color().name()
    panel.run_list.item(str(a)).setCheckState(0, Qt.CheckState.Unchecked)
    assert panel.plots.curve(str(a), "loss_smooth") is None
    panel.run_list.item(str(a)).setCheckState(0, Qt.CheckState.Checked)
    assert panel.plots.curve(str(a), "loss_smooth").opts["pen"].color().name() == color
    panel.x_axis.setCurrentText("Epochs")
    assert max(panel.plots.curve(str(a), "loss").xData) == pytest.approx(3.0)


# --------------------------------------------------------------------------- crashes
def test_a_child_that_dies_shows_an_error_and_the_panel_stays_usable(qtbot, tmp_path):
    procs = []

    def factory(project, config, run_dir):
        recs = [record("status", state="starting", message="starting")] + step_records(40)
        procs.append(FakeProcess(recs, exitcode=-9))
        return procs[-1]

    panel = make_panel(qtbot, tmp_path, factory=factory)
    assert panel.start()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)
    assert panel.error.isVisible()
    assert "exited unexpectedly" in panel.last_error and "-9" in panel.last_error
    assert "Failed" in panel.status.text()
    key = next(iter(panel.store.runs))
    assert len(panel.plots.curve(key, "loss").xData) == 40  # what arrived before the crash is kept
    assert panel.start_button.isEnabled() and panel.form.isEnabled()
    assert panel.start()  # and a new run can start
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)
    assert len(procs) == 2


def test_an_error_record_from_the_child_is_shown_with_its_message(qtbot, tmp_path):
    msg = "dataset mnist:/nowhere: folder /nowhere does not exist"

    def factory(project, config, run_dir):
        return FakeProcess(
            [
                record("status", state="starting", message="loading"),
                record("error", message=msg, traceback="Traceback ...\nUserError"),
            ]
        )

    panel = make_panel(qtbot, tmp_path, factory=factory)
    panel.start()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)
    assert panel.last_error == msg and msg in panel.error.text()
    assert "Traceback" in panel.error.toolTip()


def test_a_factory_that_raises_is_reported_not_raised(qtbot, tmp_path):
    def factory(project, config, run_dir):
        raise OSError("too many open files")

    panel = make_panel(qtbot, tmp_path, factory=factory)
    panel.start()
    assert not panel.controller.busy
    assert "too many open files" in panel.last_error


def test_form_problems_are_shown_before_anything_starts(qtbot, tmp_path):
    panel = make_panel(qtbot, tmp_path, factory=lambda *a: pytest.fail("must not start"))
    panel.form.dataset.setCurrentIndex(panel.form.dataset.findData("mnist"))
    assert not panel.start()
    assert "MNIST folder" in panel.form.problem.text()


# --------------------------------------------------------------------------- degradation experiment
def test_degradation_experiment_queues_four_models_matched_to_the_dataset(qtbot, tmp_path):
    started = []

    def factory(project, config, run_dir):
        started.append((project["name"], config["dataset"], run_dir))
        return FakeProcess(
            [record("status", state="running", message="", total_steps=50, steps_per_epoch=50, epochs=1)]
            + step_records(50, spe=50)
            + [record("status", state="completed", message="finished")]
        )

    panel = make_panel(qtbot, tmp_path, factory=factory)
    assert panel.start_experiment()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=10_000)
    assert [s[0] for s in started] == ["Plain-20", "Plain-56", "ResNet-20", "ResNet-56"]
    assert len({s[2] for s in started}) == 4
    legend = panel.plots.legend_labels()
    assert legend[:4] == ["Plain-20", "Plain-56", "ResNet-20", "ResNet-56"]
    colors = {panel.plots.curve(str(s[2]), "loss_smooth").opts["pen"].color().name() for s in started}
    assert len(colors) == 4


def test_degradation_experiment_uses_the_dataset_shape_and_can_be_stopped(qtbot, tmp_path):
    seen = []

    def factory(project, config, run_dir):
        inp = next(n for n in project["graph"]["nodes"] if n["type"] == "Input")
        seen.append((project["name"], inp["params"]["shape"]))
        return FakeProcess([record("status", state="running", message="")], exit_after=False)

    panel = make_panel(qtbot, tmp_path, factory=factory)
    panel.form.dataset.setCurrentIndex(panel.form.dataset.findData("mnist"))
    panel.form.data_dir.setText(str(tmp_path))
    assert panel.start_experiment()
    assert seen == [("Plain-20", [1, 28, 28])]
    assert "Run 1/4" in panel.status.text()
    panel.stop()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)
    assert len(seen) == 1 and "Stopped" in panel.status.text()


# --------------------------------------------------------------------------- downsampling
def test_curves_stay_bounded_and_keep_their_extremes():
    c = Curve(max_points=2000)
    n = 100_000
    for i in range(n):
        c.append(float(i), math.sin(i / 50) + (5.0 if i == 77_777 else 0.0) - (5.0 if i == 33_333 else 0.0))
        assert len(c) <= 2002
    xs, ys = c.data()
    assert len(xs) <= 2002 and c.count == n
    assert max(ys) == pytest.approx(5.0 + math.sin(77_777 / 50)) and min(ys) == pytest.approx(
        -5.0 + math.sin(33_333 / 50)
    )
    assert xs == sorted(xs) and xs[0] == 0.0 and xs[-1] >= n - c.bucket
    sm = smooth(ys, 0.9, c.bucket)
    assert len(sm) == len(ys) and all(math.isfinite(v) for v in sm)


def test_a_long_live_run_draws_bounded_curves(qtbot, tmp_path):
    panel = make_panel(qtbot, tmp_path, factory=lambda *a: FakeProcess(step_records(20_000)))
    panel.controller.max_records = 5000
    panel.start()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=20_000)
    key = next(iter(panel.store.runs))
    run: RunSeries = panel.store.get(key)
    assert run.loss.count == 20_000
    for what in ("loss", "loss_smooth", "lr", "throughput"):
        assert len(panel.plots.curve(key, what).xData) <= 2002
    assert len(run.grads.columns) <= run.grads.max_columns


def test_live_plots_refresh_in_two_groups_and_both_catch_up(qtbot, tmp_path):
    """While a run streams, the plot timer refreshes half the plots per event-loop pass (one repaint of
    six plots at once was the longest stall of the GUI thread); the other half follows shortly."""
    from pyqtgraph import AxisItem

    from app.training_ui.plot_area import PLOT_GROUPS

    panel = make_panel(qtbot, tmp_path, factory=lambda *a: FakeProcess(step_records(300), exit_after=False))
    panel.plot_area._plot_timer.setInterval(60_000)  # no refresh from the timer before the test drives it
    panel.start()
    qtbot.waitUntil(lambda: panel.controller.drained >= 300, timeout=10_000)
    key = next(iter(panel.store.runs))
    area = panel.plot_area  # the plots' staggered refresh
    area._plot_timer.stop()
    area._plot_group = 0
    area._refresh_plots()  # the first group
    assert panel.plots.curve(key, "loss") is not None and panel.plots.curve(key, "throughput") is None
    assert area._plot_timer.isActive() and area._plot_timer.interval() < 100
    qtbot.waitUntil(lambda: panel.plots.curve(key, "throughput") is not None, timeout=2000)
    assert panel.plots.curve(key, "grad_first") is not None and panel.plots.heat.image is not None
    assert area._plot_group == 0 and not area._plot_timer.isActive()
    assert sorted(n for g in PLOT_GROUPS for n in g) == sorted(panel.plots.plots)
    # the axes (their grid spans the plot) are cached as pixmaps: a curve update repaints with a blit
    assert all(
        panel.plots.plots[n].getAxis(a).cacheMode() != AxisItem.CacheMode.NoCache
        for n in panel.plots.plots
        for a in ("left", "bottom")
    )
    panel.controller.stop()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=10_000)


# --------------------------------------------------------------------------- evaluation
def test_evaluation_dialog_shows_accuracy_per_class_and_confusion(qtbot):
    from app.training_ui.evaluation import EvaluationDialog

    result = {
        "run": "r",
        "checkpoint": "best",
        "dataset": "synthetic",
        "images": 10,
        "accuracy": 0.7,
        "loss": 0.9,
        "class_names": ["cat", "dog"],
        "per_class_accuracy": [0.8, 0.6],
        "confusion": [[4, 1], [2, 3]],
    }
    dlg = EvaluationDialog("runs/r", evaluate=lambda run_dir: result)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.result is not None, timeout=5000)
    assert "70.00%" in dlg.summary.text()
    assert dlg.table.item(1, 0).text() == "2" and dlg.table.item(0, 2).text() == "80.0%"
    assert dlg.table.horizontalHeaderItem(1).text() == "dog"

    def fail(run_dir):
        raise runs.UserError("runs/r has no 'best' checkpoint")

    bad = EvaluationDialog("runs/r", evaluate=fail)
    qtbot.addWidget(bad)
    qtbot.waitUntil(lambda: bool(bad.error), timeout=5000)
    assert "no 'best' checkpoint" in bad.summary.text()


def test_a_narrow_panel_moves_the_runs_into_a_tab_and_back(qtbot, tmp_path):
    fake_run_folder(tmp_path / "runs", "plain-20261127-010000", 50, 0.5)
    panel = make_panel(qtbot, tmp_path)
    assert not panel.narrow and panel.splitter.indexOf(panel.run_list) == 2
    panel.resize(900, 300)
    qtbot.waitUntil(lambda: panel.narrow, timeout=2000)
    assert panel.side.indexOf(panel.run_list) == 1 and panel.side.tabText(1) == "Runs"
    panel.resize(1600, 460)
    qtbot.waitUntil(lambda: not panel.narrow, timeout=2000)
    assert panel.splitter.indexOf(panel.run_list) == 2 and panel.side.count() == 2  # Settings, Sweep
    assert panel.run_list.keys()  # still listing


def test_experiment_counts_folder_classes_as_the_dataset_does(tmp_path):
    from app.training_ui.experiment import dataset_io

    for part in ("train", "val"):
        for cls in ("cat", "dog", "emu", ".cache"):
            (tmp_path / "tv" / part / cls).mkdir(parents=True)
    (tmp_path / "flat" / "a").mkdir(parents=True)
    (tmp_path / "flat" / "b").mkdir()
    (tmp_path / "flat" / "c").mkdir()
    assert dataset_io(f"folder:{tmp_path / 'tv'}") == ((3, 32, 32), 3)  # not 2 ("train", "val")
    assert dataset_io(f"folder:{tmp_path / 'flat'}") == ((3, 32, 32), 3)


# --------------------------------------------------------------------------- issue 19: Stop never blocks
def _call_returns(fn) -> None:
    """``fn`` (a GUI action) in the GUI thread, watched from a helper thread: if it has not returned
    within 20 s, dump every thread and fail there rather than hang the suite."""
    import faulthandler
    import sys
    import threading

    done = threading.Event()

    def watchdog() -> None:
        if not done.wait(20):
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
            os._exit(70)  # a frozen GUI thread cannot be failed any other way

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        fn()
    finally:
        done.set()


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return (
        Path(f"/proc/{pid}/stat").exists()
        and Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    )


@pytest.mark.timeout(120)
def test_stop_on_a_child_that_has_already_ended_returns_and_the_run_finishes(qtbot, tmp_path, monkeypatch):
    """The editor's freeze: the child ended (here: finished) before the window noticed, then Stop.
    The child is held before its final record, the window's timer is paused, the child is released
    and exits, and only then is Stop clicked, five times."""
    from training.child_link import HOLD_FINAL_ENV

    hold = tmp_path / "release"
    monkeypatch.setenv(HOLD_FINAL_ENV, str(hold))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    panel = make_panel(qtbot, tmp_path)
    panel.form.epochs.setValue(1)
    panel.form.device.setCurrentText("cpu")
    assert panel.start(confirmed=True)  # no long-run question
    qtbot.waitUntil(lambda: Path(str(hold) + ".reached").exists(), timeout=100_000)
    proc = panel.controller._proc
    panel.controller._timer.stop()  # the window has not seen the end yet
    hold.write_text("go")
    assert proc.join(60) == 0
    for _ in range(5):
        _call_returns(lambda: qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton))
    panel.controller._timer.start()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=30_000)
    assert "Finished" in panel.status.text(), panel.status.text()
    assert panel.start_button.isEnabled()


@pytest.mark.timeout(120)
def test_stop_then_close_returns_at_once_and_the_child_ends_by_itself(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    panel = make_panel(qtbot, tmp_path)
    panel.form.epochs.setValue(panel.form.epochs.maximum())
    panel.form.device.setCurrentText("cpu")
    assert panel.start(confirmed=True)  # no long-run question
    key = panel.controller.current.key
    qtbot.waitUntil(lambda: panel.plots.curve(key, "loss") is not None, timeout=100_000)
    pid = panel.controller._proc.pid
    _call_returns(lambda: qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton))
    _call_returns(panel.shutdown)  # the window closes right after Stop
    _call_returns(panel.shutdown)
    t0 = time.monotonic()
    while not _pid_gone(pid):
        assert time.monotonic() - t0 < 100, "the child kept running after Stop and close"
        time.sleep(0.05)
    states = [r.get("state") for r in read_metrics(Path(key) / "metrics.jsonl") if r["kind"] == "status"]
    assert "stopped" in states  # it stopped at a step, with its checkpoint
