"""GraphView: the interactive canvas of one graph.

Connect by dragging between ports (compatible ports highlight, the others
dim; a refused drop says why on ``status_message``), box select, move
(``Document.move_nodes`` on release: one undoable edit), Delete, Ctrl+X/C/V/D, Ctrl+G, F frames,
L auto-layout, Tab or double-click quick add, wheel zoom about the cursor,
middle-drag or space-drag pan, palette drops (``application/x-skipwire-node``).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsView, QMenu

from app import composite as X
from app.canvas.context_menu import ContextMenuBuilder
from app.canvas.edge_item import ChipItem, EdgeItem
from app.canvas.layout import auto_layout
from app.canvas.minimap import Minimap
from app.canvas.node_clipboard import NodeClipboard
from app.canvas.node_item import HEIGHT, WIDTH, NodeItem
from app.canvas.port_drag import PortDrag
from app.canvas.port_item import PortItem
from app.canvas.quick_add import NO_INPUT, QuickAdd, choices
from app.canvas.scene import GraphScene
from graph import edits as E

NODE_MIME = "application/x-skipwire-node"
MIN_ZOOM, MAX_ZOOM = 0.04, 3.0

_KEYS = {
    Qt.Key.Key_Delete,
    Qt.Key.Key_Backspace,
    Qt.Key.Key_F,
    Qt.Key.Key_L,
    Qt.Key.Key_Tab,
    Qt.Key.Key_Escape,
    Qt.Key.Key_Space,
}
_CTRL_KEYS = {Qt.Key.Key_C, Qt.Key.Key_X, Qt.Key.Key_V, Qt.Key.Key_D, Qt.Key.Key_G, Qt.Key.Key_A}


class GraphView(QGraphicsView):
    status_message = Signal(str)

    def __init__(self, document, scene: GraphScene, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self._scene = scene  # keep a Python reference (NOTES.md)
        self.setScene(scene)
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing
            | QPainter.RenderHint.TextAntialiasing
            | QPainter.RenderHint.SmoothPixmapTransform
        )
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setSceneRect(QRectF(-100000, -100000, 200000, 200000))
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.minimap = Minimap(self)
        self.quick_add = QuickAdd(self.viewport())
        self.quick_add.chosen.connect(self._on_quick_add_chosen)
        self.quick_add.cancelled.connect(self._on_quick_add_cancelled)
        self._quick_ctx: dict | None = None
        self._press_positions: dict[str, tuple[float, float]] = {}
        self.port_drag = PortDrag(self)
        self.node_clipboard = NodeClipboard(self)
        self.context_menu = ContextMenuBuilder(self)
        self._pan_last: QPointF | None = None
        self._space = False
        document.changed.connect(self.minimap.schedule)
        document.positions_changed.connect(lambda *_: self.minimap.schedule())
        document.project_replaced.connect(self.minimap.schedule)
        self.minimap.schedule()

    # ----- helpers ----------------------------------------------------------------------------
    @property
    def block(self) -> str | None:
        return self._scene.block

    @property
    def project(self):
        return self.document.project

    def graph_scene(self) -> GraphScene:
        return self._scene

    def zoom(self) -> float:
        return self.transform().m11()

    def _push(self, edit, label: str | None = None) -> bool:
        try:
            self.document.push(edit, label)
        except X.EditRefused as exc:
            self.status_message.emit(str(exc))
            return False
        except (ValueError, KeyError) as exc:
            self.status_message.emit(f"That edit could not be made: {exc}")
            return False
        return True

    def _try(self, build) -> object | None:
        """Run an edit builder; a refusal goes to the status bar."""
        try:
            return build()
        except X.EditRefused as exc:
            self.status_message.emit(str(exc))
            return None

    # ----- zoom and framing ---------------------------------------------------------------------
    def set_zoom(self, z: float) -> None:
        z = max(MIN_ZOOM, min(MAX_ZOOM, z))
        f = z / self.zoom()
        self.scale(f, f)
        self.minimap.update_visibility()
        self.minimap.update()

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not delta:
            return
        factor = 1.0015**delta
        target = max(MIN_ZOOM, min(MAX_ZOOM, self.zoom() * factor))
        f = target / self.zoom()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.scale(f, f)
        self.minimap.update_visibility()
        self.minimap.update()
        event.accept()

    def frame_rect(self, rect: QRectF, max_zoom: float = 1.0) -> None:
        if rect.isEmpty():
            return
        self.fitInView(rect.adjusted(-60, -50, 60, 50), Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > max_zoom:
            self.set_zoom(max_zoom)
            self.centerOn(rect.center())
        self.minimap.update_visibility()
        self.minimap.update()

    def frame_all(self) -> None:
        self.frame_rect(self._scene.nodes_rect())

    def frame_readable(self, min_zoom: float = 0.8) -> None:
        """Frame the graph, but never below ``min_zoom``: a tall graph then shows its top (the
        input and what follows) at a size one can read, as an opened file or block should."""
        self.frame_all()
        if self.zoom() >= min_zoom:
            return
        rect = self._scene.nodes_rect()
        self.set_zoom(min_zoom)
        visible = self.viewport().height() / min_zoom
        self.centerOn(rect.center().x(), rect.top() + visible / 2 - 40)
        self.minimap.update()

    def frame_selection(self) -> None:
        ids = self._scene.selected_node_ids()
        if ids:
            self.frame_rect(self._scene.nodes_rect(ids))
        else:
            self.frame_all()

    def focus_node(self, node_id: str) -> None:
        item = self._scene.nodes.get(node_id)
        if item is None:
            return
        self._scene.select([node_id])
        if self.zoom() < 0.7:
            self.set_zoom(0.9)
        self.centerOn(item.sceneBoundingRect().center())
        self.minimap.update()

    # ----- background grid -------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        t = self._scene.theme
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.fillRect(rect, QColor(t.background))
        z = self.zoom()
        for step, color, min_px in ((24, t.grid_minor, 14), (120, t.grid_major, 28)):
            if step * z < min_px:
                continue
            pen = QPen(QColor(color), 1)
            pen.setCosmetic(True)
            painter.setPen(pen)
            left = int(rect.left() // step) * step
            top = int(rect.top() // step) * step
            lines = [
                QLineF(x, rect.top(), x, rect.bottom()) for x in range(left, int(rect.right()) + 1, step)
            ]
            lines += [
                QLineF(rect.left(), y, rect.right(), y) for y in range(top, int(rect.bottom()) + 1, step)
            ]
            painter.drawLines(lines)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        m = 12
        self.minimap.move(self.width() - self.minimap.width() - m, self.height() - self.minimap.height() - m)
        self.minimap.update_visibility()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if hasattr(self, "minimap"):
            self.minimap.update_visibility()
            self.minimap.update()

    # ----- mouse ------------------------------------------------------------------------------------
    def _item_at(self, pos) -> object | None:
        for item in self.items(pos):
            if isinstance(item, (PortItem, NodeItem, EdgeItem)):
                return item
            if isinstance(item, ChipItem):  # a shortcut's chip, drawn above the cards, is its edge
                return item.edge
        return None

    def mousePressEvent(self, event) -> None:
        pos = event.position().toPoint()
        if self.quick_add.isVisible() and not self.quick_add.geometry().contains(pos):
            self.quick_add.cancel()
        if event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space
        ):
            self._pan_last = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton:
            item = self._item_at(pos)
            if isinstance(item, PortItem):
                self.port_drag.start(item, self.mapToScene(pos))
                event.accept()
                return
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_positions = {
                i.node_id: (i.pos().x(), i.pos().y())
                for i in self._scene.selectedItems()
                if isinstance(i, NodeItem)
            }

    def mouseMoveEvent(self, event) -> None:
        if self._pan_last is not None:
            d = event.position() - self._pan_last
            self._pan_last = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(d.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(d.y()))
            event.accept()
            return
        if self.port_drag.active:
            self.port_drag.drag(self.mapToScene(event.position().toPoint()))
            event.accept()
            return
        super().mouseMoveEvent(event)
        if self._press_positions and event.buttons() & Qt.MouseButton.LeftButton:
            for node_id in self._press_positions:
                item = self._scene.nodes.get(node_id)
                if item is not None:
                    item.edges_moved()
            if self._scene.stages:
                self._scene.refresh_stages()

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_last is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_last = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor
            )
            event.accept()
            return
        if self.port_drag.active and event.button() == Qt.MouseButton.LeftButton:
            self.port_drag.finish(event.position().toPoint())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self._press_positions:
            new = {}
            for node_id, p in self._press_positions.items():
                item = self._scene.nodes.get(node_id)
                if item is not None and (item.pos().x(), item.pos().y()) != p:
                    new[node_id] = (item.pos().x(), item.pos().y())
            self._press_positions = {}
            if new:
                self.document.move_nodes(self.block, new)

    def mouseDoubleClickEvent(self, event) -> None:
        pos = event.position().toPoint()
        item = self._item_at(pos)
        if isinstance(item, PortItem):
            item = item.node_item
        if isinstance(item, NodeItem):
            node = self._scene.graph.nodes.get(item.node_id)
            if node is not None and node.block_name is not None:
                self.open_instance(item.node_id)
                event.accept()
                return
            super().mouseDoubleClickEvent(event)
            return
        if item is None:
            self.open_quick_add(pos)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    # ----- quick add ------------------------------------------------------------------------------
    def open_quick_add(self, pos=None, connect_from: tuple[str, int] | None = None) -> None:
        if pos is None:
            pos = self.viewport().mapFromGlobal(self.cursor().pos())
            if not self.viewport().rect().contains(pos):
                pos = self.viewport().rect().center()
        self._quick_ctx = {"scene_pos": self.mapToScene(pos), "connect_from": connect_from}
        items = choices(self.project, self.block)
        if connect_from is not None:  # a dropped edge: only what can take it as an input
            items = [(name, desc) for name, desc in items if name not in NO_INPUT]
        self.quick_add.open_at(pos, items)

    def _on_quick_add_chosen(self, type_name: str) -> None:
        ctx = self._quick_ctx or {
            "scene_pos": self.mapToScene(self.viewport().rect().center()),
            "connect_from": None,
        }
        self._quick_ctx = None
        p = ctx["scene_pos"]
        where = (round(p.x() - WIDTH / 2), round(p.y() - (0 if ctx["connect_from"] else HEIGHT / 2)))
        if ctx["connect_from"]:
            src, port = ctx["connect_from"]
            built = self._try(
                lambda: X.add_connected_edit(self.project, self.block, type_name, where, src, port)
            )
        else:
            edit = self._try(lambda: X.new_node_edit(self.project, self.block, type_name, where))
            built = (edit, edit.node.id) if edit is not None else None
        if built is not None and self._push(built[0]):
            self._scene.select([built[1]])
        self.setFocus()

    def _on_quick_add_cancelled(self) -> None:
        self._quick_ctx = None
        self.setFocus()

    # ----- palette drops -----------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(NODE_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(NODE_MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:
        if not event.mimeData().hasFormat(NODE_MIME):
            super().dropEvent(event)
            return
        type_name = bytes(event.mimeData().data(NODE_MIME)).decode("utf-8").strip()
        p = self.mapToScene(event.position().toPoint())
        edit = self._try(
            lambda: X.new_node_edit(
                self.project, self.block, type_name, (round(p.x() - WIDTH / 2), round(p.y() - HEIGHT / 2))
            )
        )
        event.acceptProposedAction()
        if edit is not None and self._push(edit):
            self._scene.select([edit.node.id])
            self.status_message.emit(f'Added "{edit.node.name}" ({type_name}).')

    # ----- keyboard ------------------------------------------------------------------------------------
    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride:
            key, mods = event.key(), event.modifiers()
            ours = (mods & Qt.KeyboardModifier.ControlModifier and key in _CTRL_KEYS) or (
                not mods & Qt.KeyboardModifier.ControlModifier and key in _KEYS
            )
            if ours and not self.quick_add.isVisible():
                event.accept()
                return True
        if event.type() == QEvent.Type.KeyPress and event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
            self.keyPressEvent(event)
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if ctrl:
            action = {
                Qt.Key.Key_C: self.copy,
                Qt.Key.Key_X: self.cut,
                Qt.Key.Key_V: self.paste,
                Qt.Key.Key_D: self.duplicate,
                Qt.Key.Key_G: self.group_selection,
                Qt.Key.Key_A: self.select_all,
            }.get(key)
        else:
            action = {
                Qt.Key.Key_Delete: self.delete_selection,
                Qt.Key.Key_Backspace: self.delete_selection,
                Qt.Key.Key_F: self.frame_selection,
                Qt.Key.Key_L: self.auto_layout,
                Qt.Key.Key_Tab: self.open_quick_add,
                Qt.Key.Key_Escape: self._escape,
            }.get(key)
        if action is not None:
            action()
            event.accept()
            return
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._pan_last = None
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def _escape(self) -> None:
        if self.port_drag.active:
            self.port_drag.end()
        elif self.quick_add.isVisible():
            self.quick_add.cancel()
        else:
            self._scene.select([])

    # ----- edit actions ------------------------------------------------------------------------------------
    def select_all(self) -> None:
        self._scene.select(list(self._scene.nodes), list(self._scene.edges))

    def delete_selection(self) -> None:
        nodes, edges = self._scene.selected_node_ids(), self._scene.selected_edge_ids()
        edit = self._try(lambda: X.delete_edit(self.project, self.block, nodes, edges))
        if edit is not None:
            self._push(edit)

    def copy(self) -> bool:
        return self.node_clipboard.copy()

    def cut(self) -> None:
        self.node_clipboard.cut()

    def paste(self, data: dict | None = None) -> None:
        self.node_clipboard.paste(data)

    def duplicate(self) -> None:
        self.node_clipboard.duplicate()

    def group_selection(self) -> None:
        nodes = self._scene.selected_node_ids()
        built = self._try(lambda: X.group_edit(self.project, self.block, nodes))
        if built is not None and self._push(built[0]):
            self._scene.select([built[2]])
            self.status_message.emit(
                f"Grouped {len(nodes)} nodes into block {built[1]}; double-click to open it."
            )

    def open_instance(self, node_id: str) -> None:
        """Open a block instance's definition, showing the shapes of this instance ("layer3_0")."""
        self.document.open_instance(self.block, node_id)

    def auto_layout(self) -> None:
        pos = auto_layout(self._scene.graph)
        if pos:
            self._push(X.SetPositions(self.block, pos), "Auto-layout")
            self.frame_readable()  # the zoom stays readable; a tall graph shows its top

    def set_edge_kind(self, edge_id: str, kind: str) -> None:
        edit = self._try(lambda: X.set_edge_kind_edit(self.project, self.block, edge_id, kind))
        if edit is not None:
            self._push(edit)

    def set_edge_projection(self, edge_id: str, projection: str) -> None:
        self._push(
            E.SetEdgeField(self.block, edge_id, "projection", projection),
            f"Set shortcut projection to {projection}",
        )

    # ----- context menu ------------------------------------------------------------------------------------
    def contextMenuEvent(self, event) -> None:
        item = self._item_at(event.pos())
        if isinstance(item, PortItem):
            item = item.node_item
        menu = self.build_context_menu(item, event.pos())
        menu.exec(event.globalPos())

    def build_context_menu(self, item, pos) -> QMenu:
        return self.context_menu.build(item, pos)
