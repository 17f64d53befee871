"""Quick add: a searchable list of layer types and blocks that opens at the cursor
(Tab, double-click on empty canvas, or a new edge dropped on empty space).

An overlay on the view's viewport rather than a top-level popup, so that it
never grabs the mouse and works the same offscreen.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.panels.icons import category_icon
from graph import registry
from graph.registry import CATEGORIES

MAX_ROWS = 12  # the list grows with the matches up to this many rows, then scrolls

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1
HIDDEN = {"network": ("BlockInput", "BlockOutput"), "block": ("Input", "Output")}
NO_INPUT = tuple(t.name for t in registry.all_types() if t.inputs == 0)  # not offered for a dropped edge


def choices(project, block: str | None) -> list[tuple[str, str]]:
    """(type name, description) for every type that can be added to this graph."""
    hidden = HIDDEN["block" if block is not None else "network"]
    out = [
        (t.name, CATEGORIES.get(t.category, t.category)) for t in registry.all_types() if t.name not in hidden
    ]
    out += [(f"block:{name}", "Block") for name in sorted(project.blocks) if name != block]
    return out


class QuickAdd(QFrame):
    chosen = Signal(str)  # a type name
    cancelled = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("QuickAdd")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Add node\u2026")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setUniformItemSizes(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.empty = QLabel("No layer or block matches", self)
        self.empty.setProperty("role", "muted")
        self.empty.setContentsMargins(6, 2, 6, 4)
        lay.addWidget(self.search)
        lay.addWidget(self.list)
        lay.addWidget(self.empty)
        self.resize(260, 300)
        self.search.textChanged.connect(self._filter)
        self.search.installEventFilter(self)
        self.list.itemActivated.connect(self._activate)
        self.list.itemClicked.connect(self._activate)
        self.hide()

    def open_at(self, pos: QPoint, items: list[tuple[str, str]]) -> None:
        self.list.clear()
        for name, desc in items:
            it = QListWidgetItem(
                category_icon(registry.category_of(name)), f"{name.removeprefix('block:')}    \u2014 {desc}"
            )
            it.setData(TYPE_ROLE, name)
            self.list.addItem(it)
        self._anchor = pos
        self.search.clear()
        self._filter("")
        self.show()
        self.raise_()
        self.search.setFocus()

    def _filter(self, text: str) -> None:
        """Hide what does not match every word; the current row is the first whose name starts
        with what was typed ("relu" picks ReLU, not LeakyReLU), else the first match."""
        words = text.lower().split()
        first = prefixed = None
        shown = 0
        for i in range(self.list.count()):
            it = self.list.item(i)
            name = it.data(TYPE_ROLE).removeprefix("block:").lower()
            hay = (it.data(TYPE_ROLE) + " " + it.text()).lower()
            hidden = not all(w in hay for w in words)
            it.setHidden(hidden)
            if not hidden:
                shown += 1
                first = first or it
                if prefixed is None and words and name.startswith(words[0]):
                    prefixed = it
        current = prefixed or first
        if current is not None:
            self.list.setCurrentItem(current)
            self.list.scrollToItem(current)
        self._fit(shown)

    def _fit(self, rows: int) -> None:
        """As tall as the matches (up to MAX_ROWS), kept inside the view at the anchor."""
        self.empty.setVisible(rows == 0)
        self.list.setVisible(rows > 0)
        row_h = self.list.sizeHintForRow(0) if self.list.count() else 22
        self.list.setFixedHeight(
            min(max(rows, 1), MAX_ROWS) * max(row_h, 18) + 2 * self.list.frameWidth() + 2
        )
        self.adjustSize()
        self.resize(280, self.sizeHint().height())
        parent = self.parentWidget()
        pos = getattr(self, "_anchor", QPoint(0, 0))
        x = min(max(0, pos.x()), max(0, parent.width() - self.width()))
        y = min(max(0, pos.y()), max(0, parent.height() - self.height()))
        self.move(x, y)

    def _activate(self, item: QListWidgetItem) -> None:
        name = item.data(TYPE_ROLE)
        self.hide()
        self.chosen.emit(name)

    def choose_current(self) -> None:
        item = self.list.currentItem()
        if item is not None and not item.isHidden():
            self._activate(item)

    def _close_if_focus_left(self) -> None:
        focus = QApplication.focusWidget()
        if self.isVisible() and (focus is None or not self.isAncestorOf(focus)) and focus is not None:
            self.cancel()

    def cancel(self) -> None:
        self.hide()
        self.cancelled.emit()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.search and event.type() == QEvent.Type.FocusOut and self.isVisible():
            QTimer.singleShot(0, self._close_if_focus_left)
        if obj is self.search and isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.choose_current()
                return True
            if key == Qt.Key.Key_Escape:
                self.cancel()
                return True
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                step = 1 if key == Qt.Key.Key_Down else -1
                row = self.list.currentRow()
                while 0 <= row + step < self.list.count():
                    row += step
                    if not self.list.item(row).isHidden():
                        self.list.setCurrentRow(row)
                        break
                return True
        return super().eventFilter(obj, event)
