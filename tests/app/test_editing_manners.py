"""Issue 25, what a new user hits while editing: a palette double-click never drops a node on an
edge or a card; Ctrl+Z in an inspector field undoes the document once the field's edit is
committed; automatic names follow the numbering in use."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from app.canvas.edge_item import EdgeItem
from app.canvas.node_item import NodeItem
from app.composite import new_node_edit
from app.project_edits import empty_network
from graph.templates import make


def settle() -> None:
    for _ in range(5):
        QApplication.processEvents()


def test_a_palette_double_click_never_drops_a_node_on_an_edge_or_a_card(make_window):
    w = make_window(empty_network())
    w.frame_readable()
    settle()
    scene = w.canvas.current_view().graph_scene()
    for type_name in ("Conv2d", "BatchNorm2d", "ReLU"):
        w.palette_panel.add_requested.emit(type_name)  # a double-click in the palette
        settle()
        new_id = w.document.selection[1][0]
        card = scene.nodes[new_id]
        others = [
            item
            for item in scene.items()
            if item is not card
            and item.parentItem() is None
            and isinstance(item, (NodeItem, EdgeItem))
            and card.collidesWithItem(item)
        ]
        assert others == [], f"{type_name} lands on {others}"
        assert card.isVisible()


def _takes(widget, key, modifiers) -> bool:
    """Whether ``widget`` claims the key combination for itself (a ShortcutOverride it accepts keeps
    the window's shortcut from running: Edit ▸ Undo never ran while a field had the focus)."""
    event = QKeyEvent(QEvent.Type.ShortcutOverride, key, modifiers)
    event.ignore()
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def test_ctrl_z_in_an_inspector_field_is_the_documents_once_the_edit_is_committed(make_window):
    """The offscreen half (a real key press needs an active window: the real-window walk presses
    Ctrl+Z with xdotool in a field and checks the undo)."""
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    w = make_window(make("resnet20"))
    conv = w.document.project.graph.node_by_name("conv1")
    w.document.set_selection(None, [conv.id], [])
    editor = w.inspector.fields["out_channels"].editor
    edit = editor if isinstance(editor, QLineEdit) else editor.findChild(QLineEdit)
    edit.selectAll()
    QTest.keyClicks(edit, "32")
    assert _takes(editor, Qt.Key.Key_Z, ctrl)  # typing, not committed: the field's own undo
    QTest.keyClick(edit, Qt.Key.Key_Return)
    settle()
    assert conv.params["out_channels"] == 32
    editor = w.inspector.fields["out_channels"].editor
    for key, mods in ((Qt.Key.Key_Z, ctrl), (Qt.Key.Key_Z, ctrl | shift), (Qt.Key.Key_Y, ctrl)):
        assert not _takes(editor, key, mods), (key, mods)
    assert _takes(editor, Qt.Key.Key_C, ctrl)  # copy stays the field's
    w.act_undo.trigger()
    settle()
    assert conv.params["out_channels"] == 16
    editor = w.inspector.fields["out_channels"].editor
    assert not _takes(editor, Qt.Key.Key_Z, ctrl)  # the undone value is committed too
    name = w.inspector.name_edit
    assert not _takes(name, Qt.Key.Key_Z, ctrl)


def test_automatic_names_follow_the_numbering_in_use():
    p = make("resnet20")  # conv1, bn1, relu ... at the stem
    g = p.graph
    names = {n.name for n in g.nodes.values()}
    assert "bn1" in names and "bn" not in names
    edit = new_node_edit(p, None, "BatchNorm2d")
    assert edit.node.name == "bn2"
    assert new_node_edit(p, None, "Conv2d").node.name == "conv2"
    empty = empty_network()
    first = new_node_edit(empty, None, "BatchNorm2d")
    assert first.node.name == "bn"  # nothing numbered yet: the plain name
    empty.graph.add("BatchNorm2d", "bn")
    assert new_node_edit(empty, None, "BatchNorm2d").node.name == "bn1"
