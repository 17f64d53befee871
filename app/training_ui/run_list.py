"""The runs in the runs folder: tick them to overlay their curves, open the graph each one trained.

Each row is a run folder (training.runs.list_runs): its name, status, dataset,
epochs done and best validation accuracy, and a colour swatch that matches
its curves once it is shown. Open (a double-click, the context menu) asks the
editor (through ``open_project_requested``) to open the run's ``project.json``
as an unsaved copy; Resume (``resume_requested``) continues a stopped run with
a checkpoint in its own folder, as ``main.py train --resume RUNDIR`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QHeaderView,
    QLabel,
    QMenu,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.panels.flow_layout import FlowLayout

COLUMNS = ("Run", "Status", "Epochs", "Val acc")
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
    resume_requested = Signal(str)  # a stopped run's folder, to continue where it stopped

    def __init__(
        self, color_for: Callable[[str], QColor | None] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.runs_dir: Path | None = None
        self.color_for = color_for or (lambda key: None)
        self.infos: dict[str, object] = {}
        self._checked: dict[str, None] = {}  # ordered set
        self._updating = False

        head = FlowLayout(spacing=4)  # wraps in a narrow panel
        head.setContentsMargins(8, 6, 8, 2)
        title = QLabel("Runs")
        title.setProperty("role", "section")
        self.folder_label = QLabel("")
        self.folder_label.setProperty("role", "muted")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refresh_button = self._tool("Refresh", "Read the runs folder again", self.refresh)
        self.open_button = self._tool(
            "Open",
            "Open the graph the selected run trained, as an unsaved copy with the run's training "
            "settings (double-click a run does the same)",
            lambda: self._open(self.current_key()),
        )
        self.resume_button = self._tool(
            "Resume",
            "Continue the selected stopped run exactly where it stopped, in its own folder",
            lambda: self._resume(self.current_key()),
        )
        self.evaluate_button = self._tool(
            "Evaluate",
            "Accuracy, per-class accuracy and confusion matrix of the selected run's best checkpoint",
            self._on_evaluate,
        )
        self.busy = False  # a run is going: Resume waits
        head.addWidget(title)
        head.addWidget(self.folder_label)
        head.addStretch(1)
        for b in (self.open_button, self.resume_button, self.evaluate_button, self.refresh_button):
            head.addWidget(b)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setWordWrap(True)  # a long run name takes two lines rather than being cut
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setAlternatingRowColors(True)
        self.tree.setIconSize(QSize(12, 12))
        hdr = self.tree.header()
        hdr.setStretchLastSection(False)
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        hdr.setMinimumSectionSize(40)
        for i, width in ((1, 66), (2, 54), (3, 64)):
            hdr.setSectionResizeMode(i, QHeaderView.ResizeMode.Fixed)
            hdr.resizeSection(i, width)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemDoubleClicked.connect(
            lambda item, _col: self._open(item.data(0, Qt.ItemDataRole.UserRole))
        )
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._on_context_menu)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(head)
        lay.addWidget(self.tree, 1)
        self._update_buttons()

    def _tool(self, text: str, tip: str, slot) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.setProperty("flat", True)
        b.clicked.connect(slot)
        return b

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
            if key == current:
                self.tree.setCurrentItem(item)
        self._updating = False
        self._update_buttons()

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
        self._update_buttons()
        self.current_changed.emit(key)

    def can_resume(self, key: str) -> bool:
        """A stopped (or diverged, killed) run with a checkpoint, while no other run is going."""
        info = self.infos.get(key)
        if info is None or self.busy:
            return False
        return info.status in ("stopped", "failed", "unknown", "diverged") and info.has_checkpoint("last")

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._update_buttons()

    def _update_buttons(self) -> None:
        key = self.current_key()
        self.open_button.setEnabled(bool(key))
        self.resume_button.setEnabled(bool(key) and self.can_resume(key))
        self.evaluate_button.setEnabled(bool(key) and _has_evaluate())

    def context_menu(self, key: str) -> QMenu:
        """A run's menu: open its graph (as a copy), resume it, evaluate it, show its folder."""
        menu = QMenu(self)
        menu.addAction("Open graph as a copy", lambda: self._open(key))
        resume = menu.addAction("Resume", lambda: self._resume(key))
        resume.setEnabled(self.can_resume(key))
        if self.busy:
            resume.setToolTip("Another run is going")
        evaluate = menu.addAction("Evaluate…", lambda: self.evaluate_requested.emit(key))
        evaluate.setEnabled(_has_evaluate())
        menu.addSeparator()
        menu.addAction("Show folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(key)))
        menu.addAction("Copy folder path", lambda: QApplication.clipboard().setText(key))
        return menu

    def _on_context_menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        if item is None:
            return
        self.tree.setCurrentItem(item)
        self.context_menu(item.data(0, Qt.ItemDataRole.UserRole)).popup(self.tree.viewport().mapToGlobal(pos))

    def _resume(self, key: str | None) -> None:
        if key and self.can_resume(key):
            self.resume_requested.emit(key)

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
