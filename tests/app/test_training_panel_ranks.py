"""The Training tab with SKIPWIRE_TRAIN_PROCESSES=2 (issue 20): the same panel starts 2 gloo ranks
through torchrun on this CPU machine; rank 0's records draw the curves, Stop ends every rank with a
checkpoint, and the run is listed as stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from real_window_support import tiny_project

from app.document import Document
from app.training_ui import TrainingPanel

pytestmark = pytest.mark.timeout(300)


def make_panel(qtbot, tmp_path) -> TrainingPanel:
    p = tiny_project()
    panel = TrainingPanel(Document(p), runs_dir=tmp_path / "runs")
    qtbot.addWidget(panel)
    panel.resize(1500, 460)
    panel.show()
    panel.ensure_plots()
    return panel


def test_two_cpu_ranks_stream_into_the_plots_and_stop(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("SKIPWIRE_TRAIN_PROCESSES", "2")
    panel = make_panel(qtbot, tmp_path)
    panel.form.epochs.setValue(100)
    panel.form.batch_size.setValue(64)
    panel.form.device.setCurrentText("cpu")
    assert panel.form.processes.isVisibleTo(panel) and panel.form.processes.currentText() == (
        "2 CPU processes (SKIPWIRE_TRAIN_PROCESSES)"
    )
    assert panel.start()
    key = panel.controller.current.key

    def has_points():
        item = panel.plots.curve(key, "loss")
        assert item is not None and len(item.xData) >= 5

    qtbot.waitUntil(has_points, timeout=120_000)
    xs, _ = panel.plots.curve(key, "loss").getData()
    assert list(xs[:3]) == [1.0, 2.0, 3.0]  # one stream (rank 0's), not two interleaved
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=120_000)
    assert panel.error.isHidden(), panel.last_error
    assert "Stopped" in panel.status.text()
    item = panel.run_list.item(key)
    assert item is not None and item.text(1) == "stopped"
    assert json.loads((Path(key) / "run.json").read_text())["processes"] == 2
    assert (Path(key) / "last.safetensors").exists()


def test_the_choice_is_hidden_with_one_process_and_one_process_means_one(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv("SKIPWIRE_TRAIN_PROCESSES", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert make_panel(qtbot, tmp_path).form.processes.isHidden()
    monkeypatch.setenv("SKIPWIRE_TRAIN_PROCESSES", "2")
    panel = make_panel(qtbot, tmp_path)
    panel.form.processes.setCurrentIndex(0)
    assert panel.form.processes.currentText() == "one process" and panel.form.process_count() == 1
    job = panel._job({}, panel.form.config(), "x")
    assert job.extra["processes"] == 1  # explicit: the environment's 2 does not override the choice
