"""The Problems panel: every diagnostic of the last analysis with a severity
icon, its message and where it is; double-click focuses the node on the
canvas, and each offered fix is a button that applies it as one undo step."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.panels.icons import severity_icon

DIAG_ROLE = Qt.ItemDataRole.UserRole + 1
COL_MESSAGE, COL_LOCATION, COL_FIX = 0, 1, 2


def location_text(project, diag) -> str:
    where = "network" if diag.block is None else f"block {diag.block}"
    try:
        graph = project.graph_of(diag.block)
    except KeyError:
        return where
    if diag.node and diag.node in graph.nodes:
        return f"{where} › {graph.nodes[diag.node].name}"
    if diag.edge and diag.edge in graph.edges:
        e = graph.edges[diag.edge]
        src = graph.nodes.get(e.src)
        dst = graph.nodes.get(e.dst)
        label = e.name if e.is_shortcut and e.name else "edge"
        return f"{where} › {label} ({src.name if src else e.src} → {dst.name if dst else e.dst})"
    return where


def focus_target(project, diag) -> str | None:
    """The node to focus for a diagnostic: its node, else its edge's destination."""
    if diag.node:
        return diag.node
    if diag.edge:
        try:
            e = project.graph_of(diag.block).edges.get(diag.edge)
        except KeyError:
            return None
        return e.dst if e else None
    return None


class ProblemsPanel(QWidget):
    count_changed = Signal(int, int)  # errors, warnings

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Problem", "Location", "Fix"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setWordWrap(True)
        header = self.tree.header()
        header.setSectionResizeMode(COL_MESSAGE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_LOCATION, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_FIX, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.tree.itemDoubleClicked.connect(self._on_double_clicked)
        self.empty = QLabel("No problems — the graph is valid.")
        self.empty.setProperty("role", "muted")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.empty, 1)
        self.fix_buttons: list[QPushButton] = []
        document.analysis_changed.connect(self.set_analysis)
        self.set_analysis(document.analysis)

    def diagnostics(self) -> list:
        return [self.tree.topLevelItem(i).data(0, DIAG_ROLE) for i in range(self.tree.topLevelItemCount())]

    def set_analysis(self, analysis) -> None:
        self.tree.clear()
        self.fix_buttons = []
        diags = list(analysis.diagnostics) if analysis is not None else []
        diags.sort(key=lambda d: (d.severity != "error", d.block or "", d.message))
        project = self.document.project
        for d in diags:
            item = QTreeWidgetItem(self.tree, [d.message, location_text(project, d), ""])
            item.setIcon(COL_MESSAGE, severity_icon(d.severity))
            item.setData(0, DIAG_ROLE, d)
            item.setToolTip(COL_MESSAGE, f"{d.severity} [{d.code}]: {d.message}")
            if d.fixes:
                self.tree.setItemWidget(item, COL_FIX, self._fix_widget(d))
        errors = sum(d.is_error for d in diags)
        self.tree.setVisible(bool(diags))
        self.empty.setVisible(not diags)
        self.count_changed.emit(errors, len(diags) - errors)

    def _fix_widget(self, diag) -> QWidget:
        w = QWidget()
        lay = QHBoxLayout(w)
        lay.setContentsMargins(2, 1, 2, 1)
        lay.setSpacing(4)
        for fix in diag.fixes:
            b = QPushButton(fix.label)
            b.setToolTip(f"Apply: {fix.label} (one undo step)")
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            b.clicked.connect(lambda _=False, a=fix.action: self.document.apply_fix(a))
            lay.addWidget(b)
            self.fix_buttons.append(b)
        lay.addStretch(1)
        return w

    def _on_double_clicked(self, item: QTreeWidgetItem, _col: int) -> None:
        d = item.data(0, DIAG_ROLE)
        target = focus_target(self.document.project, d)
        if target is not None:
            self.document.request_focus(d.block, target)
