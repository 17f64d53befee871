"""The canvas driven the way a person drives it (pytest-qt, offscreen; NOTES.md)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.canvas.area import CanvasArea
from app.canvas.node_item import HEIGHT, WIDTH
from app.document import Document
from graph import edits as E
from graph.templates import make

NODE_MIME = "application/x-skipwire-node"


# ----------------------------------------------------------------------------- helpers
@pytest.fixture
def area(qtbot):
    doc = Document(make("resnet20"))
    a = CanvasArea(doc)
    qtbot.addWidget(a)
    a.resize(1200, 900)
    a.show()
    qtbot.waitExposed(a)
    a.current_view().set_zoom(1.0)
    return a


def messages(view) -> list[str]:
    got: list[str] = []
    view.status_message.connect(got.append)
    return got


def vpos(view, scene_point: QPointF) -> QPoint:
    return view.mapFromScene(scene_point)


def show(view, *scene_points: QPointF) -> None:
    """Centre the view on the points (they must be inside the viewport for mouse events)."""
    xs = [p.x() for p in scene_points]
    ys = [p.y() for p in scene_points]
    view.centerOn(QPointF((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2))
    QApplication.processEvents()


def palette_drop(view, type_name: str, scene_point: QPointF) -> None:
    mime = QMimeData()
    mime.setData(NODE_MIME, type_name.encode("utf-8"))
    pos = QPointF(vpos(view, scene_point))
    vp = view.viewport()
    enter = QDragEnterEvent(
        pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(vp, enter)
    move = QDragMoveEvent(
        pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(vp, move)
    drop = QDropEvent(
        pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(vp, drop)


def mouse_drag(view, a: QPoint, b: QPoint, steps: int = 4) -> None:
    vp = view.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, steps + 1):
        p = QPointF(a + (b - a) * (i / steps))
        ev = QMouseEvent(
            QEvent.Type.MouseMove,
            p,
            vp.mapToGlobal(p),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(vp, ev)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def key(view, k, mods=Qt.KeyboardModifier.NoModifier) -> None:
    view.setFocus()
    QTest.keyClick(view, k, mods)


def node_named(view, name: str):
    g = view.graph_scene().graph
    node = g.node_by_name(name)
    return view.graph_scene().nodes[node.id]


def out_port(item) -> QPointF:
    return item.out_port_pos()


def in_port(item, i: int = 0) -> QPointF:
    return item.in_port_pos(i)


# ----------------------------------------------------------------------------- tests
def test_scene_mirrors_the_model_with_shapes(area):
    view = area.current_view()
    scene = view.graph_scene()
    doc = area.document
    assert set(scene.nodes) == set(doc.project.graph.nodes)
    assert set(scene.edges) == set(doc.project.graph.edges)
    assert node_named(view, "layer2_0").shape_text == "32x16x16"
    assert node_named(view, "layer2_0").summary == "BasicBlock(32, stride=2)"
    assert node_named(view, "conv1").summary == "3x3 conv, 16"


def test_conv_card_shows_height_by_width(area):
    view = area.current_view()
    doc = area.document
    conv = doc.project.graph.node_by_name("conv1")
    doc.push(E.SetParam(None, conv.id, "kernel_size", [1, 7]), "Set kernel_size of conv1")
    doc.push(E.SetParam(None, conv.id, "stride", [2, 1]), "Set stride of conv1")
    assert node_named(view, "conv1").summary == "1x7 conv, 16, /2x1"


def test_palette_drop_adds_node_with_defaults(area):
    view = area.current_view()
    doc = area.document
    n = len(doc.project.graph.nodes)
    where = view.mapToScene(view.viewport().rect().center())
    palette_drop(view, "Conv2d", where)
    assert len(doc.project.graph.nodes) == n + 1
    node = list(doc.project.graph.nodes.values())[-1]
    assert node.type == "Conv2d" and node.name == "conv2"  # after the stem's conv1 (issue 25)
    assert node.params["kernel_size"] == 3
    item = view.graph_scene().nodes[node.id]
    assert abs(item.sceneBoundingRect().center().x() - where.x()) < WIDTH
    assert item.isSelected()
    palette_drop(view, "block:BasicBlock", where + QPointF(300, 0))
    inst = list(doc.project.graph.nodes.values())[-1]
    assert inst.type == "block:BasicBlock" and inst.params == {"out_channels": 64, "stride": 1}
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert len(doc.project.graph.nodes) == n and node.id not in view.graph_scene().nodes


def test_connect_ports_with_the_mouse_and_refusal(area):
    view = area.current_view()
    doc = area.document
    base = node_named(view, "conv1").scenePos() + QPointF(600, 0)
    palette_drop(view, "Conv2d", base)
    palette_drop(view, "BatchNorm2d", base + QPointF(0, 220))
    g = doc.project.graph
    conv, bn = list(g.nodes.values())[-2:]
    sc = view.graph_scene()
    a, b = sc.nodes[conv.id], sc.nodes[bn.id]
    show(view, out_port(a), in_port(b))
    mouse_drag(view, vpos(view, out_port(a)), vpos(view, in_port(b) + QPointF(6, -5)))  # snaps to the port
    edges = [e for e in g.edges.values() if e.src == conv.id and e.dst == bn.id]
    assert len(edges) == 1 and edges[0].kind == "data"
    assert edges[0].id in sc.edges
    assert doc.undo_stack.undoText().startswith("Connect")
    # bn -> conv would close a cycle: refused with the reason, nothing changes
    got = messages(view)
    n_edges = len(g.edges)
    mouse_drag(view, vpos(view, out_port(b)), vpos(view, in_port(a)))
    assert len(g.edges) == n_edges
    assert any("cycle" in m for m in got)


def test_ports_highlight_while_dragging(area):
    view = area.current_view()
    sc = view.graph_scene()
    relu = node_named(view, "relu")
    conv1 = node_named(view, "conv1")
    show(view, out_port(relu))
    vp = view.viewport()
    QTest.mousePress(
        vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vpos(view, out_port(relu))
    )
    p = QPointF(vpos(view, out_port(relu) + QPointF(150, 40)))
    QApplication.sendEvent(
        vp,
        QMouseEvent(
            QEvent.Type.MouseMove,
            p,
            vp.mapToGlobal(p),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        ),
    )
    assert conv1.in_ports[0].state == "dim"  # upstream: would make a cycle
    assert node_named(view, "fc").in_ports[0].state == "ok"
    assert relu.out_port.state == "dim"
    QTest.mouseRelease(vp, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, p.toPoint())
    key(view, Qt.Key.Key_Escape)
    assert all(p.state == "normal" for it in sc.nodes.values() for p in it.ports())


def test_shortcut_into_add_mismatch_fix_undo_redo(area):
    doc = area.document
    view = area.open_block("BasicBlock")
    view.set_zoom(1.0)
    sc = view.graph_scene()
    g = doc.project.blocks["BasicBlock"].graph
    old = next(e for e in g.edges.values() if e.is_shortcut)
    sc.select([], [old.id])
    key(view, Qt.Key.Key_Delete)
    assert old.id not in g.edges and old.id not in sc.edges
    add = sc.nodes[g.nodes_of_type("Add")[0].id]
    bin_ = sc.nodes[g.nodes_of_type("BlockInput")[0].id]
    show(view, out_port(bin_), in_port(add, 1))
    mouse_drag(view, vpos(view, out_port(bin_)), vpos(view, in_port(add, 1)))
    new = next(e for e in g.edges.values() if e.src == bin_.node_id and e.dst == add.node_id)
    assert new.kind == "shortcut" and new.projection == "identity"  # it skips over the convs
    # stride-2 instances mismatch: shown on layer1_0 (which fits) as a warning naming them,
    # on layer2_0 the Add is outlined red and the arc label is red
    diag = next(d for d in doc.analysis.diagnostics if d.edge == new.id)
    assert "16x32x32" in diag.message or "32x16x16" in diag.message
    assert area.instance_box.currentText() == "layer1_0"
    assert not add.errors and add.warnings[0].startswith("In layer2_0") and not sc.edges[new.id].error
    area.show_instance("layer2_0")
    assert add.errors and sc.edges[new.id].error
    assert sc.edges[new.id].chip == "identity"
    area.show_instance("layer1_0")
    fix = next(f for f in diag.fixes if f.action.to_dict().get("value") == "zero_pad")
    doc.apply_fix(fix.action)
    assert doc.analysis.valid and not add.errors and not sc.edges[new.id].error
    assert sc.edges[new.id].chip == "zero-pad"  # the first instance, layer1_0, needs no padding
    assert area.instance_box.isVisible() and area.instance_box.currentText() == "layer1_0"
    assert "Applied in layer1_0: identity" in sc.edges[new.id].toolTip()
    area.show_instance("layer2_0")  # the first stride-2 instance
    assert sc.edges[new.id].chip == "zero-pad /2" and add.shape_text == "32x16x16"
    assert "Applied in layer2_0: zero-pad (16x32x32 → 32x16x16)" in sc.edges[new.id].toolTip()
    assert doc.undo_stack.undoText() == fix.label
    doc.undo_stack.undo()
    assert add.errors and sc.edges[new.id].chip == "identity"  # layer2_0 shown: it fails there
    doc.undo_stack.redo()
    assert doc.analysis.valid and sc.edges[new.id].chip == "zero-pad /2"


def test_edge_kind_and_projection_from_the_canvas(area):
    doc = area.document
    view = area.open_block("BasicBlock")
    g = doc.project.blocks["BasicBlock"].graph
    e = next(e for e in g.edges.values() if e.is_shortcut)
    item = view.graph_scene().edges[e.id]
    menu = view.build_context_menu(item, QPoint(0, 0))
    titles = [a.text() for a in menu.actions()]
    assert "Edge kind" in titles and "Projection" in titles
    area.show_instance("layer3_0")
    view.set_edge_projection(e.id, "conv_bn")
    assert (
        item.chip == "1x1 conv /2" and item.color().name() == view.graph_scene().theme.projection["conv_bn"]
    )
    assert doc.analysis.total_params == 269722 + 2752  # option B, He et al.
    doc.undo_stack.undo()
    assert item.chip == "zero-pad /2"
    area.show_instance("layer1_1")
    assert item.chip == "zero-pad" and area.instance_box.currentText() == "layer1_1"


def test_box_select_and_delete(area):
    view = area.current_view()
    doc = area.document
    sc = view.graph_scene()
    names = ["conv1", "bn1"]
    items = [node_named(view, n) for n in names]
    top = items[0].scenePos() + QPointF(-40, -20)
    bottom = items[1].scenePos() + QPointF(WIDTH + 40, HEIGHT + 10)
    show(view, top, bottom)
    mouse_drag(view, vpos(view, top), vpos(view, bottom))
    assert set(sc.selected_node_ids()) == {i.node_id for i in items}
    assert doc.selection[1] and set(doc.selection[1]) == {i.node_id for i in items}
    key(view, Qt.Key.Key_Delete)
    assert all(doc.project.graph.node_by_name(n) is None for n in names)
    assert not doc.analysis.valid
    doc.undo_stack.undo()
    assert all(doc.project.graph.node_by_name(n) is not None for n in names)
    assert doc.analysis.valid and len(sc.edges) == len(doc.project.graph.edges)


def test_copy_paste_and_duplicate_keep_internal_edges(area):
    view = area.current_view()
    doc = area.document
    g = doc.project.graph
    sc = view.graph_scene()
    sc.select([g.node_by_name("bn1").id, g.node_by_name("relu").id])
    key(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    n_nodes, n_edges = len(g.nodes), len(g.edges)
    key(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert len(g.nodes) == n_nodes + 2 and len(g.edges) == n_edges + 1
    new = sc.selected_node_ids()
    assert len(new) == 2 and any(e.src == new[0] and e.dst == new[1] for e in g.edges.values())
    key(view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(g.nodes) == n_nodes + 4 and len(g.edges) == n_edges + 2
    key(view, Qt.Key.Key_X, Qt.KeyboardModifier.ControlModifier)
    assert len(g.nodes) == n_nodes + 2
    assert doc.undo_stack.undoText().startswith("Cut")


def test_group_into_block_and_refusal(area):
    view = area.current_view()
    doc = area.document
    g = doc.project.graph
    sc = view.graph_scene()
    got = messages(view)
    sc.select([g.node_by_name("conv1").id, g.node_by_name("layer3_0").id])
    key(view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert any("2 inputs" in m for m in got) and len(doc.project.blocks) == 1
    params = doc.analysis.total_params
    sc.select([g.node_by_name("layer1_0").id, g.node_by_name("layer1_1").id])
    key(view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert "Block" in doc.project.blocks
    inst = sc.selected_node_ids()
    assert len(inst) == 1 and g.nodes[inst[0]].type == "block:Block"
    assert doc.analysis.valid and doc.analysis.total_params == params
    # the gap the group leaves in the column is bridged by straight edges, not arcs round nothing
    for e in sc.nodes[inst[0]].edges:
        assert e.path().boundingRect().width() < 4, e.edge_id
    # double-click the new instance: its definition opens in a tab with a breadcrumb
    item = sc.nodes[inst[0]]
    show(view, item.sceneBoundingRect().center())
    QTest.mouseDClick(
        view.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        vpos(view, item.sceneBoundingRect().center()),
    )
    assert area.current_block() == "Block"
    assert "Network" in area.breadcrumb_text() and "Block" in area.breadcrumb_text()
    inner = area.current_view().graph_scene()
    assert {g2.type for g2 in doc.project.blocks["Block"].graph.nodes.values()} >= {
        "BlockInput",
        "BlockOutput",
    }
    assert len(inner.nodes) == 4
    doc.undo_stack.undo()  # the block goes, and so does its tab
    assert "Block" not in doc.project.blocks and area.current_block() is None


def test_move_nodes_with_the_mouse_is_one_undo_step(area):
    doc = area.document
    view = area.open_block("BasicBlock")
    view.set_zoom(1.0)
    sc = view.graph_scene()
    g = doc.project.blocks["BasicBlock"].graph
    add = sc.nodes[g.nodes_of_type("Add")[0].id]
    shortcut = next(sc.edges[e.id] for e in g.edges.values() if e.is_shortcut)
    before = add.scenePos()
    end_before = shortcut.path().currentPosition()
    grab = add.scenePos() + QPointF(30, 10)
    show(view, grab, grab + QPointF(160, 60))
    mouse_drag(view, vpos(view, grab), vpos(view, grab + QPointF(160, 60)))
    moved = add.scenePos() - before
    assert abs(moved.x() - 160) < 2 and abs(moved.y() - 60) < 2
    assert doc.project.ui["block_positions"]["BasicBlock"][add.node_id] == [
        add.scenePos().x(),
        add.scenePos().y(),
    ]
    assert shortcut.path().currentPosition() != end_before  # the arc follows the merge
    assert doc.undo_stack.undoText() == "Move node"
    command = doc.undo_stack.command(doc.undo_stack.index() - 1)
    assert type(command.edit).__name__ == "SetPositions"  # through Document.push, like every edit
    doc.undo_stack.undo()
    assert add.scenePos() == before and shortcut.path().currentPosition() == end_before


def test_opening_a_graph_without_positions_places_it_openly(qtbot):
    """A file without canvas positions: the nodes are placed when their tab opens, through the Document
    (announced as positions_changed), not written silently by the scene; it is not an undo step."""
    project = make("resnet20")
    project.ui = {}
    doc = Document(project)
    announced = []
    doc.positions_changed.connect(lambda block, ids: announced.append((block, set(ids))))
    a = CanvasArea(doc)
    qtbot.addWidget(a)
    assert (None, set(project.graph.nodes)) in announced
    assert set(project.ui["positions"]) == set(project.graph.nodes)
    view = a.open_block("BasicBlock")
    body = project.blocks["BasicBlock"].graph
    assert ("BasicBlock", set(body.nodes)) in announced
    placed = project.ui["block_positions"]["BasicBlock"]
    assert all(view.graph_scene().nodes[n].pos().x() == placed[n][0] for n in body.nodes)
    assert doc.undo_stack.count() == 0 and not doc.is_modified()


def test_keyboard_frame_layout_and_quick_add(area):
    view = area.current_view()
    doc = area.document
    view.set_zoom(2.0)
    key(view, Qt.Key.Key_F)
    assert view.zoom() < 1.0  # the whole resnet20 column fits
    nid = doc.project.graph.node_by_name("fc").id
    doc.project.ui["positions"][nid] = [900.0, 40.0]
    key(view, Qt.Key.Key_L)
    assert doc.undo_stack.undoText() == "Auto-layout"
    assert doc.project.ui["positions"][nid][0] == 0.0
    assert view.graph_scene().nodes[nid].scenePos().x() == 0.0
    n = len(doc.project.graph.nodes)
    key(view, Qt.Key.Key_Tab)
    assert view.quick_add.isVisible()
    QTest.keyClicks(view.quick_add.search, "leaky")
    QTest.keyClick(view.quick_add.search, Qt.Key.Key_Return)
    assert not view.quick_add.isVisible()
    assert len(doc.project.graph.nodes) == n + 1
    assert list(doc.project.graph.nodes.values())[-1].type == "LeakyReLU"
    # double-click on empty canvas opens it too; Escape closes it without adding
    empty = QPoint(40, 40)
    assert view.itemAt(empty) is None
    QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, empty)
    assert view.quick_add.isVisible()
    QTest.keyClick(view.quick_add.search, Qt.Key.Key_Escape)
    assert not view.quick_add.isVisible() and len(doc.project.graph.nodes) == n + 1


def test_quick_add_fits_its_matches_and_prefers_a_name_prefix(area):
    view = area.current_view()
    key(view, Qt.Key.Key_Tab)
    qa = view.quick_add
    full = qa.height()
    QTest.keyClicks(qa.search, "relu")  # ReLU and LeakyReLU match; the one named so comes first
    assert qa.list.currentItem().data(Qt.ItemDataRole.UserRole + 1) == "ReLU"
    assert qa.height() < full / 2 and not qa.list.currentItem().icon().isNull()
    QTest.keyClicks(qa.search, "zzz")
    assert qa.empty.isVisible() and not qa.list.isVisible()
    n = len(area.document.project.graph.nodes)
    QTest.keyClick(qa.search, Qt.Key.Key_Return)  # nothing to add
    assert qa.isVisible() and len(area.document.project.graph.nodes) == n
    QTest.keyClick(qa.search, Qt.Key.Key_Escape)
    assert not qa.isVisible()


def test_edge_dropped_on_empty_space_adds_a_connected_node(area):
    view = area.current_view()
    doc = area.document
    relu = node_named(view, "fc")
    start = out_port(relu)
    end = start + QPointF(420, 60)
    show(view, start, end)
    mouse_drag(view, vpos(view, start), vpos(view, end))
    assert view.quick_add.isVisible()
    offered = {
        view.quick_add.list.item(i).data(Qt.ItemDataRole.UserRole + 1)
        for i in range(view.quick_add.list.count())
    }
    assert "Input" not in offered and {"Dropout", "Output", "Linear"} <= offered  # only what takes an input
    QTest.keyClicks(view.quick_add.search, "dropout")
    QTest.keyClick(view.quick_add.search, Qt.Key.Key_Return)
    g = doc.project.graph
    new = list(g.nodes.values())[-1]
    assert new.type == "Dropout"
    assert any(e.src == relu.node_id and e.dst == new.id for e in g.edges.values())
    doc.undo_stack.undo()  # one step
    assert new.id not in g.nodes


def test_focus_request_opens_the_tab_and_selects(area):
    doc = area.document
    g = doc.project.blocks["BasicBlock"].graph
    add = g.nodes_of_type("Add")[0]
    doc.request_focus("BasicBlock", add.id)
    assert area.current_block() == "BasicBlock"
    assert area.current_view().graph_scene().selected_node_ids() == [add.id]
    assert doc.selection == ("BasicBlock", [add.id], [])


def test_wheel_zooms_about_the_cursor_and_middle_or_space_drag_pans(area):
    from PySide6.QtGui import QWheelEvent

    view = area.current_view()
    vp = view.viewport()
    item = node_named(view, "layer1_0")
    show(view, item.sceneBoundingRect().center())
    at = QPointF(vpos(view, item.sceneBoundingRect().center()))
    under = view.mapToScene(at.toPoint())
    z = view.zoom()
    wheel = QWheelEvent(
        at,
        vp.mapToGlobal(at),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(vp, wheel)
    assert view.zoom() > z * 1.3
    assert (view.mapToScene(at.toPoint()) - under).manhattanLength() < 4  # the point under the cursor stays
    before = view.mapToScene(vp.rect().center())
    a, b = QPoint(300, 300), QPoint(200, 220)
    QTest.mousePress(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, a)
    QApplication.sendEvent(
        vp,
        QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(b),
            vp.mapToGlobal(QPointF(b)),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.MiddleButton,
            Qt.KeyboardModifier.NoModifier,
        ),
    )
    QTest.mouseRelease(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, b)
    moved = view.mapToScene(vp.rect().center()) - before
    assert moved.x() > 50 and moved.y() > 50  # content follows the mouse
    n_sel = len(view.graph_scene().selectedItems())
    view.setFocus()
    QTest.keyPress(view, Qt.Key.Key_Space)
    before = view.mapToScene(vp.rect().center())
    mouse_drag(view, QPoint(300, 300), QPoint(400, 300))
    QTest.keyRelease(view, Qt.Key.Key_Space)
    assert view.mapToScene(vp.rect().center()).x() < before.x() - 50
    assert len(view.graph_scene().selectedItems()) == n_sel  # a pan, not a box select


def test_block_parameter_change_updates_instance_cards(area):
    from graph.edits import SetBlockParams
    from graph.model import BlockParam

    doc = area.document
    view = area.current_view()
    bdef = doc.project.blocks["BasicBlock"]
    params = dict(bdef.params)
    params["dilation"] = BlockParam("int", 1)
    doc.push(SetBlockParams("BasicBlock", params))
    assert "dilation=1" not in node_named(view, "layer1_0").summary  # defaults are not repeated
    params["stride"] = BlockParam("int", 2)
    doc.push(SetBlockParams("BasicBlock", params))
    assert node_named(view, "layer1_0").summary == "BasicBlock(16, stride=1)"


def test_minimap_shows_when_the_graph_does_not_fit(area):
    view = area.current_view()
    view.set_zoom(1.5)
    view.minimap.refresh()
    assert view.minimap.isVisible()
    top = view.mapToScene(view.viewport().rect()).boundingRect().top()
    view.minimap._goto(QPointF(view.minimap.width() / 2, view.minimap.height() - 8))  # click near the bottom
    assert view.mapToScene(view.viewport().rect()).boundingRect().top() > top
    view.frame_all()
    assert not view.minimap.isVisible()


def test_zoomed_out_steps_detail_down_and_export(area, tmp_path):
    view = area.current_view()
    view.set_zoom(0.2)
    QApplication.processEvents()
    assert view.grab().width() > 0
    png = area.export_image(str(tmp_path / "net.png"))
    svg = area.export_image(str(tmp_path / "net.svg"))
    from PySide6.QtGui import QImage

    img = QImage(png)
    assert img.width() > 300 and img.height() > 1000
    # the stage names (left of their bands) are in the picture, at its scale, not cut off
    sc = view.graph_scene()
    assert img.width() >= 2 * (sc.nodes_rect().width() + 150)
    from PySide6.QtWidgets import QGraphicsItem

    assert all(
        st.label.flags() & QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations
        for st in sc.stages.values()
    )  # back to screen size on the canvas
    with open(svg, encoding="utf-8") as f:
        assert "<svg" in f.read(2000)


def test_replace_project_rebuilds_and_lays_out_missing_positions(area):
    doc = area.document
    p = make("resnet20")
    p.ui = {}
    doc.replace_project(p)
    sc = area.current_view().graph_scene()
    assert set(sc.nodes) == set(p.graph.nodes)
    assert set(p.ui["positions"]) == set(p.graph.nodes)
    ys = [p.ui["positions"][n][1] for n in p.graph.nodes]
    assert ys == sorted(ys)  # a column, top to bottom


def test_zoomed_out_detail_order_and_no_unreadable_text(area):
    """Params go first, then edge shape labels, then the badge; what stays is at least ~7 px."""
    from app.canvas import edge_item, node_item
    from app.canvas.node_item import LOD_TEXT, card_fonts

    assert node_item.LOD_PARAMS > edge_item.LOD_LABELS > node_item.LOD_BADGE > edge_item.LOD_CHIPS > LOD_TEXT
    for i in range(int(LOD_TEXT * 100), 200):
        lod = i / 100
        for pt in card_fonts(lod):
            assert pt is None or pt * lod * 96 / 72 >= 6.8, (lod, card_fonts(lod))
    # a compact card keeps the whole name: it takes the first line, the badge the second
    view = area.current_view()
    view.set_zoom(0.6)
    item = node_named(view, "layer3_2")
    view.centerOn(item)
    QApplication.processEvents()
    assert card_fonts(view.zoom()) == (13.0, None, 11.0) and item.shape_text == "64x8x8"
    assert view.grab().width() > 0
    # a tall block body framed whole (about 0.45 on a laptop) keeps its projection chip
    body = area.open_block("BasicBlock")
    body.set_zoom(0.45)
    assert edge_item.LOD_CHIPS <= body.zoom() < edge_item.LOD_LABELS
    assert body.grab().width() > 0


def test_stage_label_moves_right_of_a_side_column(qtbot):
    """DPN's entry block has its projection ("shortcut" stage) in a side column: its label
    must not sit on the main column's cards."""
    doc = Document(make("dpn26"))
    a = CanvasArea(doc)
    qtbot.addWidget(a)
    a.resize(1000, 800)
    a.show()
    view = a.open_block("DualPathEntry")
    stage = view.graph_scene().stages["shortcut"]
    assert stage.label_right
    label = stage.label.mapRectToScene(stage.label.boundingRect())
    assert not any(label.intersects(it.card_rect()) for it in view.graph_scene().nodes.values())
    assert not a.view_for(None).graph_scene().stages["layer1"].label_right  # a network's stages: left
    # a data edge that skips cards in its column arcs round them: SE's input -> scale
    doc.replace_project(make("se_resnet20"))
    se = a.open_block("SqueezeExcite").graph_scene()
    g = doc.project.blocks["SqueezeExcite"].graph
    src, dst = g.nodes_of_type("BlockInput")[0].id, g.nodes_of_type("Multiply")[0].id
    skip = next(se.edges[e.id] for e in g.edges.values() if e.src == src and e.dst == dst)
    assert skip.path().boundingRect().width() > 100


