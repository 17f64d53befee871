"""Minimap: the whole graph as coloured boxes with the visible area outlined; click or drag to move."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from app.canvas.node_item import HEIGHT, WIDTH
from app.theme import category_color


class Minimap(QWidget):
    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.setFixedSize(176, 132)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._pixmap: QPixmap | None = None
        self._world = QRectF()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(120)
        self._timer.timeout.connect(self.refresh)

    def schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _map(self) -> tuple[float, QPointF]:
        w = self._world
        if w.isEmpty():
            return 1.0, QPointF()
        s = min((self.width() - 12) / w.width(), (self.height() - 12) / w.height())
        off = QPointF(
            (self.width() - w.width() * s) / 2 - w.left() * s,
            (self.height() - w.height() * s) / 2 - w.top() * s,
        )
        return s, off

    def refresh(self) -> None:
        scene = self.view.graph_scene()
        if scene is None:
            return
        rect = QRectF()
        for item in scene.nodes.values():
            rect = rect.united(QRectF(item.pos(), QPointF(item.pos().x() + WIDTH, item.pos().y() + HEIGHT)))
        self._world = rect.adjusted(-40, -40, 40, 40)
        pm = QPixmap(self.size())
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        s, off = self._map()
        theme = scene.theme
        p.setPen(Qt.PenStyle.NoPen)
        for item in scene.nodes.values():
            r = QRectF(
                item.pos().x() * s + off.x(),
                item.pos().y() * s + off.y(),
                max(2.0, WIDTH * s),
                max(1.5, HEIGHT * s),
            )
            c = QColor(theme.error) if item.errors else category_color(item.category)
            p.setBrush(c)
            p.drawRect(r)
        p.end()
        self._pixmap = pm
        self.update_visibility()
        self.update()

    def update_visibility(self) -> None:
        """Shown only while part of the graph lies outside the view."""
        if self._world.isEmpty():
            self.setVisible(False)
            return
        vis = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        self.setVisible(not vis.contains(self._world.adjusted(30, 30, -30, -30)))

    def paintEvent(self, event) -> None:
        scene = self.view.graph_scene()
        if scene is None:
            return
        theme = scene.theme
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(theme.color("card_border"), 1))
        p.setBrush(QColor(theme.minimap))
        p.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        if self._pixmap is not None:
            p.drawPixmap(0, 0, self._pixmap)
        s, off = self._map()
        vis = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        r = QRectF(vis.left() * s + off.x(), vis.top() * s + off.y(), vis.width() * s, vis.height() * s)
        r = r.intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        view_c = QColor(theme.minimap_view)
        p.setPen(QPen(view_c, 1.5))
        view_c.setAlpha(28)
        p.setBrush(view_c)
        p.drawRect(r)

    def _goto(self, pos) -> None:
        s, off = self._map()
        if s > 0:
            self.view.centerOn(QPointF((pos.x() - off.x()) / s, (pos.y() - off.y()) / s))

    def mousePressEvent(self, event) -> None:
        self._goto(event.position())
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._goto(event.position())
        event.accept()
