"""Minimap: the whole graph as coloured boxes with the visible area outlined; click or drag to move.
It keeps off the cards (see Minimap)."""

from __future__ import annotations

import weakref
from typing import ClassVar

import shiboken6
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsOpacityEffect, QWidget

from app.canvas.node_item import HEIGHT, WIDTH
from app.theme import category_color

MARGIN = 10
FADED = 0.3  # opacity while it has to lie over a card (full again under the cursor)


class Minimap(QWidget):
    """Kept off the graph: it takes the first corner of the view where no card lies (bottom right,
    bottom left, top right, top left); where every corner has one, it fades so the cards show
    through, and comes back while the cursor is on it. View ▸ Minimap turns it off everywhere."""

    enabled = True
    _instances: ClassVar[weakref.WeakSet] = weakref.WeakSet()

    @classmethod
    def set_enabled_everywhere(cls, enabled: bool) -> None:
        cls.enabled = bool(enabled)
        for m in list(cls._instances):
            if shiboken6.isValid(m) and shiboken6.isValid(m.view):  # a closed view's is gone
                m.update_visibility()
            else:
                cls._instances.discard(m)

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.setFixedSize(176, 132)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.faded = False
        self.corner = 0
        self._hovered = False
        self._opacity = QGraphicsOpacityEffect(self)
        self._opacity.setOpacity(1.0)
        self.setGraphicsEffect(self._opacity)
        Minimap._instances.add(self)
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
        """Shown only while part of the graph lies outside the view (and View ▸ Minimap is on)."""
        if self._world.isEmpty() or not Minimap.enabled:
            self.setVisible(False)
            return
        vis = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        shown = not vis.contains(self._world.adjusted(30, 30, -30, -30))
        if shown:
            self.place()
        self.setVisible(shown)

    def card_rects(self) -> list[QRect]:
        """The cards (badges included) as the view shows them, in the view's coordinates."""
        scene = self.view.graph_scene()
        if scene is None:
            return []
        port = self.view.viewport()
        origin = port.mapTo(self.view, QPoint(0, 0))
        out = []
        for item in scene.nodes.values():
            r = self.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
            if r.intersects(port.rect()):
                out.append(r.translated(origin))
        return out

    def corners(self) -> list[QPoint]:
        port = self.view.viewport().geometry()
        w, h, m = self.width(), self.height(), MARGIN
        right, bottom = port.right() - w - m, port.bottom() - h - m
        left, top = port.left() + m, port.top() + m
        return [QPoint(right, bottom), QPoint(left, bottom), QPoint(right, top), QPoint(left, top)]

    def place(self) -> None:
        cards = self.card_rects()
        spots = self.corners()
        for i, spot in enumerate(spots):
            r = QRect(spot, self.size())
            if not any(r.intersects(c) for c in cards):
                self.corner, self.faded = i, False
                break
        else:
            self.corner, self.faded = 0, True
        self.move(spots[self.corner])
        self._opacity.setOpacity(FADED if self.faded and not self._hovered else 1.0)

    def enterEvent(self, event) -> None:
        self._hovered = True
        self._opacity.setOpacity(1.0)
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:
        self._hovered = False
        self._opacity.setOpacity(FADED if self.faded else 1.0)
        super().leaveEvent(event)

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