def test_short_edges_between_columns_never_draw_labels_under_cards(qtbot):
    """DenseNet's block: input/concat -> dense layer edges run sideways among cards; a shape label
    is drawn only where no card covers it."""
    doc = Document(make("densenet121"))
    a = CanvasArea(doc)
    qtbot.addWidget(a)
    a.resize(1000, 800)
    a.show()
    sc = a.open_block("DenseBlock6").graph_scene()
    across = [e for e in sc.edges.values() if e._across]
    assert across and any(not e._label_clear for e in across)
    for e in across:
        if e._label_clear:
            rect = e._label_rect()
            assert not any(n.card_rect().intersects(rect) for n in sc.nodes.values()), e.edge_id


def test_side_branch_rejoins_down_its_own_lane(qtbot):
    """WRN's projection block: conv_shortcut (a side column) -> add runs down the side lane and
    bends in at the end, instead of running over the main column's cards."""
    doc = Document(make("wrn28_10"))
    a = CanvasArea(doc)
    qtbot.addWidget(a)
    a.resize(1000, 800)
    a.show()
    sc = a.open_block("WideBasicProj").graph_scene()
    g = doc.project.blocks["WideBasicProj"].graph
    side = g.node_by_name("conv_shortcut").id
    edge = next(sc.edges[e.id] for e in g.edges.values() if e.src == side)
    path = edge.path()
    for n, item in sc.nodes.items():
        if n in (edge.src.node_id, edge.dst.node_id):
            continue
        card = item.card_rect()
        assert not any(card.contains(path.pointAtPercent(t / 50)) for t in range(51)), item.name


