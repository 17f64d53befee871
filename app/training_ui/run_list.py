"""The runs in the runs folder: tick them to overlay their curves, open the graph each one trained.

Each row is a run folder (training.runs.list_runs): its name, status, dataset,
epochs done and best validation accuracy, and a colour swatch that matches
its curves once it is shown. "Open graph" asks the editor (through
``open_project_requested``) to open the run's own ``project.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Run", "Status", "Epochs", "Val acc", "")
STATUS_TEXT = {
    "running": "running",
    "completed": "done",
    "stopped": "stopped",
    "diverged": "diverged",
    "failed": "failed",
    "unknown": "—",
}


def swatch(color: QColor | None, size: int = 12) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    if color is not None:
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setBrush(color)
        p.setPen(Qt.PenStyle.NoPen)
        p.drawRoundedRect(1, 1, size - 2, size - 2, 3, 3)
        p.end()
    return QIcon(pm)


class RunList(QWidget):
    overlay_changed = Signal(list)  # the checked run keys (folder paths), in list order
    open_project_requested = Signal(str)  # path of a run's project.json
    current_changed = Signal(str)  # the selected run's key ("" for none)
    evaluate_requested = Signal(str)  # a run folder

    def __init__(
        self, color_for: Callable[[str], QColor | None] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.runs_dir: Path | None = None
        self.color_for = color_for or (lambda key: None)
        self.infos: dict[str, object] = {}
        self._checked: dict[str, None] = {}  # ordered set
        self._updating = False

        head = QHBoxLayout()
        head.setContentsMargins(8, 6, 8, 2)
        title = QLabel("Runs")
        title.setProperty("role", "section")
        self.folder_label = QLabel("")
        self.folder_label.setProperty("role", "muted")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refresh_button = QToolButton()
        self.refresh_button.setText("Refresh")
        self.refresh_button.setProperty("flat", True)
        self.refresh_button.clicked.connect(self.refresh)
        self.evaluate_button = QToolButton()
        self.evaluate_button.setText("Evaluate")
        self.evaluate_button.setProperty("flat", True)
        self.evaluate_button.setToolTip(
            "Accuracy, per-class accuracy and confusion matrix of the selected run's best checkpoint"
        )
        self.evaluate_button.clicked.connect(self._on_evaluate)
        self.evaluate_button.setEnabled(False)
        head.addWidget(title)
        head.addWidget(self.folder_label, 1)
        head.addWidget(self.evaluate_button)
        head.addWidget(self.refresh_button)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setIconSize(QSize(12, 12))
        hdr = self.tree.header()
        hdr.setStretchLastSection(False)
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        hdr.setMinimumSectionSize(40)
        for i, width in ((1, 66), (2, 62), (3, 72), (4, 58)):
            hdr.setSectionResizeMode(i, QHeaderView.ResizeMode.Fixed)
            hdr.resizeSection(i, width)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemDoubleClicked.connect(
            lambda item, _col: self._open(item.data(0, Qt.ItemDataRole.UserRole))
        )

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(head)
        lay.addWidget(self.tree, 1)

    # ----- contents -----------------------------------------------------------
    def set_runs_dir(self, path: str | Path) -> None:
        self.runs_dir = Path(path)
        self.folder_label.setText(self.runs_dir.name + "/")
        self.folder_label.setToolTip(str(self.runs_dir))
        self.refresh()

    def refresh(self) -> None:
        """Re-read the runs folder; ticks and the selection survive."""
        from training.runs import list_runs

        current = self.current_key()
        infos = list_runs(self.runs_dir) if self.runs_dir is not None else []
        self.infos = {str(i.path): i for i in infos}
        self._updating = True
        self.tree.clear()
        for info in reversed(infos):  # newest first
            key = str(info.path)
            item = QTreeWidgetItem(self.tree)
            item.setData(0, Qt.ItemDataRole.UserRole, key)
            item.setText(0, run_title(info))
            item.setToolTip(
                0,
                f"{info.project_name} on {info.dataset}\n{info.path}\nstarted {info.created}"
                + (f"\n{info.device}" if info.device else ""),
            )
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Checked if key in self._checked else Qt.CheckState.Unchecked)
            item.setIcon(0, swatch(self.color_for(key) if key in self._checked else None))
            status = STATUS_TEXT.get(info.status, info.status)
            item.setText(1, status)
            if info.message:
                item.setToolTip(1, info.message)
            item.setText(2, f"{info.epochs_done}/{info.epochs}")
            final, best = info.last_val_acc, info.best_val_acc
            acc = final if isinstance(final, (int, float)) else best
            item.setText(3, f"{acc:.1%}" if isinstance(acc, (int, float)) else "—")
            if isinstance(best, (int, float)):
                item.setToolTip(
                    3,
                    (f"final validation accuracy {final:.2%}; " if isinstance(final, (int, float)) else "")
                    + f"best {best:.2%}",
                )
            for col in (2, 3):
                item.setTextAlignment(col, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            button = QToolButton()
            button.setText("Open")
            button.setToolTip(f"Open the graph this run trained ({info.path / 'project.json'}) in the editor")
            button.setStyleSheet("padding: 0px 6px;")
            button.clicked.connect(lambda _=False, k=key: self._open(k))
            self.tree.setItemWidget(item, 4, button)
            if key == current:
                self.tree.setCurrentItem(item)
        self._updating = False
        self.evaluate_button.setEnabled(self.current_key() != "" and _has_evaluate())

    def keys(self) -> list[str]:
        return [
            self.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
            for i in range(self.tree.topLevelItemCount())
        ]

    def item(self, key: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            it = self.tree.topLevelItem(i)
            if it.data(0, Qt.ItemDataRole.UserRole) == key:
                return it
        return None

    def checked(self) -> list[str]:
        listed = [k for k in reversed(self.keys()) if k in self._checked]  # oldest first, as plotted
        return listed + [k for k in self._checked if k not in self.infos]  # a live run not listed yet

    def set_checked(self, key: str, on: bool = True) -> None:
        """Tick or untick a run (a run that is not listed yet is ticked once it appears)."""
        if on:
            self._checked[key] = None
        else:
            self._checked.pop(key, None)
        item = self.item(key)
        if item is not None:
            self._updating = True
            item.setCheckState(0, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            item.setIcon(0, swatch(self.color_for(key) if on else None))
            self._updating = False
        self.overlay_changed.emit(self.checked())

    def update_swatches(self) -> None:
        self._updating = True
        try:
            for key in self.keys():
                item = self.item(key)
                item.setIcon(0, swatch(self.color_for(key) if key in self._checked else None))
        finally:
            self._updating = False

    def current_key(self) -> str:
        item = self.tree.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else ""

    # ----- slots --------------------------------------------------------------
    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 0:
            return
        key = item.data(0, Qt.ItemDataRole.UserRole)
        on = item.checkState(0) == Qt.CheckState.Checked
        if on != (key in self._checked):
            self.set_checked(key, on)

    def _on_current(self, current, _previous) -> None:
        if self._updating:
            return
        key = current.data(0, Qt.ItemDataRole.UserRole) if current is not None else ""
        self.evaluate_button.setEnabled(bool(key) and _has_evaluate())
        self.current_changed.emit(key)

    def _open(self, key: str | None) -> None:
        if key:
            self.open_project_requested.emit(str(Path(key) / "project.json"))

    def _on_evaluate(self) -> None:
        key = self.current_key()
        if key:
            self.evaluate_requested.emit(key)


def run_title(info) -> str:
    """ "ResNet-20 · 04:12:05" (the project's name and the start time); the folder name otherwise."""
    created = getattr(info, "created", "") or ""
    when = created.split("T")[-1][:8] if "T" in created else ""
    name = getattr(info, "project_name", "") or info.name
    return f"{name} · {when}" if when else name


def _has_evaluate() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("training.evaluate") is not None
    except (ImportError, ValueError):
        return False
