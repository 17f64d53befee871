"""The right-click menu of a GraphView: an edge's kind, projection and Delete; a node's Open
(a block instance), Cut, Copy, Duplicate, Group and Delete; the background's Add node, Paste,
Auto-layout and Frame all. Each entry runs the view's own action."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from app.canvas.edge_item import EdgeItem
from app.canvas.node_item import NodeItem
from graph import edits as E

PROJECTIONS = (
    ("identity", "Identity"),
    ("zero_pad", "Zero-pad (option A)"),
    ("zero_pad_both", "Zero-pad both sides (option A as a lambda)"),
    ("conv_bn", "1x1 conv + BN where needed (option B)"),
    ("conv_bn_always", "1x1 conv + BN always (option C)"),
)


class ContextMenuBuilder:
    """Builds the menu for what is under the cursor (an edge, a node, or nothing)."""

    def __init__(self, view) -> None:
        self.view = view

    def build(self, item, pos) -> QMenu:
        menu = QMenu(self.view)
        g = self.view.graph_scene().graph
        if isinstance(item, EdgeItem) and item.edge_id in g.edges:
            self._edge_menu(menu, g.edges[item.edge_id])
        elif isinstance(item, NodeItem):
            self._node_menu(menu, item, g)
        else:
            self._background_menu(menu, pos)
        return menu

    def _edge_menu(self, menu: QMenu, e) -> None:
        view = self.view
        kinds = menu.addMenu("Edge kind")
        for kind in ("data", "shortcut"):
            a = QAction(kind, kinds, checkable=True, checked=(e.kind == kind))
            a.triggered.connect(lambda _=False, k=kind, i=e.id: view.set_edge_kind(i, k))
            kinds.addAction(a)
        if e.is_shortcut:
            proj = menu.addMenu("Projection")
            for value, text in PROJECTIONS:
                a = QAction(text, proj, checkable=True, checked=(e.projection == value))
                a.triggered.connect(lambda _=False, v=value, i=e.id: view.set_edge_projection(i, v))
                proj.addAction(a)
        menu.addSeparator()
        menu.addAction("Delete edge", lambda i=e.id: view._push(E.RemoveEdge(view.block, i)))

    def _node_menu(self, menu: QMenu, item: NodeItem, g) -> None:
        view = self.view
        if not item.isSelected():
            view.graph_scene().select([item.node_id])
        node = g.nodes.get(item.node_id)
        if node is not None and node.block_name is not None:
            menu.addAction(f"Open {node.block_name}", lambda n=node.id: view.open_instance(n))
            menu.addSeparator()
        for text, fn, keys in (
            ("Cut", view.cut, QKeySequence.StandardKey.Cut),
            ("Copy", view.copy, QKeySequence.StandardKey.Copy),
            ("Duplicate", view.duplicate, "Ctrl+D"),
            ("Group into block", view.group_selection, "Ctrl+G"),
            ("Delete", view.delete_selection, QKeySequence.StandardKey.Delete),
        ):
            a = menu.addAction(text, fn)
            a.setShortcut(QKeySequence(keys))

    def _background_menu(self, menu: QMenu, pos) -> None:
        view = self.view
        add = menu.addAction("Add node\u2026", lambda p=pos: view.open_quick_add(p))
        add.setShortcut(QKeySequence("Tab"))
        menu.addAction("Paste", view.paste).setShortcut(QKeySequence(QKeySequence.StandardKey.Paste))
        menu.addSeparator()
        menu.addAction("Auto-layout", view.auto_layout).setShortcut(QKeySequence("L"))
        menu.addAction("Frame all", view.frame_all).setShortcut(QKeySequence("F"))