def test_double_click_an_instance_shows_its_shapes(area):
    """Double-clicking layer3_0 opens BasicBlock as layer3_0 sees it (64 channels, 8x8, stride 2)."""
    view = area.current_view()
    item = node_named(view, "layer3_0")
    show(view, item.sceneBoundingRect().center())
    QTest.mouseDClick(
        view.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        vpos(view, item.card_rect().center()),
    )
    assert area.current_block() == "BasicBlock" and area.instance_box.currentText() == "layer3_0"
    assert node_named(area.current_view(), "conv1").shape_text == "64x8x8"
    # nested: SE-ResNet's SE block inside layer2_1, opened from that instance's tab
    doc = area.document
    doc.replace_project(make("se_resnet20"))
    net = area.current_view()
    outer = node_named(net, "layer2_1")
    show(net, outer.sceneBoundingRect().center())
    QTest.mouseDClick(
        net.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        vpos(net, outer.card_rect().center()),
    )
    inner = area.current_view()
    se = node_named(inner, "se")
    show(inner, se.sceneBoundingRect().center())
    QTest.mouseDClick(
        inner.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        vpos(inner, se.card_rect().center()),
    )
    assert area.current_block() == "SqueezeExcite" and area.instance_box.currentText() == "layer2_1.se"
    assert node_named(area.current_view(), "input").shape_text == "32x16x16"


def test_palette_drop_of_eca_s_channel_conv_gives_a_named_node_with_its_card(area):
    view = area.current_view()
    doc = area.document
    where = view.mapToScene(view.viewport().rect().center())
    palette_drop(view, "ChannelConv1d", where)
    node = list(doc.project.graph.nodes.values())[-1]
    assert node.type == "ChannelConv1d" and node.name == "conv2"  # after conv1 (issue 25)
    assert node.params == {"kernel_size": 3, "bias": False}
    assert view.graph_scene().nodes[node.id].summary == "channel conv, k=3"
