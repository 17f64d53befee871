"""Ports: small circles on a node's top (inputs) and bottom (output) edges that grow on hover.

While a new edge is being dragged, the view marks each port ``ok`` (it would
accept the edge: highlighted) or ``dim``.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from app.theme import mono_font

RADIUS = 4.5
HOVER_RADIUS = 6.5
LOD_PORTS = 0.35


class PortItem(QGraphicsItem):
    def __init__(self, node_item, index: int, is_output: bool, label: str = "") -> None:
        super().__init__(node_item)
        self.node_item = node_item
        self.index = index
        self.is_output = is_output
        self.label = label
        self.state = "normal"  # normal | ok | dim
        self._hover = False
        self.setAcceptHoverEvents(True)
        self.setZValue(2)
        self.setCursor(Qt.CursorShape.CrossCursor)

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def boundingRect(self) -> QRectF:
        r = HOVER_RADIUS + 2
        if self.label:
            return QRectF(-r - 16, -r - 16, 2 * r + 16, 2 * r + 16)
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self):
        from PySide6.QtGui import QPainterPath

        p = QPainterPath()
        p.addEllipse(QPointF(0, 0), HOVER_RADIUS + 3, HOVER_RADIUS + 3)
        return p

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.update()

    def hoverEnterEvent(self, event) -> None:
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:
        self._hover = False
        self.update()

    def scene_center(self) -> QPointF:
        return self.scenePos()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self.state == "normal" and not self._hover:
            return  # the node's cached painting draws resting ports (see NodeItem.paint)
        theme = self.node_item.theme
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < LOD_PORTS:
            return
        grow = self._hover or self.state == "ok"
        r = HOVER_RADIUS if grow else RADIUS
        color = theme.color("port_ok") if self.state == "ok" else theme.color("port")
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.state == "dim":  # cover the resting port the node drew, then a faint one
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(theme.color("card"))
            painter.drawEllipse(QPointF(0, 0), RADIUS + 1.5, RADIUS + 1.5)
            color.setAlpha(60)
        painter.setPen(QPen(theme.color("card"), 1.5))
        painter.setBrush(color)
        painter.drawEllipse(QPointF(0, 0), r, r)
        if self.label and lod >= 0.7:
            paint_label(painter, theme, self.label)


def paint_label(painter: QPainter, theme, label: str) -> None:
    """A port's name (Gate's h, t, x) just above-left of it, in the port's coordinates."""
    painter.setFont(mono_font(9))
    painter.setPen(theme.color("text_muted"))
    painter.drawText(
        QRectF(-HOVER_RADIUS - 16, -HOVER_RADIUS - 16, 14, 14),
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
        label,
    )


def paint_resting(painter: QPainter, theme, at: QPointF) -> None:
    painter.setPen(QPen(theme.color("card"), 1.5))
    painter.setBrush(theme.color("port"))
    painter.drawEllipse(at, RADIUS, RADIUS)
