"""A layout that lays its widgets out in a row and wraps them onto more rows where the row is too
narrow (Qt's flow layout example), for panel toolbars: a toolbar never sets a minimum width wider
than its widest item, so a bottom tab fits a small screen (issue 25).

``FlowLayout(parent, spacing)``; ``addWidget(w)``; ``addStretch()`` ends a row's packing early (the
widgets after it keep to the right where they fit on the same row).
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QSizePolicy, QSpacerItem, QWidget


class FlowLayout(QLayout):
    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._stretch_at: int | None = None  # index of the first item pushed to the right
        self.setSpacing(spacing)

    # ----- QLayout's interface -----------------------------------------------------
    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def addStretch(self, _stretch: int = 1) -> None:
        self._stretch_at = len(self._items)

    def addSpacing(self, size: int) -> None:
        self.addItem(QSpacerItem(size, 0, QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Minimum))

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._do_layout(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._do_layout(rect, apply=True)

    def sizeHint(self) -> QSize:  # everything on one row
        m = self.contentsMargins()
        visible = [i for i in self._items if not i.isEmpty()]
        w = sum(i.sizeHint().width() for i in visible) + self.spacing() * max(len(visible) - 1, 0)
        h = max((i.sizeHint().height() for i in visible), default=0)
        return QSize(w + m.left() + m.right(), h + m.top() + m.bottom())

    def minimumSize(self) -> QSize:  # the widest single item
        m = self.contentsMargins()
        size = QSize()
        for item in self._items:
            if not item.isEmpty():
                size = size.expandedTo(item.minimumSize())
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    # ----- placing ------------------------------------------------------------------
    def _do_layout(self, rect: QRect, apply: bool) -> int:
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        gap = self.spacing()
        rows: list[list[QLayoutItem]] = [[]]
        x = 0
        for item in self._items:
            if item.isEmpty():
                continue
            w = item.sizeHint().width()
            if rows[-1] and x + w > area.width():
                rows.append([])
                x = 0
            rows[-1].append(item)
            x += w + gap
        y = area.y()
        right = set(self._items[self._stretch_at :]) if self._stretch_at is not None else set()
        for row in rows:
            if not row:
                continue
            height = max(_height(i, area.width()) for i in row)
            if apply:
                left_items = [i for i in row if i not in right]
                right_items = [i for i in row if i in right]
                x = area.x()
                for item in left_items:
                    self._place(item, x, y, height, area)
                    x += min(item.sizeHint().width(), area.width()) + gap
                x = area.right() + 1
                for item in reversed(right_items):
                    x -= min(item.sizeHint().width(), area.width())
                    self._place(item, x, y, height, area)
                    x -= gap
            y += height + gap
        return y - gap - rect.y() + m.bottom() if rows[0] else m.top() + m.bottom()

    @staticmethod
    def _place(item: QLayoutItem, x: int, y: int, height: int, area: QRect) -> None:
        w = min(item.sizeHint().width(), area.width())
        h = _height(item, area.width())
        item.setGeometry(QRect(QPoint(x, y + (height - h) // 2), QSize(w, h)))


def _height(item: QLayoutItem, room: int) -> int:
    """An item's height at the width it gets (a word-wrapped label takes more lines when cut)."""
    w = min(item.sizeHint().width(), room)
    return item.heightForWidth(w) if item.hasHeightForWidth() else item.sizeHint().height()


__all__ = ["FlowLayout"]
