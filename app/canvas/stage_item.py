"""Stage bands: a faint rounded band behind the nodes of a stage (``layer1`` ...) with
its name and size beside it, kept at screen size so a zoomed-out resnet152
still reads as stem, layer1..layer4, head. A stage of block instances also gets
a small depth spin box (− n +) under its name: a click on − or + asks the scene
to set the stage's depth (graph/stage_edits.py, one undo step).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from app.theme import CanvasTheme, ui_font

PAD_X, PAD_Y = 16.0, 12.0
# Screen heights a band needs for each line beside it (the label and the spin box keep their screen
# size; a band zoomed out shorter than them would run them into the next band's: issue 25)
TITLE_H, SUBTITLE_H, STEPPER_H = 18.0, 36.0, 62.0
NEST_PAD = 8.0  # extra padding per level of stages nested inside a band


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

    def parts(self) -> list[QRectF]:
        """The local rectangles drawn at the band's current screen height (title, subtitle)."""
        room = self.band.screen_height()
        x = self._x()
        out = []
        if room >= TITLE_H:
            out.append(QRectF(x, 0, 160, 18))
        if room >= SUBTITLE_H and self.band.subtitle:
            out.append(QRectF(x, 18, 160, 16))
        return out

    def paint(self, painter: QPainter, option, widget=None) -> None:
        t = self.band.theme
        title, sub = self._lines()
        x = self._x()
        shown = len(self.parts())
        if not shown:
            return
        align = (
            Qt.AlignmentFlag.AlignLeft if self.band.label_right else Qt.AlignmentFlag.AlignRight
        ) | Qt.AlignmentFlag.AlignVCenter
        painter.setFont(ui_font(10, bold=True))
        painter.setPen(t.color("text_muted"))
        painter.drawText(QRectF(x, 0, 160, 18), align, title)
        if shown < 2:
            return
        f = ui_font(9)
        painter.setFont(f)
        c = t.color("text_muted")
        c.setAlpha(150)
        painter.setPen(c)
        painter.drawText(
            QRectF(x, 18, 160, 16), align, QFontMetricsF(f).elidedText(sub, Qt.TextElideMode.ElideRight, 160)
        )


class DepthStepper(QGraphicsItem):
    """The band's depth spin box, at screen size under the stage's name: [−  n  +]."""

    W, H, BUTTON = 78.0, 20.0, 22.0

    def __init__(self, parent: StageItem) -> None:
        super().__init__(parent)
        self.band = parent
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Depth: block instances in this stage (− removes the last, + copies it)")

    def _x(self) -> float:
        return 10.0 if self.band.label_right else -8.0 - self.W

    def boundingRect(self) -> QRectF:
        return QRectF(self._x(), 38, self.W, self.H)

    def target(self, x: float) -> int | None:
        """The depth a click at local ``x`` asks for (None: the number itself, or below 1)."""
        r = self.boundingRect()
        if x < r.left() + self.BUTTON:
            n = self.band.depth - 1
        elif x > r.right() - self.BUTTON:
            n = self.band.depth + 1
        else:
            return None
        return n if n >= 1 else None

    def shown(self) -> bool:
        """Drawn (and clickable) only where the band is tall enough on screen for it."""
        return self.isVisible() and self.band.screen_height() >= STEPPER_H

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not self.shown():
            return
        t = self.band.theme
        r = self.boundingRect().adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(t.color("text", 60), 1)
        painter.setPen(pen)
        painter.setBrush(t.color("text", 12))
        painter.drawRoundedRect(r, 5, 5)
        painter.drawLine(
            int(r.left() + self.BUTTON), int(r.top() + 3), int(r.left() + self.BUTTON), int(r.bottom() - 3)
        )
        painter.drawLine(
            int(r.right() - self.BUTTON), int(r.top() + 3), int(r.right() - self.BUTTON), int(r.bottom() - 3)
        )
        painter.setFont(ui_font(10, bold=True))
        painter.setPen(t.color("text"))
        center = Qt.AlignmentFlag.AlignCenter
        painter.drawText(QRectF(r.left(), r.top(), self.BUTTON, r.height()), center, "\u2212")
        painter.drawText(QRectF(r.right() - self.BUTTON, r.top(), self.BUTTON, r.height()), center, "+")
        painter.setFont(ui_font(10))
        painter.drawText(
            QRectF(r.left() + self.BUTTON, r.top(), r.width() - 2 * self.BUTTON, r.height()),
            center,
            str(self.band.depth),
        )

    def mousePressEvent(self, event) -> None:
        if not self.shown():
            event.ignore()
            return
        n = self.target(event.pos().x())
        if n is not None and self.band.on_depth is not None:
            self.band.on_depth(self.band.name, n)
        event.accept()


class StageItem(QGraphicsItem):
    def __init__(self, name: str, theme: CanvasTheme) -> None:
        super().__init__()
        self.name = name
        self.theme = theme
        self.subtitle = ""
        self.label_right = False
        self.depth = 0
        self.on_depth: Callable[[str, int], None] | None = None  # set by the scene
        self._rect = QRectF()
        self.setZValue(-2)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.label = StageLabel(self)
        self.stepper = DepthStepper(self)
        self.stepper.hide()

    def set_nodes(
        self,
        rect: QRectF,
        subtitle: str,
        label_right: bool = False,
        depth: int | None = None,
        outer: int = 0,
    ) -> None:
        """``depth``: show the depth spin box with this value (stages of block instances), or hide it.
        ``outer``: how many levels of stages nest inside this one; its band pads around theirs."""
        self.prepareGeometryChange()
        self.label.prepareGeometryChange()
        self.stepper.prepareGeometryChange()
        px, py = PAD_X + NEST_PAD * outer, PAD_Y + NEST_PAD * outer
        self._rect = rect.adjusted(-px, -py, px, py)
        self.setZValue(-2 - outer)  # the outer band behind the inner ones
        self.subtitle = subtitle
        self.label_right = label_right
        anchor = (self._rect.right() if label_right else self._rect.left(), self._rect.top())
        self.label.setPos(*anchor)
        self.stepper.setPos(*anchor)
        self.depth = depth or 0
        self.stepper.setVisible(depth is not None)
        self.update()
        self.label.update()
        self.stepper.update()

    def set_theme(self, theme: CanvasTheme) -> None:
        self.theme = theme
        self.update()
        self.label.update()

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-2, -2, 2, 2)

    def screen_height(self) -> float:
        """The band's height on screen, at its view's zoom."""
        scene = self.scene()
        views = scene.views() if scene is not None else []
        return self._rect.height() * (views[0].transform().m22() if views else 1.0)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = self.theme.color("text", 10)
        line = self.theme.color("text", 34)
        pen = QPen(line, 1)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(self._rect, 10, 10)
