"""The Sweep panel: costs before starting, the degradation preset, runs queued as ordinary runs,
the live Pareto scatter (click opens the run's graph), sweep.csv and pareto.png at the end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.document import Document
from app.training_ui import TrainingPanel
from graph.stage_edits import variant_edit
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
    panel.side.setCurrentWidget(panel.sweep_scroll)
    edit, _ = variant_edit(panel.document.project, width=2)  # the graph changes: the costs follow
    panel.document.push(edit, "wider")
    qtbot.waitUntil(lambda: sp.table.item(0, 1).text() != f"{expected[0].params:,}", timeout=3000)
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


# ------------------------------------------------------------- the stage's depth on the canvas and inspector
def test_the_stage_bands_depth_spin_box_is_one_undo_step(qtbot) -> None:
    from PySide6.QtCore import QPointF
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.canvas.area import CanvasArea

    doc = Document(make("resnet20"))
    area = CanvasArea(doc)
    qtbot.addWidget(area)
    area.resize(1200, 900)
    area.show()
    qtbot.waitExposed(area)
    view = area.current_view()
    view.set_zoom(1.0)
    scene = view.graph_scene()
    band = scene.stages["layer1"]
    stepper = band.stepper
    assert stepper.isVisible() and band.depth == 3
    r = stepper.boundingRect()
    plus = QPointF(r.right() - 6, r.center().y())
    view.centerOn(stepper.mapToScene(plus))
    QApplication.processEvents()
    at = view.mapFromScene(stepper.mapToScene(plus))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)
    g = doc.project.graph
    names = [g.nodes[i].name for i in next(s for s in g.stages if s.name == "layer1").nodes]
    assert names == ["layer1_0", "layer1_1", "layer1_2", "layer1_3"]
    assert doc.undo_stack.undoText() == "Set depth of layer1 to 4"
    qtbot.waitUntil(lambda: scene.stages["layer1"].depth == 4, timeout=2000)
    assert set(scene.nodes) == set(g.nodes)
    doc.undo_stack.undo()
    assert len(next(s for s in g.stages if s.name == "layer1").nodes) == 3
    assert set(scene.nodes) == set(g.nodes)
    assert stepper.target(r.left() + 3) == 2 and stepper.target(r.center().x()) is None


def test_the_inspector_shows_and_sets_the_stage_depth(qtbot) -> None:
    from app.panels.inspector import InspectorPanel

    doc = Document(make("resnet20"))
    insp = InspectorPanel(doc)
    qtbot.addWidget(insp)
    g = doc.project.graph
    doc.set_selection(None, [g.node_by_name("layer3_0").id], [])
    assert insp.stage_depth.value() == 3
    insp.stage_depth.setValue(9)
    assert len(next(s for s in g.stages if s.name == "layer3").nodes) == 9
    assert doc.undo_stack.count() == 1 and doc.undo_stack.undoText() == "Set depth of layer3 to 9"
    doc.set_selection(None, [g.node_by_name("layer3_0").id], [])
    assert insp.stage_depth.value() == 9
    doc.undo_stack.undo()
    assert len(next(s for s in g.stages if s.name == "layer3").nodes) == 3
    doc.set_selection(None, [g.node_by_name("conv1").id], [])  # not in a stage: no depth row
    insp.stage_depth = None
    doc.set_selection(None, [g.node_by_name("fc").id], [])
    assert insp.stage_depth is None
