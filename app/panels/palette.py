"""The palette: every registered layer type, grouped by category in
collapsible sections with a small icon each, a search field on top and the
project's block library first.  Items drag onto the canvas as
``application/x-skipwire-node`` mime data holding the UTF-8 type name
("Conv2d" or "block:BasicBlock"); a double-click asks the window to add one."""

from __future__ import annotations

import re

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from app.panels.icons import category_icon
from graph import registry
from graph.model import BLOCK_PREFIX

MIME_TYPE = "application/x-skipwire-node"
TYPE_ROLE = Qt.ItemDataRole.UserRole + 1


def natural_key(name: str) -> list:
    """DenseBlock6 before DenseBlock12."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def node_mime(type_name: str) -> QMimeData:
    data = QMimeData()
    data.setData(MIME_TYPE, type_name.encode("utf-8"))
    data.setText(type_name)
    return data


class _Tree(QTreeWidget):
    def mimeTypes(self) -> list[str]:
        return [MIME_TYPE]

    def mimeData(self, items) -> QMimeData:
        names = [i.data(0, TYPE_ROLE) for i in items if i.data(0, TYPE_ROLE)]
        return node_mime(names[0]) if names else QMimeData()

    def startDrag(self, _actions) -> None:
        """Copy only: the default item-view drag would remove the item after a Move drop."""
        item = self.currentItem()
        type_name = item.data(0, TYPE_ROLE) if item is not None else None
        if not type_name:
            return
        drag = QDrag(self)
        drag.setMimeData(node_mime(type_name))
        drag.setPixmap(item.icon(0).pixmap(24, 24))
        drag.exec(Qt.DropAction.CopyAction, Qt.DropAction.CopyAction)


class PalettePanel(QWidget):
    add_requested = Signal(str)  # a type name, on double-click or Enter

    def __init__(self, document=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("palettePanel")
        self._document = None
        self.search = QLineEdit(placeholderText="Search layers…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_filter)
        self.search.returnPressed.connect(self._on_return)
        self.tree = _Tree()
        self.tree.setHeaderHidden(True)
        # a long name keeps its end: imported blocks (InvertedResidual, InvertedResidual2, ...) were
        # five identical "InvertedResi…" in a narrow dock (issue 25); the tooltip has it whole
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setRootIsDecorated(True)
        self.tree.setIndentation(14)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.itemActivated.connect(self._on_activated)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(6)
        lay.addWidget(self.search)
        lay.addWidget(self.tree, 1)
        self._groups: dict[str, QTreeWidgetItem] = {}
        self._blocks_group: QTreeWidgetItem | None = None
        self._build_layers()
        if document is not None:
            self.set_document(document)

    # ----- building -------------------------------------------------------------
    def _build_layers(self) -> None:
        for category, title in registry.CATEGORIES.items():
            if category == "block":
                continue
            types = [t for t in registry.all_types() if t.category == category]
            if not types:
                continue
            group = self._group(category, title)
            for t in types:
                item = QTreeWidgetItem(group, [t.name])
                item.setIcon(0, category_icon(category))
                item.setData(0, TYPE_ROLE, t.name)
                item.setToolTip(0, f"<b>{t.name}</b><br>{t.doc}")
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
                )
        # the project's blocks first: in a ResNet they are what one adds most, and at the end of a
        # long list they were below the fold
        self._blocks_group = self._group("block", "Block library")
        self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(self._blocks_group))
        self.tree.insertTopLevelItem(0, self._blocks_group)
        self._blocks_group.setExpanded(True)

    def _group(self, category: str, title: str) -> QTreeWidgetItem:
        group = QTreeWidgetItem(self.tree, [title])
        group.setFlags(Qt.ItemFlag.ItemIsEnabled)
        font = group.font(0)
        font.setBold(True)
        group.setFont(0, font)
        group.setExpanded(True)
        self._groups[category] = group
        return group

    def set_document(self, document) -> None:
        if self._document is not None:
            try:
                self._document.changed.disconnect(self.refresh_blocks)
            except (RuntimeError, TypeError):
                pass
        self._document = document
        document.changed.connect(self.refresh_blocks)
        self.refresh_blocks()

    def refresh_blocks(self) -> None:
        group = self._blocks_group
        names = sorted(self._document.project.blocks, key=natural_key) if self._document is not None else []
        current = [group.child(i).data(0, TYPE_ROLE) for i in range(group.childCount())]
        wanted = [BLOCK_PREFIX + n for n in names]
        if current == wanted:
            return
        group.takeChildren()
        for name in names:
            bdef = self._document.project.blocks[name]
            args = ", ".join(f"{k}={p.default}" for k, p in bdef.params.items())
            item = QTreeWidgetItem(group, [name])
            item.setIcon(0, category_icon("block"))
            item.setData(0, TYPE_ROLE, BLOCK_PREFIX + name)
            item.setToolTip(0, f"<b>{name}</b>({args})" + (f"<br>{bdef.doc}" if bdef.doc else ""))
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
            )
        if not names:
            hint = QTreeWidgetItem(group, ["No blocks yet"])
            hint.setToolTip(0, "Select nodes on the canvas, then Edit ▸ Group into block")
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
        self._on_filter(self.search.text())

    # ----- queries (tests, window) --------------------------------------------------
    def visible_types(self) -> list[str]:
        out = []
        for g in self._groups.values():
            for i in range(g.childCount()):
                item = g.child(i)
                if not item.isHidden() and item.data(0, TYPE_ROLE):
                    out.append(item.data(0, TYPE_ROLE))
        return out

    def item_for(self, type_name: str) -> QTreeWidgetItem | None:
        for g in self._groups.values():
            for i in range(g.childCount()):
                if g.child(i).data(0, TYPE_ROLE) == type_name:
                    return g.child(i)
        return None

    # ----- slots -------------------------------------------------------------------
    def _on_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for category, g in self._groups.items():
            shown = 0
            for i in range(g.childCount()):
                item = g.child(i)
                type_name = item.data(0, TYPE_ROLE)
                if type_name is None:  # the "no blocks" hint
                    item.setHidden(bool(needle))
                    continue
                lt = registry.get(type_name)
                hay = f"{item.text(0)} {category} {lt.doc if lt else ''}".lower()
                hit = not needle or all(word in hay for word in needle.split())
                item.setHidden(not hit)
                shown += hit
            g.setHidden(bool(needle) and shown == 0)
            if needle and shown:
                g.setExpanded(True)

    def _on_return(self) -> None:
        visible = self.visible_types()
        if len(visible) >= 1 and self.search.text().strip():
            self.add_requested.emit(visible[0])

    def _on_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        type_name = item.data(0, TYPE_ROLE)
        if type_name:
            self.add_requested.emit(type_name)
