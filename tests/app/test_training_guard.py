"""Training tab for a new user: Start and Stop always in view, small synthetic runs by default, the
estimate before a long run, a refused start's reason where one looks with its fix as a button, and
mid-epoch validation points."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.document import Document
from app.training_ui import TrainingPanel, guard
from app.training_ui.series import RunSeries
from graph.errors import UserError
from graph.templates import make
from tests.app.test_training_panel import FakeProcess, step_records, tiny_project
from training.datasets import check_fit
from training.metrics import record


@pytest.fixture(autouse=True)
def _built_in_rates():
    """Estimates from the built-in rates unless a test measures one (the store is per session)."""
    saved = dict(guard.MEASURED)
    guard.MEASURED.clear()
    yield
    guard.MEASURED.clear()
    guard.MEASURED.update(saved)


def panel_for(qtbot, tmp_path, project, factory=None, height=460):
    doc = Document(project)
    jobs = []

    def recording_factory(project, config, run_dir):
        jobs.append(config)
        return (factory or (lambda *a: FakeProcess(step_records(5))))(project, config, run_dir)

    panel = TrainingPanel(doc, runs_dir=tmp_path / "runs", factory=recording_factory)
    qtbot.addWidget(panel)
    panel.resize(1500, height)
    panel.show()
    qtbot.waitExposed(panel)
    return panel, jobs


def _in_view(panel, widget) -> bool:
    top_left = widget.mapTo(panel, widget.rect().topLeft())
    bottom_right = widget.mapTo(panel, widget.rect().bottomRight())
    return widget.isVisible() and panel.rect().contains(top_left) and panel.rect().contains(bottom_right)


def test_start_and_stop_stay_in_view_of_a_short_panel(qtbot, tmp_path):
    panel, _ = panel_for(qtbot, tmp_path, tiny_project(), height=260)
    assert not panel.settings_scroll.widget().isAncestorOf(panel.start_button)
    assert _in_view(panel, panel.start_button) and _in_view(panel, panel.stop_button)
    assert panel.settings_scroll.verticalScrollBar().maximum() > 0  # the settings scroll, the buttons don't


def test_a_template_on_synthetic_data_starts_with_few_epochs(qtbot, tmp_path):
    project = make("resnet56")
    assert project.training["epochs"] == 164
    panel, _ = panel_for(qtbot, tmp_path, project)
    assert panel.form.epochs.value() == 5
    assert "synthetic" in panel.status.text() and "164" in panel.status.text()
    assert panel.estimate_label.isVisible() and panel.estimate_label.text().startswith("About ")


def test_a_long_run_shows_its_estimate_and_asks_before_it_starts(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(guard, "has_gpu", lambda: False)
    panel, jobs = panel_for(qtbot, tmp_path, make("resnet56"))
    panel.form.epochs.setValue(164)
    est = panel.current_estimate()
    assert est.seconds > guard.LONG_RUN_S and est.device == "the CPU" and est.images == 5000
    assert panel.estimate_label.text().startswith("About ")
    assert guard.format_duration(est.seconds) in panel.estimate_label.text()
    panel.start_button.click()
    assert not jobs and not panel.controller.busy  # nothing started yet
    assert panel.confirm.isVisible() and _in_view(panel, panel.confirm_start)
    assert guard.format_duration(est.seconds) in panel.confirm_text.text()
    panel.confirm_cancel.click()
    assert not panel.confirm.isVisible() and not jobs
    panel.start_button.click()
    shorter = est.epochs_within(guard.LONG_RUN_S)
    assert panel.confirm_shorter.text() == f"{shorter} epochs instead" and shorter < 164
    panel.confirm_shorter.click()
    assert len(jobs) == 1 and jobs[0]["epochs"] == shorter
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)
    panel.form.epochs.setValue(164)
    panel.start_button.click()
    panel.confirm_start.click()
    assert len(jobs) == 2 and jobs[1]["epochs"] == 164
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)


def test_a_short_run_starts_at_once(qtbot, tmp_path):
    panel, jobs = panel_for(qtbot, tmp_path, tiny_project())
    assert panel.current_estimate().seconds < guard.LONG_RUN_S
    panel.start_button.click()
    assert len(jobs) == 1 and not panel.confirm.isVisible()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)


def _refusal(ds_shape, ds_classes, input_shape, classes) -> str:
    ds = SimpleNamespace(
        shape=ds_shape, num_classes=ds_classes, spec=SimpleNamespace(kind="mnist"), train_y=[0], val_y=[0]
    )
    with pytest.raises(UserError) as info:
        check_fit(ds, input_shape, classes)
    return info.value.message


@pytest.mark.parametrize(
    ("refusal", "button", "check"),
    [
        (
            ((1, 28, 28), 10, (3, 32, 32), 10),
            "Set input to 1x28x28",
            lambda p: p.graph.nodes_of_type("Input")[0].params["shape"] == [1, 28, 28],
        ),
        (
            ((3, 32, 32), 100, (3, 32, 32), 10),
            "Set classes to 100",
            lambda p: p.graph.node_by_name("fc").params["out_features"] == 100,
        ),
    ],
)
def test_a_refused_start_shows_the_reason_in_view_with_the_fix_as_a_button(
    qtbot, tmp_path, refusal, button, check
):
    message = _refusal(*refusal)  # the trainer's own words

    def factory(project, config, run_dir):
        return FakeProcess(
            [record("status", state="starting", message="loading"), record("error", message=message)]
        )

    panel, _ = panel_for(qtbot, tmp_path, make("resnet20"), factory=factory, height=300)
    panel.start_button.click()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)
    assert _in_view(panel, panel.error)
    assert "--input" not in panel.error.text() and "--classes" not in panel.error.text()  # no CLI advice
    assert "below" not in panel.status.text()
    assert [b.text() for b in panel.fix_buttons] == [button]
    assert _in_view(panel, panel.fix_buttons[0])
    panel.fix_buttons[0].click()
    assert check(panel.document.project)
    assert panel.document.undo_stack.undoText() == button.replace("input", "input shape")
    assert not panel.error.isVisible() and not panel.fix_row.isVisible()
    assert panel.document.analysis.valid


def test_mid_epoch_validation_points_reach_the_accuracy_curve_and_the_status(qtbot, tmp_path):
    run = RunSeries("k", "run")
    run.ingest([record("val", step=40, epoch=0.4, val_loss=1.1, val_acc=0.42, images=1000)])
    assert run.val_acc.count == 1 and run.last_val_acc == 0.42 and run.last_val_images == 1000

    def factory(project, config, run_dir):
        recs = [record("status", state="running", message="", total_steps=200, epochs=2, steps_per_epoch=100)]
        recs += step_records(40)
        recs.append(record("val", step=40, epoch=0.4, val_loss=1.1, val_acc=0.42, images=1000))
        return FakeProcess(recs, exit_after=False)

    panel, _ = panel_for(qtbot, tmp_path, tiny_project(), factory=factory)
    panel.ensure_plots()
    panel.start()
    qtbot.waitUntil(lambda: "val acc 42.0% (1,000 images)" in panel.status.text(), timeout=5000)
    key = next(iter(panel.store.runs))
    panel.refresh_plots()
    assert list(panel.plots.curve(key, "val_acc").xData) == [40]
    panel.stop()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)


@pytest.mark.parametrize("width", [1500, 900])
def test_the_gradient_legend_is_never_clipped(qtbot, tmp_path, width):
    panel, _ = panel_for(qtbot, tmp_path, tiny_project())
    panel.resize(width, 460)
    plots = panel.ensure_plots()
    leg, vb = plots.grad_legend, plots.plots["grad"].vb

    def inside():  # once the grid has reflowed for the width (issue 25: 2 or 1 plots a row)
        box, area = leg.sceneBoundingRect(), vb.sceneBoundingRect()
        assert area.contains(box), (width, box, area)

    qtbot.waitUntil(inside, timeout=5000)
    assert [label.text for _sample, label in leg.items] == ["first", "middle", "last"]


def test_a_finished_run_calibrates_the_next_estimate(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(guard, "has_gpu", lambda: False)

    def factory(project, config, run_dir):
        recs = [record("status", state="running", message="", device="cpu", total_steps=40, epochs=1)]
        recs += [dict(r, images_per_s=50.0) if r["kind"] == "step" else r for r in step_records(40)]
        recs.append(record("status", state="completed", message="done"))
        return FakeProcess(recs)

    panel, _ = panel_for(qtbot, tmp_path, make("resnet20"), factory=factory)
    before = panel.current_estimate()
    assert not before.measured and "rough estimate" in panel.estimate_label.text()
    panel.start(confirmed=True)
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=5000)
    after = panel.current_estimate()
    assert after.measured and "speed measured for this network" in panel.estimate_label.text()
    # 50 images/s: an epoch of 5,000 images takes 100 s, whatever the built-in rate said
    assert after.seconds == pytest.approx(after.epochs * 100.0)
    # another network, 5x the MACs: the measured rate of ResNet-20 does not stand for it (issue 25)
    big = guard.estimate(5 * panel.document.analysis.macs, "synthetic", [3, 32, 32], 1, "cpu")
    assert not big.measured
    near = guard.estimate(int(1.5 * panel.document.analysis.macs), "synthetic", [3, 32, 32], 1, "cpu")
    assert near.measured and near.basis == "a network of similar size"


def test_a_dataset_folder_is_counted_not_taken_for_the_whole_dataset(tmp_path):
    import gzip
    import struct

    mnist = tmp_path / "mnist"
    mnist.mkdir()
    with gzip.open(mnist / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\0\0\x08\x03" + struct.pack(">III", 3000, 28, 28))
    assert guard.train_images(f"mnist:{mnist}", [1, 28, 28]) == 2700  # 10% is split off for validation
    assert guard.train_images("mnist", [1, 28, 28]) == 54_000  # the cached full set
    images = tmp_path / "pets"
    for cls, n in (("cat", 7), ("dog", 5)):
        (images / cls).mkdir(parents=True)
        for i in range(n):
            (images / cls / f"{i}.png").write_bytes(b"")
    (images / "cat" / "notes.txt").write_text("not an image")
    assert guard.train_images(f"folder:{images}", [3, 32, 32]) == 11
    assert guard.train_images(f"mnist:{tmp_path / 'missing'}", [1, 28, 28]) is None
