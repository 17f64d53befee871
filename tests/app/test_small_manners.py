"""Issue 25's smaller items: stage labels never run into the next band's depth spin box when zoomed
out; "Choose the MNIST folder" (not "folder folder"); file dialogs of an unsaved project start in the
user's folders, not in the one Skipwire was started from; palette and Runs list names keep what
tells them apart."""

from __future__ import annotations

import os

from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QApplication, QFileDialog

from app.document import Document
from graph.model import BlockDef, Graph
from graph.templates import make
from tests.app.conftest import write_fake_run


def settle() -> None:
    for _ in range(5):
        QApplication.processEvents()


def test_stage_labels_never_run_into_the_next_bands_depth_box_when_zoomed_out(qtbot):
    from app.canvas.area import CanvasArea

    area = CanvasArea(Document(make("resnet20")))
    qtbot.addWidget(area)
    area.resize(1000, 800)
    area.show()
    qtbot.waitExposed(area)
    view = area.current_view()
    scene = view.graph_scene()

    def drawn() -> list[tuple[str, QRectF]]:
        out = []
        for name, band in scene.stages.items():
            label_parts = getattr(band.label, "parts", lambda b=band: [QRectF(b.label._x(), 0, 160, 34)])
            parts = [(band.label, r) for r in label_parts()]
            if getattr(band.stepper, "shown", band.stepper.isVisible)():
                parts.append((band.stepper, band.stepper.boundingRect()))
            for item, rect in parts:
                top_left = view.mapFromScene(item.scenePos())
                out.append((name, rect.translated(top_left.x(), top_left.y())))
        return out

    view.set_zoom(1.0)
    settle()
    assert any(
        getattr(b.stepper, "shown", b.stepper.isVisible)() for b in scene.stages.values()
    )  # at 100% every box is there
    for zoom in (0.6, 0.4, 0.3, 0.2, 0.12):
        view.set_zoom(zoom)
        settle()
        rects = drawn()
        for i, (a, ra) in enumerate(rects):
            for b, rb in rects[i + 1 :]:
                assert a == b or not ra.intersects(rb), f"at {zoom:.0%} {a}'s label or box overlaps {b}'s"


def test_the_folder_dialog_says_choose_the_mnist_folder(qtbot, monkeypatch):
    from app.training_ui.settings_form import SettingsForm

    form = SettingsForm()
    qtbot.addWidget(form)
    titles = []
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", lambda _p, title, *_a: titles.append(title) or ""
    )
    for key in ("mnist", "folder"):
        form.dataset.setCurrentIndex(form.dataset.findData(key))
        form._on_browse()
    assert titles == ["Choose the MNIST folder", "Choose the Image folder"]


def test_file_dialogs_of_an_unsaved_project_start_in_the_users_folders(
    make_window, dialogs, tmp_path, monkeypatch
):
    from app import files

    monkeypatch.chdir(tmp_path)  # as if started from a source checkout
    docs = tmp_path / "Documents"
    docs.mkdir()
    monkeypatch.setattr(files.QStandardPaths, "writableLocation", lambda _where: str(docs))
    w = make_window(make("resnet20"))
    starts = []
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda _p, _t, start, *_a, **_k: starts.append(start) or ("", "")
    )
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda _p, _t, start, *_a, **_k: starts.append(start) or ("", "")
    )
    w.files.save_as()
    w.files.export_code()
    w.files.open()
    assert [os.path.dirname(s) if s.endswith((".skipwire", ".py")) else s for s in starts] == [str(docs)] * 3
    assert files.unsaved_runs_dir.__name__ == "<lambda>"  # the fixture keeps runs out of ~/Documents
    assert str(files.QStandardPaths.writableLocation(None)) == str(docs)


def test_palette_names_keep_their_distinguishing_end(qtbot):
    from app.panels.palette import PalettePanel

    p = make("resnet20")
    for i in ("", "2", "3", "4", "5"):
        p.blocks[f"InvertedResidualWithSE{i}"] = BlockDef(f"InvertedResidualWithSE{i}", {}, Graph(), "")
    pal = PalettePanel(Document(p))
    qtbot.addWidget(pal)
    pal.resize(170, 600)
    pal.show()
    qtbot.waitExposed(pal)
    tree = pal.tree
    group = pal._blocks_group
    shown = []
    for i in range(group.childCount()):
        item = group.child(i)
        if item.text(0).startswith("InvertedResidualWithSE"):
            rect = tree.visualItemRect(item)
            width = rect.width() - tree.iconSize().width() - 12
            shown.append(tree.fontMetrics().elidedText(item.text(0), tree.textElideMode(), width))
    assert any("…" in text for text in shown)  # the dock is too narrow for the whole names
    assert len(shown) == 5 and len(set(shown)) == 5, shown


def test_the_runs_list_shows_whole_run_names(qtbot, tmp_path):
    from app.training_ui.run_list import RunList

    name = "ResNet-20 depth=3 width=2 shortcut=B lr=0.05"
    p = make("resnet20")
    p.name = name
    write_fake_run(p.to_dict(), {"dataset": "synthetic"}, tmp_path / "runs" / "r-1")
    rl = RunList()
    qtbot.addWidget(rl)
    rl.resize(340, 300)
    rl.show()
    rl.set_runs_dir(tmp_path / "runs")
    qtbot.waitExposed(rl)
    item = rl.tree.topLevelItem(0)
    assert item.text(0).startswith(name)
    rect = rl.tree.visualItemRect(item)
    assert rl.tree.wordWrap() and rect.height() > rl.tree.fontMetrics().height() * 1.5  # two lines, whole
    assert rl.tree.textElideMode() == Qt.TextElideMode.ElideMiddle
