"""Small category glyphs drawn with QPainter in the category's colour, used by
the palette and the inspector header (no image files to ship or scale)."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

from app.app_style import category_color

SIZE = 16


def _draw(p: QPainter, category: str, c: QColor) -> None:
    pen = QPen(c, 1.6)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    fill = QColor(c)
    fill.setAlpha(60)
    if category == "convolution":  # a 3x3 kernel
        p.setBrush(fill)
        p.drawRoundedRect(QRectF(2.5, 2.5, 11, 11), 2, 2)
        for v in (6.2, 9.8):
            p.drawLine(QPointF(v, 3), QPointF(v, 13))
            p.drawLine(QPointF(3, v), QPointF(13, v))
    elif category == "normalization":  # a bell curve
        path = QPainterPath(QPointF(1.5, 13))
        path.cubicTo(QPointF(6, 13), QPointF(5.5, 2.5), QPointF(8, 2.5))
        path.cubicTo(QPointF(10.5, 2.5), QPointF(10, 13), QPointF(14.5, 13))
        p.drawPath(path)
    elif category == "activation":  # a ReLU hinge
        p.drawPolyline([QPointF(1.5, 11), QPointF(7, 11), QPointF(14, 3)])
    elif category == "pooling":  # 2x2 into 1
        p.setBrush(fill)
        p.drawRect(QRectF(1.5, 1.5, 6, 6))
        p.drawRect(QRectF(1.5, 8.5, 6, 6))
        p.setBrush(c)
        p.drawRect(QRectF(10, 5.5, 4.5, 4.5))
    elif category == "merge":  # a sum
        p.setBrush(fill)
        p.drawEllipse(QRectF(2, 2, 12, 12))
        p.drawLine(QPointF(8, 5), QPointF(8, 11))
        p.drawLine(QPointF(5, 8), QPointF(11, 8))
    elif category == "linear":  # two layers fully connected
        pts_a = [QPointF(3, 3.5), QPointF(3, 8), QPointF(3, 12.5)]
        pts_b = [QPointF(13, 5.5), QPointF(13, 10.5)]
        thin = QPen(c, 0.9)
        p.setPen(thin)
        for a in pts_a:
            for b in pts_b:
                p.drawLine(a, b)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(c)
        for q in pts_a + pts_b:
            p.drawEllipse(q, 1.7, 1.7)
    elif category == "shape":  # reshape arrows
        p.drawLine(QPointF(2, 5), QPointF(14, 5))
        p.drawPolyline([QPointF(11, 2.5), QPointF(14, 5), QPointF(11, 7.5)])
        p.drawLine(QPointF(14, 11), QPointF(2, 11))
        p.drawPolyline([QPointF(5, 8.5), QPointF(2, 11), QPointF(5, 13.5)])
    elif category == "regularization":  # dropped units
        p.setBrush(c)
        for i, (x, y) in enumerate(((4, 4), (12, 4), (8, 8), (4, 12), (12, 12))):
            p.setBrush(c if i % 2 == 0 else Qt.BrushStyle.NoBrush)
            p.drawEllipse(QPointF(x, y), 2, 2)
    elif category == "block":  # a double-bordered card
        p.drawRoundedRect(QRectF(1.5, 2.5, 13, 11), 2, 2)
        p.setBrush(fill)
        p.drawRoundedRect(QRectF(4, 5, 8, 6), 1, 1)
    else:  # io: an arrow into a port
        p.drawLine(QPointF(8, 1.5), QPointF(8, 10))
        p.drawPolyline([QPointF(4.5, 7), QPointF(8, 10.5), QPointF(11.5, 7)])
        p.setBrush(fill)
        p.drawEllipse(QPointF(8, 13), 2, 2)


@lru_cache(maxsize=64)
def _icon(category: str, color: str, dpr: float) -> QIcon:
    pm = QPixmap(int(SIZE * dpr), int(SIZE * dpr))
    pm.setDevicePixelRatio(dpr)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    _draw(p, category, QColor(color))
    p.end()
    return QIcon(pm)


def category_icon(category: str, dpr: float = 2.0) -> QIcon:
    return _icon(category, category_color(category).name(), dpr)


def severity_icon(severity: str, dpr: float = 2.0) -> QIcon:
    from app.app_style import chrome

    c = chrome()
    color = QColor(c.error if severity == "error" else c.warning if severity == "warning" else c.accent)
    pm = QPixmap(int(SIZE * dpr), int(SIZE * dpr))
    pm.setDevicePixelRatio(dpr)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    if severity == "warning":
        path = QPainterPath(QPointF(8, 1.5))
        path.lineTo(QPointF(15, 14))
        path.lineTo(QPointF(1, 14))
        path.closeSubpath()
        p.drawPath(path)
        mark_top, mark_bottom, dot = 6.0, 10.0, 12.2
    else:
        p.drawEllipse(QRectF(1.5, 1.5, 13, 13))
        mark_top, mark_bottom, dot = 4.5, 9.0, 11.5
    pen = QPen(QColor("#1b1e24") if severity == "warning" else QColor("#ffffff"), 1.8)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    if severity in ("error", "warning"):
        p.drawLine(QPointF(8, mark_top), QPointF(8, mark_bottom))
        p.drawPoint(QPointF(8, dot))
    else:
        p.drawLine(QPointF(8, 7), QPointF(8, 11.5))
        p.drawPoint(QPointF(8, 4.5))
    p.end()
    return QIcon(pm)
