"""Issue 25: the GUI does what the CLI does (stop a sweep, open a run's graph as an unsaved copy;
resume is driven with the real engine in test_training_panel.py), the Sweep tab says what it will
train and reads well, and nothing of the last project stays after Open."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from app.app_style import chrome
from graph.projectfile import save_project
from graph.templates import make
from tests.app.conftest import FakeChild, write_fake_run
from training.metrics import record


def settle() -> None:
    for _ in range(6):
        QApplication.processEvents()


def training(window):
    window.bottom_tabs.setCurrentIndex(3)
    settle()
    return window.training_panel


def test_a_sweep_can_be_stopped_and_its_table_covers_what_finished(make_window, tmp_path, qtbot):
    started = []

    def factory(project, config, run_dir):
        started.append(run_dir)
        write_fake_run(project, config, run_dir, acc=0.6, status="completed")
        return FakeChild([record("status", state="running", message="", total_steps=2, epochs=1)], hold=True)

    w = make_window(make("resnet20"), str(tmp_path / "p" / "resnet20.json"))
    panel = training(w)
    panel.controller.factory = factory
    sp = panel.sweep
    assert not sp.stop_button.isEnabled()
    sp.fields["depth"].setText("1,2,3")
    assert sp.start()
    assert sp.stop_button.isEnabled() and not sp.start_button.isEnabled()
    qtbot.waitUntil(lambda: panel.controller.current is not None and panel.store.get(started[0]) is not None)
    sp.stop_button.click()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)
    assert len(started) == 1  # the queued configurations never started
    assert not sp.stop_button.isEnabled() and sp.start_button.isEnabled()
    assert (sp.sweep_dir / "sweep.csv").exists()
    assert "1 of 3 runs finished" in sp.message.text() or "of 3 runs" in sp.message.text()


def test_the_sweep_tab_says_what_each_run_trains_on(make_window, tmp_path):
    w = make_window(make("resnet20"), str(tmp_path / "resnet20.json"))
    panel = training(w)
    panel.form.epochs.setValue(3)
    text = panel.sweep.uses.text()
    assert "Synthetic" in text and "3 epochs" in text and "batch 128" in text
    panel.form.epochs.setValue(1)
    assert "1 epoch," in panel.sweep.uses.text()


def test_pareto_axes_read_as_numbers_before_and_after_results(make_window, tmp_path, fake_training, qtbot):
    from app.training_ui.sweep_panel import cost_ticks, percent_ticks

    assert cost_ticks([250_000.0, 500_000.0, 750_000.0], 250_000.0) == ["250k", "500k", "750k"]
    assert cost_ticks([1_200_000.0, 1_250_000.0], 50_000.0) == ["1.20M", "1.25M"]
    assert cost_ticks([0.0, 0.2, 0.4], 0.2) == ["0", "", ""]  # no fractions of a parameter
    assert percent_ticks([40.0, 45.0, 50.00000000000015], 5.0) == ["40", "45", "50"]
    assert percent_ticks([49.0, 49.5], 0.5) == ["49.0", "49.5"]
    w = make_window(make("resnet20"), str(tmp_path / "resnet20.json"))
    panel = training(w)
    panel.controller.factory = fake_training
    sp = panel.sweep
    sp.fields["depth"].setText("1,2")
    assert sp.start()
    lo, hi = sp.plot.getViewBox().viewRange()[0]
    params = [c.params for c in sp.configs]
    assert lo <= min(params) and hi >= max(params) and lo > 1  # the planned costs, not 0..1
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=10_000)
    bottom = sp.plot.getAxis("bottom")
    labels = bottom.tickStrings([float(p) for p in params], 1.0, 10_000.0)
    assert all(label.endswith("k") for label in labels), labels


def test_a_pareto_point_opens_the_runs_graph_as_an_unsaved_copy(make_window, tmp_path, fake_training, qtbot):
    path = tmp_path / "work" / "resnet20.json"
    path.parent.mkdir()
    save_project(make("resnet20"), path)
    w = make_window(make("resnet20"), str(path))
    panel = training(w)
    panel.controller.factory = fake_training
    panel.form.epochs.setValue(2)
    panel.form.lr.setValue(0.05)
    sp = panel.sweep
    sp.fields["depth"].setText("1,2")
    assert sp.start()
    qtbot.waitUntil(lambda: not panel.controller.busy and len(sp.points) == 2, timeout=10_000)
    old_sweep = sp.sweep_dir
    assert old_sweep.parent == path.parent / "runs"
    spot = next(p for p in sp._scatter.points() if "depth-2" in p.data())
    sp._scatter.sigClicked.emit(sp._scatter, [spot], None)
    settle()
    assert w.document.path is None  # an unsaved copy: never the run's own project.json
    assert "project.json" not in w.windowTitle() and w.document.project.name == "ResNet-20 depth=2"
    assert panel.form.epochs.value() == 2 and abs(panel.form.lr.value() - 0.05) < 1e-9  # the run's
    # a sweep from here goes to the unsaved projects' runs folder, named without "depth=2 depth=3"
    sp.fields["depth"].setText("3")
    assert sp.start()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=10_000)
    assert sp.sweep_dir.parent == tmp_path / "unsaved-runs"
    assert old_sweep not in sp.sweep_dir.parents
    assert fake_training.started[-1][0] == "ResNet-20 depth=3"
    from app.training_ui.sweep_panel import base_name

    assert base_name("ResNet-20 depth=2 width=2", {"depth"}) == "ResNet-20 width=2"


def test_opening_another_project_leaves_nothing_of_the_last_one(make_window, tmp_path, fake_training, qtbot):
    w = make_window(make("resnet20"), str(tmp_path / "a" / "resnet20.json"))
    panel = training(w)
    panel.controller.factory = fake_training
    sp = panel.sweep
    sp.fields["depth"].setText("1")
    assert sp.start()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=10_000)
    assert panel.store.runs and sp.points
    panel._show_error("could not download cifar10: connection refused")
    w.bottom_tabs.setCurrentIndex(4)
    settle()
    inspect = w.inspect_tab.built()
    inspect.profile_title.setText("Depth profile of ResNet-20: 71 layers")
    inspect.result = object()
    w.summary_panel.batch.setValue(7)
    assert {type(p).__name__ for p in w.project_state_panels()} == {
        "SummaryPanel",
        "TrainingPanel",
        "InspectPanel",
    }

    other = tmp_path / "b" / "mobile.json"
    other.parent.mkdir()
    p = make("resnet20")
    p.name = "Other"
    p.training["batch_size"] = 64
    save_project(p, other)
    assert w.files.load(str(other))
    settle()
    assert panel.error.isHidden() and panel.last_error == ""
    assert panel.status.text() == "Ready" or panel.status.text().startswith(
        "Epochs set to 5"
    )  # the new one's
    assert panel.progress.value() == 0
    assert panel.store.runs == {} and panel.run_list.checked() == []
    assert panel.plots.legend_labels() == [] and panel.plots.heatmap_key is None
    assert panel.plots.plots["loss"].vb.viewRange()[0][1] <= 1.05  # no axis spans the old runs' steps
    assert sp.points == [] and sp.sweep_dir is None
    assert inspect.result is None and inspect.profile_title.text() == "Depth profile"
    assert w.summary_panel.batch.value() == 64


def test_the_plots_follow_the_theme(make_window, tmp_path, fake_training, qtbot):
    w = make_window(make("resnet20"), str(tmp_path / "resnet20.json"))
    w.apply_theme("dark")
    panel = training(w)
    panel.ensure_plots()
    panel.sweep.ensure_plot()
    w.bottom_tabs.setCurrentIndex(4)
    settle()
    inspect = w.inspect_tab.built()
    for name in ("light", "dark"):
        w.apply_theme(name)
        base = QColor(chrome(name).base)
        assert panel.plots.view.backgroundBrush().color() == base, name
        assert panel.sweep.plot.backgroundBrush().color() == base, name
        assert inspect.std_plot.backgroundBrush().color() == base, name
        axis = panel.plots.plots["loss"].getAxis("left")
        assert axis.textPen().color() == QColor(chrome(name).muted), name


def test_start_and_stop_stay_put_when_the_status_wraps(make_window, tmp_path):
    w = make_window(make("resnet20"), str(tmp_path / "resnet20.json"))
    panel = training(w)
    where = panel.start_button.mapTo(w, panel.start_button.rect().topLeft())
    panel.status.setText("ResNet-20 — epoch 1/5 · step 10/200 · 600 img/s · " * 4)
    panel._show_error("the dataset has 100 classes but the project's output has 10; set it with --classes")
    settle()
    assert panel.start_button.mapTo(w, panel.start_button.rect().topLeft()) == where


def test_a_start_error_about_the_graph_goes_once_the_graph_changes(make_window, tmp_path, qtbot):
    def factory(project, config, run_dir):
        return FakeChild(
            [record("error", message="the output is 64x8x8; end the network with Flatten and Linear")]
        )

    w = make_window(make("resnet20"), str(tmp_path / "resnet20.json"))
    panel = training(w)
    panel.controller.factory = factory
    assert panel.start(confirmed=True)
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)
    assert "Flatten and Linear" in panel.error.text() and panel.error.isVisible()
    fc = w.document.project.graph.node_by_name("fc")
    from graph import edits as E

    w.document.push(E.SetParam(None, fc.id, "out_features", 12), "Set out_features")
    settle()
    assert panel.error.isHidden()


def test_stopped_runs_resume_from_the_runs_list_and_its_menu(make_window, tmp_path, fake_training, qtbot):
    w = make_window(make("resnet20"), str(tmp_path / "resnet20.json"))
    panel = training(w)
    panel.controller.factory = fake_training
    run = write_fake_run(
        make("resnet20").to_dict(), {"dataset": "synthetic"}, tmp_path / "runs" / "r-1", status="stopped"
    )
    (run / "last.safetensors").write_bytes(b"w")
    done = write_fake_run(make("resnet20").to_dict(), {"dataset": "synthetic"}, tmp_path / "runs" / "r-2")
    panel.run_list.refresh()
    rl = panel.run_list
    assert rl.can_resume(str(run)) and not rl.can_resume(str(done))
    menu = rl.context_menu(str(done))
    assert [a.text() for a in menu.actions() if a.text()][:3] == [
        "Open graph as a copy",
        "Resume",
        "Evaluate…",
    ]
    assert not menu.actions()[1].isEnabled()
    rl.tree.setCurrentItem(rl.item(str(run)))
    assert rl.resume_button.isEnabled()
    rl.context_menu(str(run)).actions()[1].trigger()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)
    assert fake_training.resumed == [str(run)] and fake_training.started == []
    assert Path(run).exists() and len(rl.keys()) == 2  # resumed in its own folder


def test_the_gradient_heatmap_follows_the_run_that_starts(make_window, tmp_path, fake_training, qtbot):
    """Issue 25: the heatmap kept an earlier pick ("Network: 3 layers") while ResNet-20 trained."""
    w = make_window(make("resnet20"), str(tmp_path / "resnet20.json"))
    panel = training(w)
    panel.controller.factory = fake_training
    panel.ensure_plots()
    old = write_fake_run(make("resnet20").to_dict(), {"dataset": "synthetic"}, tmp_path / "runs" / "old-1")
    panel.run_list.refresh()
    panel.run_list.set_checked(str(old), True)
    panel.run_list.tree.setCurrentItem(panel.run_list.item(str(old)))
    assert panel.plots.heatmap_key == str(old)
    assert panel.start(confirmed=True)
    live = fake_training.started[-1][2]
    assert panel.plots.heatmap_key == live
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)
