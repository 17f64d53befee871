"""Screenshots of the canvas a person can look at.

Written to a temporary folder; with SKIPWIRE_SCREENSHOTS=1 they go to
docs/screenshots/ (how the ones in the repository were made).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from app.canvas.area import CanvasArea
from app.commands import connect_edit, delete_edit
from app.document import Document
from graph.templates import make

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def out_dir(tmp_path) -> Path:
    if os.environ.get("SKIPWIRE_SCREENSHOTS"):
        d = ROOT / "docs" / "screenshots"
        d.mkdir(parents=True, exist_ok=True)
        return d
    return tmp_path


def _area(qtbot, project, theme: str = "dark") -> CanvasArea:
    try:  # the window's chrome, when present, so the tabs look as in the editor
        from app.app_style import apply_theme

        apply_theme(QApplication.instance(), theme)
    except ImportError:
        pass
    area = CanvasArea(Document(project), theme=theme)
    qtbot.addWidget(area)
    area.resize(1280, 860)
    area.show()
    qtbot.waitExposed(area)
    return area


def _shot(area, path: Path, view=None, min_nodes: int = 3) -> None:
    """Save the screenshot, then check its pixels: every node whose card lies in the view shows
    something other than the canvas background inside its card (at least ``min_nodes`` of them), and
    the background itself shows between them."""
    image = area.grab().toImage()
    assert image.save(str(path))
    view = view or area.current_view()
    viewport = view.viewport()
    bg = QColor(area.theme.background)

    def differs(x: int, y: int) -> bool:
        c = image.pixelColor(x, y)
        return abs(c.red() - bg.red()) + abs(c.green() - bg.green()) + abs(c.blue() - bg.blue()) > 24

    shown = 0
    for item in view.graph_scene().nodes.values():
        card = view.mapFromScene(item.card_rect()).boundingRect()
        if not viewport.rect().contains(card):
            continue
        top_left = viewport.mapTo(area, card.topLeft())
        xs = [top_left.x() + card.width() * k // 6 for k in range(1, 6)]
        ys = [top_left.y() + card.height() * k // 4 for k in range(1, 4)]
        hits = sum(differs(x, y) for x in xs for y in ys)
        assert hits >= 3, f"node card at {card} in {path.name} looks like empty canvas"
        shown += 1
    assert shown >= min_nodes, f"{path.name}: only {shown} node cards in view"
    corner = viewport.mapTo(area, viewport.rect().topLeft())
    w, h = viewport.width(), viewport.height()
    samples = [
        (corner.x() + w * i // 20, corner.y() + h * j // 20) for i in range(1, 20) for j in range(1, 20)
    ]
    assert any(not differs(x, y) for x, y in samples), f"{path.name}: no background to be seen"


def _settle(area) -> None:
    for _ in range(3):
        QApplication.processEvents()
    area.current_view().minimap.refresh()
    QApplication.processEvents()


def test_screenshots_resnet20(qtbot, out_dir):
    area = _area(qtbot, make("resnet20"))
    view = area.current_view()
    view.set_zoom(0.95)
    view.centerOn(QPointF(260, 380))
    _settle(area)
    _shot(area, out_dir / "canvas_resnet20_network.png")

    block = area.open_block("BasicBlock")
    area.show_instance("layer2_0")
    block.frame_all()
    _settle(area)
    _shot(area, out_dir / "canvas_resnet20_block.png")


def test_screenshot_mismatch(qtbot, out_dir):
    project = make("resnet20")
    area = _area(qtbot, project)
    doc = area.document
    g = project.blocks["BasicBlock"].graph
    shortcut = next(e for e in g.edges.values() if e.is_shortcut)
    doc.push(delete_edit(project, "BasicBlock", [], [shortcut.id]))
    edit, _ = connect_edit(
        project, "BasicBlock", g.nodes_of_type("BlockInput")[0].id, 0, g.nodes_of_type("Add")[0].id, 1
    )
    doc.push(edit)
    assert not doc.analysis.valid
    view = area.open_block("BasicBlock")
    area.show_instance("layer2_0")
    view.frame_all()
    view.graph_scene().select([g.nodes_of_type("Add")[0].id])
    _settle(area)
    _shot(area, out_dir / "canvas_mismatch.png")


def test_screenshot_resnet152_overview(qtbot, out_dir):
    area = _area(qtbot, make("resnet152"))
    view = area.current_view()
    view.frame_all()
    _settle(area)
    _shot(area, out_dir / "canvas_resnet152_overview.png")
    view.set_zoom(0.5)
    view.centerOn(QPointF(100, 900))
    _settle(area)
    _shot(area, out_dir / "canvas_resnet152_mid.png")


def test_screenshot_light_theme(qtbot, out_dir):
    area = _area(qtbot, make("resnet18"), theme="light")
    view = area.open_block("BasicBlock")
    view.frame_all()
    _settle(area)
    _shot(area, out_dir / "canvas_light_block.png")
    try:
        from app.app_style import apply_theme

        apply_theme(QApplication.instance(), "dark")
    except ImportError:
        pass


def test_the_pixel_check_sees_a_canvas_without_its_nodes(qtbot, tmp_path):
    """_shot fails when the nodes are not drawn (the check can fail)."""
    area = _area(qtbot, make("resnet20"))
    view = area.current_view()
    view.set_zoom(0.95)
    view.centerOn(QPointF(260, 380))
    _settle(area)
    _shot(area, tmp_path / "drawn.png")
    for item in view.graph_scene().nodes.values():
        item.setVisible(False)
    _settle(area)
    with pytest.raises(AssertionError, match="looks like empty canvas"):
        _shot(area, tmp_path / "blank.png")
