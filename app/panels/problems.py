"""The Problems panel: every diagnostic of the last analysis with a severity
icon, its message and where it is; double-click focuses the node on the
canvas, and each offered fix is a button that applies it as one undo step."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.document import failing_instances as _failing
from app.panels.icons import severity_icon

DIAG_ROLE = Qt.ItemDataRole.UserRole + 1


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


def failing_instances(project, analysis, diag) -> list[str]:
    """Inside a block: the instances whose analysis fails at the diagnostic's node (one
    definition, several shapes: often only the stride-2 instances fail)."""
    if diag.block is None or analysis is None:
        return []
    target = focus_target(project, diag)
    if target is None:
        return []
    return _failing(analysis, diag.block, target)


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


class _Row(QWidget):
    """One diagnostic: severity icon, the message (wrapped), where it is, and its fix buttons.
    A double-click anywhere on it (the selectable message too) shows the place."""

    def __init__(self, panel: ProblemsPanel, diag, location: str) -> None:
        super().__init__()
        self._panel, self._diag = panel, diag
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 5, 8, 5)
        lay.setSpacing(8)
        icon = QLabel()
        icon.setPixmap(severity_icon(diag.severity).pixmap(16, 16))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        icon.setContentsMargins(0, 2, 0, 0)
        lay.addWidget(icon)
        text = QVBoxLayout()
        text.setSpacing(2)
        self.message = QLabel(diag.message, wordWrap=True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setToolTip(f"{diag.severity} [{diag.code}]")
        where = QLabel(f"{location}  ·  {diag.code}")
        where.setProperty("role", "muted")
        text.addWidget(self.message)
        text.addWidget(where)
        for lab in (icon, self.message, where):
            lab.installEventFilter(self)
        lay.addLayout(text, 1)
        fixes = QVBoxLayout()
        fixes.setSpacing(3)
        for fix in diag.fixes:
            b = QPushButton(fix.label)
            b.setToolTip(f"{fix.label} (one undo step)")
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            b.clicked.connect(lambda _=False, f=fix: panel.document.apply_fix(f.action, f.label))
            fixes.addWidget(b)
            panel.fix_buttons.append(b)
        fixes.addStretch(1)
        lay.addLayout(fixes)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.MouseButtonDblClick:
            self._panel.show_place(self._diag)
            return True
        return super().eventFilter(obj, event)

    def mouseDoubleClickEvent(self, event) -> None:
        self._panel.show_place(self._diag)
        event.accept()


class ProblemsPanel(QWidget):
    """Diagnostics of the last analysis, errors first; double-click shows the place on the canvas."""

    count_changed = Signal(int, int)  # errors, warnings

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.tree = QTreeWidget()
        self.tree.setColumnCount(1)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setIndentation(0)
        # each row is a widget sized to its text; the theme's item padding would inset it into a
        # shorter box (its last line cut, the next row seeming to draw over it)
        self.tree.setStyleSheet("QTreeView::item { padding: 0px; margin: 0px; }")
        self.tree.itemDoubleClicked.connect(self._on_double_clicked)
        # the width the messages wrap in changes with the panel, and with a scroll bar that comes or
        # goes: fit the rows whenever the list's viewport changes size
        self.tree.viewport().installEventFilter(self)
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
            item = QTreeWidgetItem(self.tree)
            item.setData(0, DIAG_ROLE, d)
            where = location_text(project, d)
            failing = failing_instances(project, analysis, d)
            if failing:
                shown = ", ".join(failing[:4]) + (f" and {len(failing) - 4} more" if len(failing) > 4 else "")
                where += f"  ·  in {shown}"
            row = _Row(self, d, where)
            self.tree.setItemWidget(item, 0, row)
        self._fit_rows()
        errors = sum(d.is_error for d in diags)
        self.tree.setVisible(bool(diags))
        self.empty.setVisible(not diags)
        self.count_changed.emit(errors, len(diags) - errors)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_rows()

    def showEvent(self, event) -> None:  # rebuilt while its tab was hidden: fit at the shown width
        super().showEvent(event)
        self._fit_rows()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.tree.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_rows()
        return super().eventFilter(obj, event)

    def _fit_rows(self) -> None:
        """Wrapped messages change height with the panel's width: each row gets the height its text
        needs at the width it is shown at, and the rows are laid out again (a size hint changed
        without a new layout left a taller row drawn over the next one)."""
        width = max(200, self.tree.viewport().width())
        changed = False
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            row = self.tree.itemWidget(item, 0)
            if row is not None:
                row.ensurePolished()  # measure with the stylesheet's fonts and paddings, not the defaults
                h = row.heightForWidth(width) if row.hasHeightForWidth() else row.sizeHint().height()
                hint = QSize(width, max(h, row.minimumSizeHint().height()))
                if item.sizeHint(0) != hint:
                    item.setSizeHint(0, hint)
                    changed = True
        if changed:
            self.tree.doItemsLayout()

    def _on_double_clicked(self, item: QTreeWidgetItem, _col: int) -> None:
        self.show_place(item.data(0, DIAG_ROLE))

    def show_place(self, d) -> None:
        """Focus the diagnostic's node on the canvas (inside a block: on an instance that fails)."""
        target = focus_target(self.document.project, d)
        if target is not None:
            self.document.request_focus(d.block, target)
