"""The Sweep panel: costs before starting, the degradation preset, runs queued as ordinary runs,
the live Pareto scatter (click opens the run's graph), sweep.csv and pareto.png at the end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from app.document import Document
from app.training_ui import TrainingPanel
from graph.templates import make
from training import runs
from training.metrics import MetricsWriter, record
from training.sweep import parse_vary, plan


class FakeProcess:
    def __init__(self, records: list[dict]) -> None:
        self.records = list(records)

    def poll(self, max_items: int = 1000) -> list[dict]:
        out, self.records = self.records[:max_items], self.records[max_items:]
        return out

    def stop(self) -> None:
        self.records.append(record("status", state="stopped", message="stopped"))

    def is_alive(self) -> bool:
        return bool(self.records)


def make_panel(qtbot, tmp_path, factory=None, project=None) -> TrainingPanel:
    doc = Document(project or make("resnet20"))
    panel = TrainingPanel(doc, runs_dir=tmp_path / "runs", factory=factory)
    qtbot.addWidget(panel)
    panel.resize(1500, 700)
    panel.show()
    return panel


def test_the_sweep_tab_shows_every_configurations_cost_before_starting(qtbot, tmp_path) -> None:
    panel = make_panel(qtbot, tmp_path, factory=lambda *a: pytest.fail("must not start"))
    tabs = [panel.side.tabText(i) for i in range(panel.side.count())]
    assert "Sweep" in tabs
    sp = panel.sweep
    assert not sp.start_button.isEnabled()  # nothing varied yet
    assert "at least one setting" in sp.message.text()
    sp.fields["depth"].setText("1,2")
    sp.fields["width"].setText("1,2")
    assert sp.refresh_preview()
    expected = plan(make("resnet20"), parse_vary(["depth=1,2", "width=1,2"]))
    assert sp.table.rowCount() == 4
    assert [sp.table.item(i, 0).text() for i in range(4)] == [c.label for c in expected]
    assert [sp.table.item(i, 1).text() for i in range(4)] == [f"{c.params:,}" for c in expected]
    assert [sp.table.item(i, 2).text() for i in range(4)] == [f"{c.macs:,}" for c in expected]
    assert sp.start_button.isEnabled()
    assert "4 configurations, 4 runs" in sp.message.text()
    sp.repeats.setValue(3)
    sp.refresh_preview()
    assert "12 runs" in sp.message.text()
    sp.fields["depth"].setText("1,0")
    assert not sp.refresh_preview()
    assert "the depth must be at least 1" in sp.message.text()
    assert not sp.start_button.isEnabled() and sp.table.rowCount() == 0


def test_degradation_preset_is_plain_vs_residual_by_depth(qtbot, tmp_path) -> None:
    panel = make_panel(qtbot, tmp_path, factory=lambda *a: pytest.fail("must not start"))
    sp = panel.sweep
    sp.preset.setCurrentIndex(sp.preset.findData("degradation"))
    assert sp.fields["plain"].text() == "yes,no" and sp.fields["depth"].text() == "3,9"
    assert [c.project.name for c in sp.configs] == ["Plain-20", "Plain-56", "ResNet-20", "ResNet-56"]
    assert [sp.table.item(i, 1).text() for i in range(4)] == ["269,722", "853,018", "269,722", "853,018"]


def _fake_run(project: dict, config: dict, run_dir: str, acc: float) -> FakeProcess:
    """What a finished child leaves: an ordinary run folder with its accuracy."""
    run = Path(run_dir)
    runs.create_run(run, project, config, "# model\n", {"dataset": "synthetic"})
    w = MetricsWriter(run / "metrics.jsonl")
    w.write(
        record(
            "epoch",
            epoch=1,
            step=2,
            train_loss=1.0,
            train_acc=0.5,
            val_loss=1.0,
            val_acc=acc,
            lr=0.1,
            images_per_s=100.0,
            epoch_time_s=2.0,
            eta_s=0.0,
            gpu_mem_mb=None,
            best=True,
        )
    )
    w.close()
    runs.update_run_meta(run, status="completed", epochs_done=1, best_val_acc=acc, last_val_acc=acc)
    return FakeProcess(
        [
            record("status", state="running", message="", total_steps=2, steps_per_epoch=2, epochs=1),
            record("status", state="completed", message="finished"),
        ]
    )


def test_a_sweep_runs_as_ordinary_runs_and_fills_the_pareto_scatter(qtbot, tmp_path) -> None:
    started = []

    def factory(project, config, run_dir):
        started.append((project["name"], config["lr"], config["seed"], run_dir))
        return _fake_run(project, config, run_dir, acc=0.5 + 0.1 * len(started))

    panel = make_panel(qtbot, tmp_path, factory=factory)
    sp = panel.sweep
    sp.fields["depth"].setText("1,2")
    sp.fields["lr"].setText("0.05")
    assert sp.refresh_preview()
    assert sp.start()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=10_000)
    assert [s[0] for s in started] == ["ResNet-20 depth=1 lr=0.05", "ResNet-20 depth=2 lr=0.05"]
    assert {s[1] for s in started} == {0.05}
    out = sp.sweep_dir
    assert out.parent == tmp_path / "runs" and out.name.startswith("sweep-")
    assert [Path(s[3]).name for s in started] == ["01-depth-1-lr-0.05-r1", "02-depth-2-lr-0.05-r1"]
    spec = json.loads((out / "sweep.json").read_text())
    assert spec["format"] == "skipwire-sweep" and [r["dir"] for r in spec["runs"]] == [
        Path(s[3]).name for s in started
    ]
    # the live scatter: one point per finished run, the front, labels
    assert len(sp.points) == 2
    assert len(sp._scatter.points()) == 2
    assert sp.table.item(1, 3).text() == "70.0%"
    with qtbot.waitSignal(panel.open_project_requested, timeout=2000) as sig:
        sp._scatter.sigClicked.emit(sp._scatter, sp._scatter.points()[1:2], None)
    assert sig.args == [str(Path(started[1][3]) / "project.json")]
    # the table and the chart are written when the queue ends
    with open(out / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["config"] for r in rows] == ["depth=1 lr=0.05", "depth=2 lr=0.05"]
    assert [float(r["best_val_acc"]) for r in rows] == [0.6, 0.7]
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert "wrote sweep.csv and pareto.png" in sp.message.text()
    sp.x_axis.setCurrentText("MACs")
    xs = sorted(p.pos().x() for p in sp._scatter.points())
    assert xs == sorted(float(c.macs) for c in sp.configs)
