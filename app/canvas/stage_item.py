"""Stage bands: a faint rounded band behind the nodes of a stage (``layer1`` ...) with
its name and size beside it, kept at screen size so a zoomed-out resnet152
still reads as stem, layer1..layer4, head.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from app.theme import CanvasTheme, ui_font

PAD_X, PAD_Y = 16.0, 12.0


class StageLabel(QGraphicsItem):
    """The stage's name at a constant screen size, right-aligned to the band's left edge (or,
    where other nodes sit left of the band, left-aligned beside its right edge)."""

    def __init__(self, parent: StageItem) -> None:
        super().__init__(parent)
        self.band = parent
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def _lines(self) -> tuple[str, str]:
        return self.band.name, self.band.subtitle

    def _x(self) -> float:
        return 10.0 if self.band.label_right else -170.0

    def boundingRect(self) -> QRectF:
        return QRectF(self._x(), -2, 162, 40)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        t = self.band.theme
        title, sub = self._lines()
        x = self._x()
        align = (
            Qt.AlignmentFlag.AlignLeft if self.band.label_right else Qt.AlignmentFlag.AlignRight
        ) | Qt.AlignmentFlag.AlignVCenter
        painter.setFont(ui_font(10, bold=True))
        painter.setPen(t.color("text_muted"))
        painter.drawText(QRectF(x, 0, 160, 18), align, title)
        f = ui_font(9)
        painter.setFont(f)
        c = t.color("text_muted")
        c.setAlpha(150)
        painter.setPen(c)
        painter.drawText(
            QRectF(x, 18, 160, 16), align, QFontMetricsF(f).elidedText(sub, Qt.TextElideMode.ElideRight, 160)
        )


class StageItem(QGraphicsItem):
    def __init__(self, name: str, theme: CanvasTheme) -> None:
        super().__init__()
        self.name = name
        self.theme = theme
        self.subtitle = ""
        self.label_right = False
        self._rect = QRectF()
        self.setZValue(-2)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.label = StageLabel(self)

    def set_nodes(self, rect: QRectF, subtitle: str, label_right: bool = False) -> None:
        self.prepareGeometryChange()
        self.label.prepareGeometryChange()
        self._rect = rect.adjusted(-PAD_X, -PAD_Y, PAD_X, PAD_Y)
        self.subtitle = subtitle
        self.label_right = label_right
        self.label.setPos(self._rect.right() if label_right else self._rect.left(), self._rect.top())
        self.update()
        self.label.update()

    def set_theme(self, theme: CanvasTheme) -> None:
        self.theme = theme
        self.update()
        self.label.update()

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-2, -2, 2, 2)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = self.theme.color("text", 10)
        line = self.theme.color("text", 34)
        pen = QPen(line, 1)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(self._rect, 10, 10)
