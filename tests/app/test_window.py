"""The main window: layout, menus, status bar, undo naming, theme."""

from __future__ import annotations

import itertools

from graph.templates import make
from tests.app.conftest import mismatch_project


def _menu(window, title):
    for a in window.menuBar().actions():
        if a.text().replace("&", "") == title:
            return a.menu()
    raise AssertionError(title)


def _texts(menu):
    return [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]


def test_window_layout_and_menus(make_window):
    w = make_window(make("resnet20"))
    assert [w.bottom_tabs.tabText(i) for i in range(w.bottom_tabs.count())] == [
        "Problems",
        "Code",
        "Summary",
        "Training",
        "Inspect",
    ]
    assert w.palette_dock.isVisible() and w.inspector_dock.isVisible()
    assert {"New", "Open…", "Open Recent", "Save", "Save As…", "Export", "Quit"} <= set(
        _texts(_menu(w, "File"))
    )
    assert {"Cut", "Copy", "Paste", "Duplicate", "Delete", "Group into block", "Select all"} <= set(
        _texts(_menu(w, "Edit"))
    )
    assert {"Frame all", "Auto-layout", "Light theme", "Panels"} <= set(_texts(_menu(w, "View")))
    assert {"Keyboard shortcuts", "About Skipwire"} <= set(_texts(_menu(w, "Help")))
    export = next(a.menu() for a in _menu(w, "File").actions() if a.text().replace("&", "") == "Export")
    assert len(_texts(export)) == 4
    assert w.status_valid.text() == "Valid · 269,722 params · 41.02 MMACs · output 10"


def test_status_and_problems_tab_follow_errors(make_window):
    w = make_window(mismatch_project())
    assert w.status_valid.text().startswith("1 error")
    assert w.bottom_tabs.tabText(0).startswith("Problems (")
    w.problems.fix_buttons[0].click()
    assert w.status_valid.text().startswith("Valid")


def test_edit_menu_names_the_undo_step(make_window):
    w = make_window(make("resnet20"))
    conv = w.document.project.graph.node_by_name("conv1")
    w.document.set_selection(None, [conv.id], [])
    assert not w.act_undo.isEnabled()
    w.inspector.fields["stride"].enter_text("2")
    assert w.act_undo.text() == "Undo Set stride of conv1"
    assert w.isWindowModified()
    w.act_undo.trigger()
    assert w.document.project.graph.nodes[conv.id].params["stride"] == 1
    assert w.act_redo.text() == "Redo Set stride of conv1"
    w.act_redo.trigger()
    assert w.document.project.graph.nodes[conv.id].params["stride"] == 2
    assert w.status_valid.text().startswith("Valid")  # stride 2 in the stem is still a valid net


def test_theme_toggle_persists(make_window, settings):
    w = make_window(make("resnet20"))
    assert settings.theme() == "dark"
    w.toggle_theme()
    assert settings.theme() == "light" and w.act_theme.isChecked()
    w.toggle_theme()
    assert settings.theme() == "dark"


def test_palette_double_click_adds_a_node(make_window):
    w = make_window(make("resnet20"))
    n = len(w.document.project.graph.nodes)
    w.palette_panel.add_requested.emit("ReLU")
    assert len(w.document.project.graph.nodes) == n + 1
    assert w.act_undo.text().startswith("Undo Add ReLU")


