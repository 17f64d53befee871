"""Saving, opening, the unsaved-changes prompt, recent files and crash recovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from graph import edits as E
from graph.projectfile import load_project
from tests.app.conftest import small_project

ROOT = Path(__file__).resolve().parents[2]
Btn = QMessageBox.StandardButton


def _edit(window, stride=1):
    conv = window.document.project.graph.node_by_name("conv1")
    window.document.push(E.SetParam(None, conv.id, "stride", stride), "Set stride of conv1")


def test_save_close_reopen_same_graph(make_window, dialogs, tmp_path):
    w = make_window(small_project())
    _edit(w)
    path = tmp_path / "net.skipwire"
    dialogs.answer("save", (str(path), ""))
    assert w.files.save()  # no path yet: Save As
    assert path.exists() and not w.document.is_modified()
    assert not w.isWindowModified()
    saved = w.document.project.to_dict()
    assert w.close()
    w2 = make_window()
    assert w2.files.load(str(path))
    assert w2.document.project.to_dict() == saved
    assert w2.document.path == str(path)
    assert w2.settings.recent_files()[0] == str(path)
    assert w2.recent_menu.actions()[0].text().startswith("net.skipwire  —  ")  # the folder follows


def test_unsaved_changes_prompt(make_window, dialogs, tmp_path):
    w = make_window(small_project())
    assert w.close()  # nothing changed: no prompt
    w = make_window(small_project())
    _edit(w)
    assert w.isWindowModified()
    dialogs.answer("question", Btn.Cancel)
    assert not w.close()
    assert w.isVisible()
    dialogs.answer("question", Btn.Save)
    dialogs.answer("save", (str(tmp_path / "kept.skipwire"), ""))
    assert w.close()
    assert load_project(tmp_path / "kept.skipwire").graph.node_by_name("conv1").params["stride"] == 1
    w = make_window(small_project())
    _edit(w)
    dialogs.answer("question", Btn.Discard)
    assert w.files.new_from_template("resnet20")  # New also asks first
    assert w.document.project.name.startswith("ResNet")
    assert [k for k, _ in dialogs.calls].count("question") == 3


def test_bad_file_gives_a_clear_message(make_window, dialogs, tmp_path):
    w = make_window(small_project())
    bad = tmp_path / "bad.skipwire"
    bad.write_text("{not json", encoding="utf-8")
    dialogs.answer("critical", None)
    assert not w.files.load(str(bad))
    kind, text = dialogs.calls[-1]
    assert kind == "critical" and "bad.skipwire" in text
    assert w.document.project.name == "Small"  # nothing half-loaded


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_autosave_and_recovery_after_a_crash(make_window, dialogs, tmp_path):
    w = make_window(small_project())
    _edit(w)
    rec = w.files.autosave()
    assert rec is not None and rec.exists()
    expected = w.document.project.to_dict()
    # simulate a crash: the process that wrote the file is gone and never cleaned up
    dead = _dead_pid()
    crashed = rec.with_name(f"recovery-{dead}.json")
    rec.rename(crashed)
    meta = json.loads(rec.with_suffix(".meta.json").read_text())
    meta["pid"] = dead
    crashed.with_suffix(".meta.json").write_text(json.dumps(meta))
    rec.with_suffix(".meta.json").unlink()
    w.document.undo_stack.setClean()

    w2 = make_window()
    assert [p.name for p, _ in w2.files.orphaned_recoveries()] == [crashed.name]
    dialogs.answer("question", Btn.Yes)
    assert w2.files.offer_recovery()
    assert "did not close cleanly" in dialogs.calls[-1][1]
    assert w2.document.project.to_dict() == expected
    assert w2.files.is_modified() and "(recovered)" in w2.windowTitle()
    assert not crashed.exists()
    # a clean exit leaves no recovery file behind
    dialogs.answer("question", Btn.Discard)
    assert w2.close()
    assert not list((tmp_path / "recovery").glob("recovery-*.json"))


def test_autosave_is_debounced_after_changes(make_window, qtbot, monkeypatch):
    from app import files

    w = make_window(small_project())
    w.files._debounce.setInterval(50)
    _edit(w)
    qtbot.waitUntil(lambda: w.files.recovery_path.exists(), timeout=3000)
    w.document.undo_stack.undo()  # back to the saved state: the recovery file goes
    assert not w.files.recovery_path.exists()
    assert files.AUTOSAVE_INTERVAL_MS == 60_000


def _run(args, **kw):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kw,
    )


def test_open_with_screenshot_in_a_subprocess(tmp_path):
    from graph.projectfile import save_project
    from graph.templates import make

    proj = tmp_path / "r20.skipwire"
    save_project(make("resnet20"), proj)
    out = tmp_path / "out.png"
    r = _run(["open", str(proj), "--screenshot", str(out)])
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    bad = tmp_path / "bad.skipwire"
    bad.write_text("[]", encoding="utf-8")
    r = _run(["open", str(bad), "--screenshot", str(tmp_path / "x.png")])
    assert r.returncode == 2
    assert r.stderr.startswith("skipwire: ") and "Traceback" not in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_first_launch_opens_resnet20_and_torch_waits(tmp_path):
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "c"),
        XDG_DATA_HOME=str(tmp_path / "d"),
        SKIPWIRE_TIMING="exit",
    )
    r = subprocess.run(
        [sys.executable, str(ROOT / "main.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert "torch_loaded=False" in r.stderr  # the window shows before torch is imported
    out = tmp_path / "first.png"
    code = f"import sys; from app.main_window import run_editor; sys.exit(run_editor(None, {str(out)!r}))"
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 10_000


def test_exports_code_png_and_svg(make_window, tmp_path):
    from graph.templates import make

    w = make_window(make("resnet20"))
    assert w.files.export_code(str(tmp_path / "model.py"))
    assert "class BasicBlock" in (tmp_path / "model.py").read_text(encoding="utf-8")
    assert w.files.export_image("png", str(tmp_path / "graph.png"))
    assert (tmp_path / "graph.png").read_bytes()[:4] == b"\x89PNG"
    assert w.files.export_image("svg", str(tmp_path / "graph.svg"))
    assert "<svg" in (tmp_path / "graph.svg").read_text(encoding="utf-8")


def test_export_refused_while_invalid(make_window, dialogs, tmp_path):
    from tests.app.conftest import mismatch_project

    w = make_window(mismatch_project())
    dialogs.answer("critical", None)
    assert not w.files.export_code(str(tmp_path / "m.py"))
    assert "error" in dialogs.calls[-1][1] and not (tmp_path / "m.py").exists()


def test_template_gallery_lists_families(qtbot):
    from app.gallery import TemplateGallery
    from graph.templates import all_templates

    dlg = TemplateGallery(None, "resnet20")
    qtbot.addWidget(dlg)
    names = {
        dlg.tree.topLevelItem(i).child(j).text(0)
        for i in range(dlg.tree.topLevelItemCount())
        for j in range(dlg.tree.topLevelItem(i).childCount())
    }
    assert names == {t.name for t in all_templates()}
    assert dlg.selected_name() == "resnet20" and "269,722" in dlg.figures.text()
    dlg.select("resnet50")
    dlg.classes.setValue(100)
    assert dlg.selected_name() == "resnet50" and dlg.options() == {
        "classes": 100,
        "input_shape": None,
        "shortcut": None,
    }
    assert "25,557,032" in dlg.figures.text()
    # the structure from stem to head, each part with its output shape
    from app.gallery import structure_rows
    from graph.shapes import analyze
    from graph.templates import make

    p = make("resnet50")
    rows = structure_rows(p, analyze(p))
    assert rows[0] == ("stem", "conv1 · bn1 · relu · maxpool", "64x56x56")
    assert rows[1] == ("layer1", "3 × Bottleneck", "256x56x56") and rows[4][2] == "2048x7x7"
    assert rows[-1] == ("head", "avgpool · flatten · fc", "1000")
    assert "4 × Bottleneck" in dlg.figures.text()


@pytest.mark.parametrize("kind", ["code", "png", "svg"])
def test_failed_export_keeps_the_previous_file_and_leaves_no_temp(
    make_window, dialogs, tmp_path, monkeypatch, kind
):
    """The editor's exports go through graph.atomic: a failure after writing started (here: the
    rename) leaves the previous file byte for byte and no temporary file beside it."""
    from graph.templates import make

    w = make_window(make("resnet20"))
    target = tmp_path / ("model.py" if kind == "code" else f"graph.{kind}")
    target.write_bytes(b"previous contents")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("graph.atomic.os.replace", refuse)
    dialogs.answer("critical", None)
    ok = w.files.export_code(str(target)) if kind == "code" else w.files.export_image(kind, str(target))
    assert not ok
    assert "No space left on device" in dialogs.calls[-1][1] and str(target) in dialogs.calls[-1][1]
    assert target.read_bytes() == b"previous contents"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "recovery") == [target.name]
