"""A new user's editor: an empty network, renaming the project, the gallery's input shape and classes."""

from __future__ import annotations

from graph.templates import make


def _menu(window, *path):
    menu = window.menuBar()
    for title in path:
        menu = next(a.menu() for a in menu.actions() if a.text().replace("&", "") == title)
    return menu


def _action(menu, text):
    return next(a for a in menu.actions() if a.text().replace("&", "") == text)


def test_file_new_empty_network_is_input_to_output(make_window):
    w = make_window(make("resnet20"))
    _action(_menu(w, "File", "New"), "Empty network (Input → Output)").trigger()
    g = w.document.project.graph
    assert sorted(n.type for n in g.nodes.values()) == ["Input", "Output"]
    assert len(g.edges) == 1 and w.document.path is None
    assert w.document.analysis.valid and w.document.analysis.output_shape == (3, 32, 32)
    view = w.canvas.current_view()
    assert set(view.scene().nodes) == set(g.nodes)  # both cards are on the canvas
    assert w.windowTitle().startswith("Network")
    w.palette_panel.add_requested.emit("Conv2d")  # and it can be built on at once
    assert len(g.nodes) == 3


def test_the_project_name_is_editable_in_the_network_inspector_and_the_class_follows(make_window, qtbot):
    w = make_window(make("resnet56"))
    w.show_bottom_tab(1)  # the Code tab (it refreshes while shown)
    w.document.set_selection(None, [], [])
    edit = w.inspector.project_name_edit
    assert edit.text() == "ResNet-56" and "class ResNet56(nn.Module)" in w.inspector._class_label.text()
    edit.selectAll()
    qtbot.keyClicks(edit, "my cifar net")
    assert "class MyCifarNet(nn.Module)" in w.inspector._class_label.text()  # as you type
    edit.editingFinished.emit()
    assert w.document.project.name == "my cifar net"
    assert w.act_undo.text() == "Undo Rename project to my cifar net"
    assert w.windowTitle().startswith("my cifar net")
    qtbot.waitUntil(lambda: "class MyCifarNet(nn.Module)" in w.code_panel.editor.toPlainText(), timeout=5000)
    w.act_undo.trigger()
    assert w.document.project.name == "ResNet-56"
    assert w.inspector.project_name_edit.text() == "ResNet-56"  # the inspector follows the undo
    qtbot.waitUntil(lambda: "class ResNet56(nn.Module)" in w.code_panel.editor.toPlainText(), timeout=5000)
    w.inspector.project_name_edit.setText("   ")
    w.inspector.project_name_edit.editingFinished.emit()  # an empty name is refused quietly
    assert w.document.project.name == "ResNet-56" and w.inspector.project_name_edit.text() == "ResNet-56"


def test_gallery_input_shape_and_classes_make_the_project(qtbot, make_window):
    from app.gallery import TemplateGallery

    dlg = TemplateGallery(None, "resnet20")
    qtbot.addWidget(dlg)
    assert dlg.options() == {"classes": None, "input_shape": None, "shortcut": None}
    dlg.input_shape.setCurrentIndex(dlg.input_shape.findData("1,28,28"))
    dlg.classes.setValue(47)
    assert dlg.options() == {"classes": 47, "input_shape": "1,28,28", "shortcut": None}
    dlg.input_shape.setEditText("3x64x64")
    assert dlg.options()["input_shape"] == "3x64x64"
    dlg.input_shape.setEditText("3,32,x")  # not a shape: said in the dialog, nothing created
    dlg.accept()
    assert dlg.result() == 0 and not dlg.problem.isHidden()
    assert "--" not in dlg.problem.text() and "the input shape must be whole numbers" in dlg.problem.text()
    dlg.select("densenet121")
    dlg.input_shape.setEditText("3,16,16")  # shrinks to nothing in densenet121: the layer is named
    dlg.accept()
    assert dlg.result() == 0 and "AvgPool2d" in dlg.problem.text()
    dlg.select("resnet20")
    dlg.input_shape.setEditText("1,28,28")
    assert dlg.problem.isHidden()
    dlg.accept()
    assert dlg.result() == 1
    w = make_window()
    assert w.files.new_from_template("resnet20", dlg.options())
    p = w.document.project
    assert p.graph.nodes_of_type("Input")[0].params["shape"] == [1, 28, 28]
    assert p.graph.node_by_name("fc").params["out_features"] == 47
    assert w.document.analysis.output_shape == (47,)


def test_reset_layout_puts_every_dock_back_and_docks_cannot_be_squeezed(make_window):
    from PySide6.QtCore import Qt

    from app.main_window import DOCK_MIN

    w = make_window(make("resnet20"))
    w.resizeDocks([w.palette_dock, w.inspector_dock], [5, 5], Qt.Orientation.Horizontal)
    w.resizeDocks([w.bottom_dock], [5], Qt.Orientation.Vertical)
    assert w.palette_dock.width() >= DOCK_MIN["palette"] and w.inspector_dock.width() >= DOCK_MIN["inspector"]
    assert w.bottom_dock.height() >= DOCK_MIN["bottom"]
    # a drag that wrecks the layout: the inspector floats, the palette moves to the bottom, Output is closed
    w.inspector_dock.setFloating(True)
    w.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, w.palette_dock)
    w.bottom_dock.close()
    w.settings.save_window(w.saveGeometry(), w.saveState())  # ... and it persists
    _action(_menu(w, "View"), "Reset layout").trigger()
    assert not w.inspector_dock.isFloating() and w.inspector_dock.isVisible()
    assert w.dockWidgetArea(w.palette_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert w.dockWidgetArea(w.inspector_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert (
        w.dockWidgetArea(w.bottom_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
        and w.bottom_dock.isVisible()
    )
    w2 = make_window(make("resnet20"))
    w2.restore_layout()  # the next start gets the reset layout, not the wrecked one
    assert w2.dockWidgetArea(w2.palette_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert not w2.inspector_dock.isFloating() and not w2.bottom_dock.isHidden()
