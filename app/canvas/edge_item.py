"""Edges: short cubic curves on the main path with a small monospace shape label;
shortcuts as dashed arcs to the right of the column, coloured by projection,
with a label chip ("identity", "zero-pad", "1x1 conv /2").
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem

from app.canvas.layout import ROW
from app.canvas.node_item import HEIGHT, WIDTH
from app.theme import CanvasTheme, mono_font

LOD_LABELS = 0.6  # shape labels go below this zoom
LOD_CHIPS = 0.4  # a shortcut's projection chip stays down to this zoom (larger)
GAP_CENTRE = HEIGHT + (ROW - HEIGHT) / 2  # below a node's top: the middle of the gap to the next row
ARC_GAP = 34.0  # the arc runs in the lane between the main column and a side column


CHIP_Z = 5.0  # above every card (cards are at 1 and up): a chip is never hidden under a card


class ChipItem(QGraphicsItem):
    """A shortcut's projection chip and its shape label, drawn for an EdgeItem above the cards (the
    arc itself stays below them). It lives in the scene beside its edge and follows it."""

    def __init__(self, edge: EdgeItem) -> None:
        super().__init__()
        self.edge = edge
        self._rect = QRectF()
        self.setZValue(CHIP_Z)
        self.setAcceptHoverEvents(False)

    def set_rect(self, rect: QRectF) -> None:
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def shape(self) -> QPainterPath:
        """Only the pill itself takes clicks (not the label beside it, which may lie over a card)."""
        path = QPainterPath()
        path.addRect(self.edge.chip_rect())
        return path

    def paint(self, painter: QPainter, option, widget=None) -> None:
        self.edge.paint_chip(painter, option.levelOfDetailFromTransform(painter.worldTransform()))

    def mousePressEvent(self, event) -> None:  # the chip stands for its edge
        sc = self.scene()
        if sc is not None and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            sc.clearSelection()
        self.edge.setSelected(True)
        event.accept()


class EdgeItem(QGraphicsItem):
    def __init__(self, edge_id: str, src, dst, theme: CanvasTheme) -> None:
        super().__init__()
        self.edge_id = edge_id
        self.src = src  # NodeItem
        self.dst = dst
        self.theme = theme
        self.dst_port = 0
        self.kind = "data"
        self.projection = "identity"
        self.label = ""  # shape text
        self.chip = ""  # shortcut label
        self.error = ""
        self._path = QPainterPath()
        self._label_at = QPointF()
        self._across = False  # a short edge between two columns
        self._label_clear = True
        self._chip_at = QPointF()
        self._bounds = QRectF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(0)
        self.chip_item = ChipItem(self)
        src.edges.add(self)
        dst.edges.add(self)

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemSceneHasChanged:
            old = self.chip_item.scene()
            if old is not None and old is not value:
                old.removeItem(self.chip_item)
            if value is not None and self.chip_item.scene() is None:
                value.addItem(self.chip_item)
            self._update_chip()
        elif change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.chip_item.update()
        return super().itemChange(change, value)

    @property
    def is_shortcut(self) -> bool:
        return self.kind == "shortcut"

    def detach(self) -> None:
        self.src.edges.discard(self)
        self.dst.edges.discard(self)

    def set_content(self, *, dst_port: int, kind: str, projection: str) -> None:
        self.dst_port, self.kind, self.projection = dst_port, kind, projection
        self.setZValue(-1 if kind == "shortcut" else 0)
        self.update_path()

    def set_analysis(self, label: str, chip: str, error: str, note: str = "") -> None:
        """``note``: a shortcut's projection as this instance applies it (tooltip)."""
        if (label, chip, error, note) != (self.label, self.chip, self.error, getattr(self, "_note", "")):
            self.label, self.chip, self.error, self._note = label, chip, error, note
            tip = error or (f"{chip} \u2014 {label}" if chip else label)
            self.setToolTip(tip + (f"\n{note}" if note and not error else ""))
            self.chip_item.setToolTip(self.toolTip())
            self._place_label()
            self._update_bounds()

    def set_theme(self, theme: CanvasTheme) -> None:
        self.theme = theme
        self.update()
        self.chip_item.update()

    # ----- geometry --------------------------------------------------------------------
    def update_path(self) -> None:
        self.prepareGeometryChange()
        p0 = self.src.out_port_pos()
        p3 = self.dst.in_port_pos(self.dst_port)
        path = QPainterPath(p0)
        self._across = False
        span = p3.y() - p0.y()
        long_edge = span > ROW * 1.5  # skips at least one row
        same_column = abs(p3.x() - p0.x()) < WIDTH / 2
        if self.is_shortcut or (long_edge and same_column and self._cards_between(p0, p3)):
            # an arc in the lane right of the column: a shortcut (dashed), or a data edge that skips nodes
            xa = max(self.src.scenePos().x(), self.dst.scenePos().x()) + WIDTH + ARC_GAP
            bend = min(46.0, max(span / 2 - 4, 12.0))
            if span > 2 * bend + 10:
                path.cubicTo(
                    QPointF(p0.x(), p0.y() + bend * 0.7),
                    QPointF(xa, p0.y() + bend * 0.15),
                    QPointF(xa, p0.y() + bend),
                )
                path.lineTo(QPointF(xa, p3.y() - bend))
                path.cubicTo(QPointF(xa, p3.y() - bend * 0.15), QPointF(p3.x(), p3.y() - bend * 0.7), p3)
            else:
                path.cubicTo(QPointF(xa, p0.y() + 20), QPointF(xa, p3.y() - 20), p3)
            # the chip sits in a gap between rows (layouts use 110-pixel rows), near the middle
            top = self.src.scenePos().y()
            k = round(((p0.y() + p3.y()) / 2 - top - GAP_CENTRE) / ROW)
            chip_y = top + k * ROW + GAP_CENTRE
            if not p0.y() + 10 < chip_y < p3.y() - 10:
                chip_y = (p0.y() + p3.y()) / 2
            self._chip_at = QPointF(xa, chip_y)
            self._label_at = QPointF(xa + 8, chip_y)
        elif long_edge:
            # to another column: an S-bend into that column's lane, then straight down; or, when cards
            # stand in that lane (a side branch rejoining the main column), down its own lane first
            bend = min(46.0, span / 4)
            if self._cards_between(QPointF(p3.x(), p0.y() + 2 * bend), p3):
                turn = QPointF(p0.x(), p3.y() - 2 * bend)
                path.lineTo(turn)
                path.cubicTo(QPointF(p0.x(), p3.y() - 0.6 * bend), QPointF(p3.x(), p3.y() - 1.4 * bend), p3)
                self._label_at = QPointF(p0.x() + 8, (p0.y() + turn.y()) / 2)
            else:
                turn = QPointF(p3.x(), p0.y() + 2 * bend)
                path.cubicTo(QPointF(p0.x(), p0.y() + 1.4 * bend), QPointF(p3.x(), p0.y() + 0.6 * bend), turn)
                path.lineTo(p3)
                self._label_at = QPointF(p3.x() + 8, (turn.y() + p3.y()) / 2)
        else:
            dy = abs(span)
            c = max(24.0, min(dy * 0.5, 120.0))
            if p3.y() < p0.y():  # upward: loop out of the way
                c = max(c, 60.0)
            path.cubicTo(QPointF(p0.x(), p0.y() + c), QPointF(p3.x(), p3.y() - c), p3)
            mid = path.pointAtPercent(0.5)
            self._label_at = QPointF(mid.x() + 8, mid.y())
            self._across = abs(p3.x() - p0.x()) > WIDTH / 2
        self._path = path
        self._place_label()
        self._update_bounds()

    def _label_rect(self) -> QRectF:
        w = QFontMetricsF(mono_font(9)).horizontalAdvance(self.label) if self.label else 0.0
        if self._across:  # a short edge to another column: the label sits centred above its middle
            mid = self._path.pointAtPercent(0.5)
            return QRectF(mid.x() - w / 2, mid.y() - 17, w, 14)
        return QRectF(self._label_at.x(), self._label_at.y() - 8, w, 16)

    def _place_label(self) -> None:
        """A short edge between columns (DenseNet's concatenations) runs among cards: its label is
        drawn only where no card hides it (the tooltip and the source's badge still say the shape)."""
        self._label_clear = True
        sc = self.scene()
        if not self._across or not self.label or sc is None:
            return
        rect = self._label_rect()
        self._label_clear = not any(
            hasattr(it, "card_rect") and it.card_rect().intersects(rect)
            for it in sc.items(rect, Qt.ItemSelectionMode.IntersectsItemBoundingRect)
        )

    def _cards_between(self, p0: QPointF, p3: QPointF) -> bool:
        """Whether other node cards stand on the straight way down from p0 to p3 (a data edge
        then arcs round them; with none, a gap left by a move or a grouping, it stays straight)."""
        sc = self.scene()
        if sc is None:
            return True
        strip = QRectF(min(p0.x(), p3.x()) - 6, p0.y() + 6, abs(p3.x() - p0.x()) + 12, p3.y() - p0.y() - 12)
        for it in sc.items(strip, Qt.ItemSelectionMode.IntersectsItemBoundingRect):
            if (
                it is not self.src
                and it is not self.dst
                and hasattr(it, "card_rect")
                and it.card_rect().intersects(strip)
            ):
                return True
        return False

    def _update_bounds(self) -> None:
        self.prepareGeometryChange()
        r = self._path.boundingRect().adjusted(-6, -6, 6, 6)
        if self.label or self.chip:
            r = r.united(QRectF(self._label_at.x() - 70, self._label_at.y() - 26, 270, 40))
        self._bounds = r
        self.update()
        self._update_chip()

    def chip_rect(self, zoomed_out: bool = False) -> QRectF:
        fm = QFontMetricsF(mono_font(14 if zoomed_out else 9))
        w = fm.horizontalAdvance(self.chip) + 14
        h = fm.height() + 6
        return QRectF(self._chip_at.x() - w / 2, self._chip_at.y() - h / 2, w, h)

    def _update_chip(self) -> None:
        if self.is_shortcut and self.chip:
            self.chip_item.set_rect(QRectF(self._chip_at.x() - 90, self._chip_at.y() - 16, 290, 32))
            self.chip_item.setVisible(True)
        else:
            self.chip_item.setVisible(False)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        s = QPainterPathStroker()
        s.setWidth(10)
        return s.createStroke(self._path)

    def path(self) -> QPainterPath:
        return QPainterPath(self._path)

    def color(self) -> QColor:
        if self.error:
            return self.theme.color("error")
        if self.is_shortcut:
            return self.theme.projection_color(self.projection)
        return self.theme.color("edge")

    # ----- painting --------------------------------------------------------------------
    def paint(self, painter: QPainter, option, widget=None) -> None:
        t = self.theme
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        color = self.color()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, lod > 0.2)
        width = 1.6 if not self.isSelected() else 2.6
        pen = QPen(color, width)
        pen.setCosmetic(lod < 0.5)
        if self.is_shortcut:
            pen.setStyle(Qt.PenStyle.DashLine)
            pen.setDashPattern([5, 3])
        if self.isSelected():
            halo = QPen(t.color("selection", 110), width + 4)
            halo.setCosmetic(pen.isCosmetic())
            painter.setPen(halo)
            painter.drawPath(self._path)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if lod < LOD_CHIPS or (lod < LOD_LABELS and not (self.is_shortcut and self.chip)):
            return
        if self.is_shortcut and self.chip:
            return  # the chip and its label: ChipItem, above the cards
        if self.label and (self._label_clear or self.error):
            painter.setFont(mono_font(9))
            painter.setPen(t.color("error") if self.error else t.color("edge_label"))
            r = self._label_rect()
            painter.drawText(
                QRectF(r.left(), r.top(), max(r.width() + 4, 170 if not self._across else 0), r.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                self.label,
            )

    def paint_chip(self, painter: QPainter, lod: float) -> None:
        """The projection chip ("1x1 conv /2") and the shape label beside it (ChipItem paints this)."""
        if lod < LOD_CHIPS or not (self.is_shortcut and self.chip):
            return
        t = self.theme
        color = self.color()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, lod > 0.2)
        zoomed_out = lod < LOD_LABELS  # only the projection chip is left, in a larger font
        painter.setFont(mono_font(14 if zoomed_out else 9))
        chip = self.chip_rect(zoomed_out)
        h = chip.height()
        painter.setPen(QPen(color, 1))
        painter.setBrush(t.color("background"))
        painter.drawRoundedRect(chip, h / 2, h / 2)
        painter.setPen(color)
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, self.chip)
        if self.label and not zoomed_out:
            painter.setPen(t.color("error") if self.error else t.color("edge_label"))
            painter.drawText(
                QRectF(chip.right() + 6, chip.top(), 170, chip.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                self.label,
            )
