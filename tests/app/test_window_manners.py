"""Smaller manners of the window: closing during a run asks (and can keep the run going in the
background), the welcome bar only on a first launch, Open Recent shows folders, the export dialog
remembers its folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from app.main_window import MainWindow, recent_label
from graph.templates import make
from tests.app.test_training_panel import FakeProcess, make_panel, tiny_project
from training.metrics import read_metrics, record


def _busy_window(make_window, monkeypatch):
    w = make_window(tiny_project())
    panel = w.training_panel
    panel.fake = FakeProcess([record("status", state="running", message="")], exit_after=False)
    panel.controller.factory = lambda *a: panel.fake
    assert panel.start(confirmed=True)
    assert panel.controller.busy
    return w, panel


def test_closing_during_a_run_asks_and_cancel_keeps_the_window(make_window, monkeypatch):
    w, panel = _busy_window(make_window, monkeypatch)
    asked = []
    monkeypatch.setattr(w, "ask_about_run", lambda label: asked.append(label) or "cancel")
    assert not w.close()
    assert asked == ["Tiny"] and w.isVisible() and panel.controller.busy
    assert not panel.fake.stopped
    monkeypatch.setattr(w, "ask_about_run", lambda label: "stop")
    assert w.close()
    assert panel.fake.stopped  # the window closed and took the run down with it


def test_the_question_has_three_answers(make_window, monkeypatch, qtbot):
    w, panel = _busy_window(make_window, monkeypatch)
    seen = {}

    def answer(text, tries=[0]):  # noqa: B006 - a retry counter across the timer's calls
        boxes = [b for b in QApplication.topLevelWidgets() if isinstance(b, QMessageBox) and b.isVisible()]
        if not boxes:
            tries[0] += 1
            if tries[0] < 100:
                QTimer.singleShot(50, lambda: answer(text))
            return
        box = boxes[0]
        seen["buttons"] = sorted(b.text() for b in box.buttons())
        seen["text"] = box.text()
        match = [b for b in box.buttons() if b.text() == text]
        (match[0] if match else box.buttons()[0]).click()

    for text, want in (
        ("Keep training in the background", "background"),
        ("Stop the run", "stop"),
        ("Cancel", "cancel"),
    ):
        QTimer.singleShot(50, lambda t=text: answer(t))
        assert w.ask_about_run("Tiny") == want
    assert seen["buttons"] == ["Cancel", "Keep training in the background", "Stop the run"]
    assert "Tiny" in seen["text"]
    panel.controller.shutdown()


def test_keep_training_in_the_background_finishes_the_run_without_the_window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    panel = make_panel(qtbot, tmp_path)
    panel.form.epochs.setValue(2)
    panel.form.batch_size.setValue(100)
    panel.form.device.setCurrentText("cpu")
    assert panel.start(confirmed=True)
    key = panel.controller.current.key
    qtbot.waitUntil(
        lambda: panel.store.get(key) is not None and panel.store.get(key).step >= 3, timeout=60_000
    )
    run_dir = panel.continue_in_background()
    assert run_dir == Path(key)
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=10_000)  # the editor's child is done
    deadline = time.monotonic() + 120
    meta = {}
    while time.monotonic() < deadline:
        meta = json.loads((run_dir / "run.json").read_text())
        if meta.get("status") in ("completed", "failed", "diverged"):
            break
        time.sleep(0.5)
    assert meta.get("status") == "completed", (run_dir / "background.log").read_text()[-2000:]
    recs = read_metrics(run_dir / "metrics.jsonl")
    assert any(r.get("state") == "resumed" for r in recs)  # the same run, continued from its checkpoint
    assert [r["epoch"] for r in recs if r["kind"] == "epoch"][-1] == 2


def test_welcome_bar_only_on_a_first_launch(tmp_path, monkeypatch):
    from app import launch
    from app.settings import Settings

    settings_path = tmp_path / "settings.ini"
    monkeypatch.setattr(launch, "Settings", lambda *a: Settings(settings_path))
    monkeypatch.setenv("SKIPWIRE_TIMING", "exit")
    shown = []
    for _ in range(2):
        before = set(QApplication.topLevelWidgets())
        assert launch.run_editor(None) == 0
        w = next(x for x in QApplication.topLevelWidgets() if isinstance(x, MainWindow) and x not in before)
        shown.append(w.welcome.isVisible())
        w.files.recovery_dir = tmp_path  # leave nothing behind
        w.document.undo_stack.setClean()
        w.close()
    assert shown == [True, False]


def test_open_recent_tells_apart_files_of_the_same_name(make_window, settings, tmp_path):
    a, b = tmp_path / "one" / "net.skipwire", tmp_path / "two" / "net.skipwire"
    assert recent_label(str(a)) != recent_label(str(b))
    assert recent_label(str(a)).startswith("net.skipwire") and "one" in recent_label(str(a))
    assert recent_label(str(Path.home() / "p" / "net.skipwire")) == "net.skipwire  —  ~/p"
    settings.add_recent(str(a))
    settings.add_recent(str(b))
    w = make_window(make("resnet20"))
    texts = [x.text() for x in w.recent_menu.actions() if x.text() and not x.isSeparator()]
    assert recent_label(str(a)) in texts and recent_label(str(b)) in texts


def test_the_export_dialog_remembers_the_last_folder(make_window, tmp_path, monkeypatch):
    w = make_window(make("resnet20"))
    starts = []
    target = tmp_path / "exports" / "chosen.py"
    target.parent.mkdir()

    def fake_save(parent, title, start, filt):
        starts.append(start)
        return str(target.with_suffix(Path(start).suffix)), filt

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_save)
    assert w.files.export_code()
    assert w.files.export_code()
    assert not starts[0].startswith(str(target.parent))
    assert starts[1] == str(target.parent / "resnet-20.py")
    w2 = make_window(make("resnet20"))  # the next session too
    w2.files.export_image("svg")
    assert starts[2] == str(target.parent / "resnet-20.svg")