# ------------------------------------------------------------------ end to end, with the mouse
def _drop(window, type_name, scene_pos):
    """A palette drag onto the canvas: the palette's own mime data, delivered as drag events."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    view = window.canvas.current_view()
    mime = window.palette_panel.tree.mimeData([window.palette_panel.item_for(type_name)])
    pos = view.mapFromScene(scene_pos)
    before = set(window.document.project.graph.nodes)
    vp = view.viewport()
    action, btn, mod = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QApplication.sendEvent(vp, QDragEnterEvent(QPointF(pos), action, mime, btn, mod))
    QApplication.sendEvent(vp, QDragMoveEvent(QPointF(pos), action, mime, btn, mod))
    QApplication.sendEvent(vp, QDropEvent(QPointF(pos), action, mime, btn, mod))
    (new,) = set(window.document.project.graph.nodes) - before
    return new


def _connect(window, src, dst, dst_port=0):
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    view = window.canvas.current_view()
    items = view.graph_scene().nodes
    a = view.mapFromScene(items[src].out_port_pos())
    b = view.mapFromScene(items[dst].in_port_pos(dst_port))
    vp = view.viewport()
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QTest.mousePress(vp, left, none, a)
    for t in (0.3, 0.7, 1.0):
        p = QPointF(a.x() + (b.x() - a.x()) * t, a.y() + (b.y() - a.y()) * t)
        QApplication.sendEvent(
            vp, QMouseEvent(QEvent.Type.MouseMove, p, vp.mapToGlobal(p), Qt.MouseButton.NoButton, left, none)
        )
    QTest.mouseRelease(vp, left, none, b)


def test_end_to_end_residual_block_with_the_mouse(make_window, dialogs, tmp_path):
    from PySide6.QtCore import QPointF

    from graph.model import Graph, Project

    g = Graph()
    inp = g.add("Input", "input", shape=[3, 32, 32])
    project = Project("Residual", g, ui={"positions": {inp.id: [0.0, 0.0]}})
    w = make_window(project)
    view = w.canvas.current_view()
    view.set_zoom(0.5)
    view.centerOn(QPointF(96, 480))
    chain = ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "Add", "ReLU", "Output"]
    ids = [inp.id]
    for i, type_name in enumerate(chain, start=1):
        ids.append(_drop(w, type_name, QPointF(96, 27 + 110 * i)))
    graph = w.document.project.graph
    assert [graph.nodes[n].type for n in ids[1:]] == chain
    for a, b in itertools.pairwise(ids):
        _connect(w, a, b)
    add = ids[6]
    assert len(graph.edges) == len(chain)
    assert [d.code for d in w.document.analysis.errors] == [
        "unconnected_input"
    ]  # the Add waits for its 2nd input
    # the shortcut: from the block's input to the Add's second port
    _connect(w, inp.id, add, dst_port=1)
    shortcut = next(e for e in graph.edges.values() if e.dst == add and e.dst_port == 1)
    assert shortcut.is_shortcut and shortcut.src == inp.id
    # 3x32x32 + 64x32x32: the mismatch is in Problems, with fixes
    assert not w.document.analysis.valid
    diag = w.problems.diagnostics()[0]
    assert diag.is_error and "3x32x32" in diag.message and "64x32x32" in diag.message
    assert w.status_valid.text().startswith("1 error")
    fix = next(b for b in w.problems.fix_buttons if "1x1 conv" in b.text())
    fix_label = fix.text()
    fix.click()
    assert w.document.analysis.valid
    assert graph.edges[shortcut.id].projection == "conv_bn"
    fixed = w.document.project.to_dict()
    assert w.act_undo.text() == f"Undo {fix_label}"
    w.act_undo.trigger()
    assert not w.document.analysis.valid and graph.edges[shortcut.id].projection == "identity"
    w.act_redo.trigger()
    assert w.document.analysis.valid and w.document.project.to_dict() == fixed
    # save, close, reopen: the same graph
    path = tmp_path / "residual.skipwire"
    dialogs.answer("save", (str(path), ""))
    w.act_save.trigger()
    assert path.exists() and not w.isWindowModified()
    assert w.close()
    w2 = make_window()
    assert w2.files.load(str(path))
    assert w2.document.project.to_dict() == fixed
    assert w2.document.analysis.valid
    assert set(w2.canvas.current_view().graph_scene().nodes) == set(ids)


def test_edit_menu_acts_on_the_canvas_selection(make_window):
    w = make_window(make("resnet20"))
    graph = w.document.project.graph
    relu = graph.node_by_name("relu")
    w.document.set_selection(None, [relu.id], [])
    n = len(graph.nodes)
    w.act_duplicate.trigger()
    assert len(graph.nodes) == n + 1
    w.act_undo.trigger()
    w.document.set_selection(None, [relu.id], [])
    w.act_delete.trigger()
    assert relu.id not in graph.nodes
    assert w.act_undo.text().startswith("Undo Delete")
    w.act_undo.trigger()
    assert relu.id in graph.nodes
    w.act_select_all.trigger()
    assert set(w.document.selection[1]) == set(graph.nodes)


def _broken_resnet20():
    """resnet20 whose BasicBlock shortcut is identity: only the stride-2 instances fail."""
    p = make("resnet20")
    body = p.blocks["BasicBlock"].graph
    edge = next(e for e in body.edges.values() if e.is_shortcut)
    body.set_edge_field(edge.id, "projection", "identity")
    return p, edge


def test_problems_double_click_shows_the_failing_instance(make_window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    p, edge = _broken_resnet20()
    w = make_window(p)
    add = p.blocks["BasicBlock"].graph.edges[edge.id].dst
    row = w.problems.tree.topLevelItem(0)
    assert "in layer2_0" in w.problems.tree.itemWidget(row, 0).findChildren(type(w.status_valid))[-1].text()
    rect = w.problems.tree.visualItemRect(row)
    viewport = w.problems.tree.viewport()
    target = viewport.childAt(rect.center()) or viewport  # where a person's double-click lands: the message
    QTest.mouseDClick(target, Qt.MouseButton.LeftButton, pos=target.mapFrom(viewport, rect.center()))
    qtbot.waitUntil(lambda: w.canvas.current_block() == "BasicBlock")
    # not the first instance (layer1_0 is fine): the one whose sum does not fit
    assert w.canvas.instance_box.currentText() == "layer2_0"
    scene = w.canvas.current_view().graph_scene()
    assert scene.nodes[add].errors and scene.selected_node_ids() == [add]
    assert scene.edges[edge.id].error  # the shortcut's label is red on this instance
    # the inspector shows the same instance's shapes, and says which
    assert "layer2_0" in " ".join(lab.text() for lab in w.inspector.findChildren(type(w.status_valid)))
    assert w.inspector._info_labels["in"].text() == "32x16x16, 16x32x32"
    # choosing another instance by hand is kept, and the inspector follows it
    w.canvas.instance_box.setCurrentIndex(0)
    w.canvas.instance_box.activated.emit(0)
    assert w.document.shown_instance("BasicBlock") == "layer1_0"
    assert w.inspector._info_labels["in"].text() == "16x32x32, 16x32x32"
    assert not scene.nodes[add].errors


def test_shortcuts_dialog_lists_the_canvas_gestures(make_window):
    from app.help_dialogs import shortcuts_dialog

    w = make_window(make("resnet20"))
    dlg = shortcuts_dialog(w)
    from PySide6.QtWidgets import QTableWidget

    table = dlg.findChild(QTableWidget)
    actions = {table.item(r, 1).text() for r in range(table.rowCount())}
    assert {"Add a connected layer", "Show a problem", "Group into block", "Frame selection"} <= actions
    dlg.deleteLater()


def test_freeze_selection_and_all_but_the_head(make_window):
    """Transfer learning from the editor: freeze a stage's block instances (one undo step), then
    everything but the Linear head; the summary counts the frozen parameters as non-trainable."""
    w = make_window(make("resnet20"))
    graph = w.document.project.graph
    w.document.set_selection(None, [], [])
    assert not w.act_freeze.isEnabled() and not w.act_unfreeze.isEnabled()  # like Cut and Copy
    assert w.act_freeze_backbone.isEnabled()
    stage = next(st for st in graph.stages if st.name == "layer1")
    w.document.set_selection(None, list(stage.nodes), [])
    w.act_freeze.trigger()
    assert all(graph.nodes[i].frozen for i in stage.nodes)
    assert w.act_undo.text() == "Undo Freeze selection"
    w.act_undo.trigger()
    assert not any(graph.nodes[i].frozen for i in stage.nodes)

    w.act_freeze_backbone.trigger()
    fc = graph.node_by_name("fc")
    assert not fc.frozen
    assert all(n.frozen for n in graph.nodes.values() if n.type not in ("Input", "Output", "Linear"))
    analysis = w.document.analysis
    assert analysis.trainable_params == 64 * 10 + 10  # only fc trains
    w.document.set_selection(None, [fc.id], [])
    w.act_freeze.trigger()
    assert fc.frozen and w.document.analysis.trainable_params == 0
