"""A node card: category-coloured header with the name, the key parameters on one
line and a right-aligned output-shape badge; block instances get a double border.

Painting is cached per device transform (``DeviceCoordinateCache``) and
steps down with zoom (``card_fonts``): below ``LOD_PARAMS`` the parameter
line goes and the name grows, below ``LOD_BADGE`` the shape badge goes too
(edge shape labels go at ``edge_item.LOD_LABELS``, after the parameter line),
below ``LOD_TEXT`` the card is a plain coloured box. No text is drawn smaller
than about 7 px on screen.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from app.canvas.port_item import LOD_PORTS, PortItem, paint_label, paint_resting
from app.theme import CanvasTheme, mono_font, ui_font

WIDTH = 200.0  # VISUAL.md: 170-200; "denseblock1" fits beside its shape badge
HEIGHT = 54.0
HEADER = 24.0
RADIUS = 6.0
LOD_PARAMS = 0.7
LOD_BADGE = 0.5
LOD_TEXT = 0.3


def card_fonts(lod: float) -> tuple[float, float | None, float | None]:
    """Point sizes of (name, parameter line, shape badge) at a zoom; None: not drawn."""
    if lod >= LOD_PARAMS:
        return 9.5, 9.0, 9.0
    if lod >= LOD_BADGE:
        return 13.0, None, 11.0
    return 17.0, None, None


class NodeItem(QGraphicsItem):
    def __init__(self, node_id: str, theme: CanvasTheme) -> None:
        super().__init__()
        self.node_id = node_id
        self.theme = theme
        self.name = ""
        self.type_name = ""
        self.category = "shape"
        self.summary = ""
        self.shape_text = ""
        self.is_block = False
        self.frozen = False
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.in_ports: list[PortItem] = []
        self.out_port: PortItem | None = None
        self.edges: set = set()  # EdgeItems attached, updated when this node moves
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
        )
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)

    # ----- content -------------------------------------------------------------------
    def set_content(
        self,
        *,
        name: str,
        type_name: str,
        category: str,
        summary: str,
        is_block: bool,
        frozen: bool,
        inputs: int,
        input_labels: tuple[str, ...],
        has_output: bool,
    ) -> None:
        self.name, self.type_name, self.category = name, type_name, category
        self.summary, self.is_block, self.frozen = summary, is_block, frozen
        self._set_ports(inputs, input_labels, has_output)
        self._update_tooltip()
        self.update()

    def set_analysis(self, shape_text: str, errors: list[str], warnings: list[str]) -> None:
        if (shape_text, errors, warnings) != (self.shape_text, self.errors, self.warnings):
            self.shape_text, self.errors, self.warnings = shape_text, errors, warnings
            self._update_tooltip()
            self.update()

    def set_theme(self, theme: CanvasTheme) -> None:
        self.theme = theme
        self.update()
        for p in self.ports():
            p.update()

    def _update_tooltip(self) -> None:
        lines = [f"<b>{self.name}</b> &nbsp;<span style='color:gray'>{self.type_name}</span>"]
        if self.shape_text:
            lines.append(f"output {self.shape_text}")
        lines += [f"<span style='color:{self.theme.error}'>\u2716 {m}</span>" for m in self.errors]
        lines += [f"<span style='color:{self.theme.warning}'>\u26a0 {m}</span>" for m in self.warnings]
        self.setToolTip("<br>".join(lines))

    def _set_ports(self, inputs: int, labels: tuple[str, ...], has_output: bool) -> None:
        self.prepareGeometryChange()  # the bounding rect makes room for port labels
        if len(self.in_ports) != inputs or [p.label for p in self.in_ports] != list(labels[:inputs]) + [
            "" for _ in range(inputs - len(labels[:inputs]))
        ]:
            for p in self.in_ports:
                p.setParentItem(None)
                if p.scene() is not None:
                    p.scene().removeItem(p)
            self.in_ports = []
            for i in range(inputs):
                port = PortItem(self, i, False, labels[i] if i < len(labels) else "")
                port.setPos(self.input_x(i, inputs), 0)
                self.in_ports.append(port)
        if has_output and self.out_port is None:
            self.out_port = PortItem(self, 0, True)
            self.out_port.setPos(WIDTH / 2, HEIGHT)
        elif not has_output and self.out_port is not None:
            if self.out_port.scene() is not None:
                self.out_port.scene().removeItem(self.out_port)
            self.out_port = None

    @staticmethod
    def input_x(index: int, count: int) -> float:
        """Input 1 (the main path) in the middle; the others to its right, where shortcuts arrive."""
        if count <= 1 or index == 0:
            return WIDTH / 2
        if count == 2:
            return WIDTH * 0.78
        return WIDTH * (0.68 + 0.22 * (index - 1) / (count - 2))

    def ports(self) -> list[PortItem]:
        return self.in_ports + ([self.out_port] if self.out_port is not None else [])

    def in_port_pos(self, index: int) -> QPointF:
        n = max(1, len(self.in_ports))
        return self.scenePos() + QPointF(self.input_x(min(index, n - 1), n), 0)

    def out_port_pos(self) -> QPointF:
        return self.scenePos() + QPointF(WIDTH / 2, HEIGHT)

    # ----- geometry --------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        top = 24.0 if any(p.label for p in self.in_ports) else 7.0
        return QRectF(-24, -top, WIDTH + 32, HEIGHT + top + 8)

    def card_rect(self) -> QRectF:
        """The card itself, in scene coordinates (the bounding rect also holds ports and labels)."""
        return QRectF(self.pos().x(), self.pos().y(), WIDTH, HEIGHT)

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        p.addRoundedRect(QRectF(0, 0, WIDTH, HEIGHT), RADIUS, RADIUS)
        return p

    # No itemChange override: PySide6 6.12 corrupts None's refcount through it (the
    # "none_dealloc" abort NOTES.md saw with NodeGraphQt). Whoever moves a node calls this.
    def move_to(self, x: float, y: float) -> None:
        self.setPos(x, y)
        self.edges_moved()

    def edges_moved(self) -> None:
        for e in self.edges:
            e.update_path()

    # ----- painting ------------------------------------------------------------------
    def paint(self, painter: QPainter, option, widget=None) -> None:
        t = self.theme
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        rect = QRectF(0, 0, WIDTH, HEIGHT)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        header = t.header_color(self.category)
        selected = self.isSelected()
        if lod < LOD_TEXT:  # structure only: a coloured box
            painter.setPen(
                QPen(
                    QColor(t.error)
                    if self.errors
                    else (QColor(t.selection) if selected else header.lighter(115)),
                    3 if (self.errors or selected) else 1,
                )
            )
            painter.setBrush(header)
            painter.drawRoundedRect(rect, RADIUS, RADIUS)
            return

        name_pt, summary_pt, badge_pt = card_fonts(lod)
        compact = summary_pt is None  # zoomed out: the whole card in the category colour, a larger name
        band_h = HEIGHT if compact else HEADER
        self._paint_card(painter, rect, header, band_h, compact)
        self._paint_border(painter, rect, header, selected)
        self._paint_header(painter, band_h, compact, name_pt, badge_pt)
        if not compact and self.summary:
            pad = 9.0
            inset = 4.0 if self.is_block else 0.0
            body = QRectF(pad + inset, HEADER, WIDTH - 2 * pad - 2 * inset, HEIGHT - HEADER - inset / 2)
            sfont = ui_font(summary_pt)
            painter.setFont(sfont)
            painter.setPen(t.color("text_muted"))
            painter.drawText(
                body,
                Qt.AlignmentFlag.AlignVCenter,
                QFontMetricsF(sfont).elidedText(self.summary, Qt.TextElideMode.ElideRight, body.width()),
            )

        # resting ports (hovered or highlighted ones paint themselves on top)
        if lod >= LOD_PORTS:
            for p in self.ports():
                paint_resting(painter, t, p.pos())
                if p.label and lod >= 0.7:
                    painter.save()
                    painter.translate(p.pos())
                    paint_label(painter, t, p.label)
                    painter.restore()
        if self.errors or self.warnings:
            self._paint_problem_badge(painter, compact)

    def _paint_card(
        self, painter: QPainter, rect: QRectF, header: QColor, band_h: float, compact: bool
    ) -> None:
        """The card and its header band in the category colour (the whole card when ``compact``)."""
        t = self.theme
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(t.color("card"))
        painter.drawRoundedRect(rect, RADIUS, RADIUS)
        band = QPainterPath()
        band.addRoundedRect(QRectF(0, 0, WIDTH, band_h + (0 if compact else RADIUS)), RADIUS, RADIUS)
        clip = QPainterPath()
        clip.addRect(QRectF(0, 0, WIDTH, band_h))
        painter.setBrush(header)
        painter.drawPath(band.intersected(clip))
        if not compact:
            painter.setPen(QPen(header.lighter(135), 1))
            painter.drawLine(QPointF(RADIUS / 2, HEADER), QPointF(WIDTH - RADIUS / 2, HEADER))

    def _paint_border(self, painter: QPainter, rect: QRectF, header: QColor, selected: bool) -> None:
        """The border: block instances double, errors red, selection bright."""
        t = self.theme
        border = t.color("card_border")
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(border, 1))
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)
        if self.is_block:
            painter.setPen(QPen(header.lighter(150), 1))
            painter.drawRoundedRect(rect.adjusted(3, 3, -3, -3), RADIUS - 2, RADIUS - 2)
        if self.errors:
            painter.setPen(QPen(t.color("error"), 2))
            painter.drawRoundedRect(rect.adjusted(-1, -1, 1, 1), RADIUS + 1, RADIUS + 1)
        if selected:
            painter.setPen(QPen(t.color("selection"), 2))
            painter.drawRoundedRect(rect.adjusted(-3, -3, 3, 3), RADIUS + 2, RADIUS + 2)

    def _paint_header(self, painter: QPainter, band_h: float, compact: bool, name_pt, badge_pt) -> None:
        """The name (and a frozen mark) left, the output-shape badge right (below the name when
        ``compact``)."""
        t = self.theme
        pad = 9.0
        inset = 4.0 if self.is_block else 0.0
        right = WIDTH - pad - inset - (18 if (self.errors or self.warnings) else 0)
        badge_w = 0.0
        if self.shape_text and badge_pt is not None:
            mfont = mono_font(badge_pt)
            painter.setFont(mfont)
            badge_w = QFontMetricsF(mfont).horizontalAdvance(self.shape_text) + 8
            bh = QFontMetricsF(mfont).height() + 3
            # zoomed out the name takes the first line and the badge sits below it, right-aligned
            top = HEIGHT - bh - 5 - inset / 2 if compact else (band_h - bh) / 2 + inset / 4
            badge = QRectF(right - badge_w, top, badge_w, bh)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(t.color("badge", 200))
            painter.drawRoundedRect(badge, 4, 4)
            painter.setPen(t.color("error") if self.errors else t.color("badge_text"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, self.shape_text)
        font = ui_font(name_pt, bold=True)
        painter.setFont(font)
        painter.setPen(t.color("text"))
        two_lines = compact and badge_w > 0
        name_w = right - (0 if two_lines else badge_w + 6) - (pad + inset)
        name = QFontMetricsF(font).elidedText(
            self.name + (" \u2744" if self.frozen else ""), Qt.TextElideMode.ElideRight, name_w
        )
        name_h = QFontMetricsF(font).height() + 6 if two_lines else band_h
        painter.drawText(
            QRectF(pad + inset, inset / 2 if two_lines else inset / 4, name_w, name_h),
            Qt.AlignmentFlag.AlignVCenter,
            name,
        )

    def _paint_problem_badge(self, painter: QPainter, compact: bool) -> None:
        """The error (or warning) badge, top right."""
        t = self.theme
        c = t.color("error") if self.errors else t.color("warning")
        centre = QPointF(WIDTH - 12, (HEIGHT if compact else HEADER) / 2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(c)
        painter.drawEllipse(centre, 7, 7)
        painter.setPen(QPen(QColor("#ffffff"), 2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(centre + QPointF(0, -3.5), centre + QPointF(0, 1))
        painter.drawPoint(centre + QPointF(0, 3.8))
