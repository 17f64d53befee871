"""The canvas keeps its cards in view: the minimap keeps off them (another corner, else it fades; View ▸
Minimap turns it off) and a shortcut's projection chip is drawn above the cards."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPointF, QRect
from PySide6.QtGui import QEnterEvent
from PySide6.QtWidgets import QApplication

from app.canvas.area import CanvasArea
from app.canvas.edge_item import ChipItem, EdgeItem
from app.canvas.minimap import FADED, Minimap
from app.canvas.node_item import NodeItem
from app.document import Document
from graph.templates import make


@pytest.fixture
def area(qtbot):
    doc = Document(make("resnet20"))
    a = CanvasArea(doc)
    qtbot.addWidget(a)
    a.resize(1000, 700)
    a.show()
    qtbot.waitExposed(a)
    yield a
    Minimap.set_enabled_everywhere(True)


def _covers_a_card(minimap) -> bool:
    r = QRect(minimap.pos(), minimap.size())
    return any(r.intersects(c) for c in minimap.card_rects())


def test_the_minimap_takes_a_corner_where_no_card_lies(area):
    view = area.current_view()
    view.set_zoom(1.0)
    scene = view.scene()
    for name in ("fc", "output", "pool", "flatten", "layer3_2"):  # the end of the net, bottom right
        node = area.document.project.graph.node_by_name(name)
        if node is not None:
            view.centerOn(scene.nodes[node.id])
            QApplication.processEvents()
            view.minimap.refresh()
            assert view.minimap.isVisible()
            assert not _covers_a_card(view.minimap) or view.minimap.faded, name
            if not view.minimap.faded:
                assert view.minimap.graphicsEffect().opacity() == 1.0


def test_with_cards_in_every_corner_it_fades_and_comes_back_under_the_cursor(area, qtbot):
    view = area.current_view()
    view.set_zoom(0.45)  # small cards everywhere
    mm = view.minimap
    corners = [QRect(p, mm.size()) for p in mm.corners()]
    fake = [c.adjusted(20, 20, -20, -20) for c in corners]  # a card in every corner
    mm.card_rects = lambda: fake
    mm.refresh()
    if not mm.isVisible():
        view.set_zoom(1.5)
        mm.refresh()
    assert mm.isVisible() and mm.faded and mm.graphicsEffect().opacity() == pytest.approx(FADED)
    centre = QPointF(mm.rect().center())
    QApplication.sendEvent(mm, QEnterEvent(centre, centre, QPointF(mm.mapToGlobal(mm.rect().center()))))
    assert mm.graphicsEffect().opacity() == 1.0  # under the cursor: there to be used
    QApplication.sendEvent(mm, QEvent(QEvent.Type.Leave))
    assert mm.graphicsEffect().opacity() == pytest.approx(FADED)


def test_view_menu_turns_the_minimap_off_and_it_stays_off(make_window, settings):
    w = make_window(make("resnet56"))
    view = w.canvas.current_view()
    view.set_zoom(1.5)
    view.minimap.refresh()
    assert view.minimap.isVisible() and w.act_minimap.isChecked()
    w.act_minimap.trigger()
    assert not view.minimap.isVisible() and settings.value("view/minimap") == "false"
    w2 = make_window(make("resnet56"))
    assert not w2.act_minimap.isChecked()  # the next window too
    w2.act_minimap.trigger()
    view.minimap.refresh()
    assert view.minimap.isVisible()


def _block_view(area):
    area.document.request_open_block("BasicBlock")  # resnet20's shortcuts are inside its block
    QApplication.processEvents()
    view = area.current_view()
    assert view.block == "BasicBlock"
    return view


def test_a_projection_chip_is_drawn_above_the_cards(area):
    view = _block_view(area)
    scene = view.scene()
    edges = [it for it in scene.items() if isinstance(it, EdgeItem) and it.is_shortcut and it.chip]
    assert edges
    for edge in edges:
        chip = edge.chip_item
        assert chip.scene() is scene and chip.isVisible()
        assert chip.zValue() > max(n.zValue() for n in scene.nodes.values())
        centre = edge.chip_rect().center()
        top = scene.items(centre)[0]
        assert isinstance(top, ChipItem) and top.edge is edge  # nothing is drawn over it
        assert view._item_at(view.mapFromScene(centre)) is edge  # and a click on it selects the edge
    assert all(isinstance(n, NodeItem) for n in scene.nodes.values())


def test_a_removed_shortcut_takes_its_chip_along(area):
    view = _block_view(area)
    scene = view.scene()
    doc = area.document
    before = sum(isinstance(it, ChipItem) for it in scene.items())
    edge = next(it for it in scene.items() if isinstance(it, EdgeItem) and it.is_shortcut)
    scene.select([], [edge.edge_id])
    view.delete_selection()
    QApplication.processEvents()
    assert sum(isinstance(it, ChipItem) for it in scene.items()) == before - 1
    doc.undo_stack.undo()
    QApplication.processEvents()
    assert sum(isinstance(it, ChipItem) for it in scene.items()) == before


def test_the_breadcrumb_shows_every_level_and_each_opens(qtbot):
    doc = Document(make("densenet_bc100_k12"))
    a = CanvasArea(doc)
    qtbot.addWidget(a)
    a.resize(1000, 700)
    a.show()
    qtbot.waitExposed(a)
    assert [c[0] for c in a.crumbs()] == ["Network"]
    block2 = doc.project.graph.node_by_name("denseblock2")
    doc.open_instance(None, block2.id)
    QApplication.processEvents()
    assert a.current_view().block == "DenseBlock16"
    inner = next(n for n in doc.project.blocks["DenseBlock16"].graph.nodes.values() if n.block_name)
    doc.open_instance("DenseBlock16", inner.id)  # a block inside the block
    QApplication.processEvents()
    crumbs = a.crumbs()
    assert [c[0] for c in crumbs] == [
        "Network",
        "DenseBlock16 (denseblock2)",
        f"{inner.block_name} ({inner.name})",
    ]
    assert crumbs[-1][2] == f"denseblock2.{inner.name}"
    text = a.breadcrumb_text()
    assert "DenseBlock16 (denseblock2)" in text and f"<b>{inner.block_name} ({inner.name})</b>" in text
    a.breadcrumb.linkActivated.emit("block:DenseBlock16|denseblock2")  # a click on the middle level
    QApplication.processEvents()
    assert a.current_view().block == "DenseBlock16" and doc.shown_instance("DenseBlock16") == "denseblock2"
    assert [c[0] for c in a.crumbs()] == ["Network", "DenseBlock16 (denseblock2)"]
    a.breadcrumb.linkActivated.emit("network")
    QApplication.processEvents()
    assert a.current_view().block is None
