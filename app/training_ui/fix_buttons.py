"""One-click fixes for a refused start (the Training tab's footer): a button per fix that
app/training_ui/guard.py offers for the error shown, each one undoable edit of the project."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from app.training_ui import guard


class FixButtons:
    """The row of fix buttons of a TrainingPanel (its document, ``_clear_error`` and status)."""

    def __init__(self, panel) -> None:
        self.panel = panel
        self.row = QWidget()
        self._lay = QHBoxLayout(self.row)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(4)
        self._lay.addStretch(1)
        self.buttons: list[QPushButton] = []
        self.row.hide()

    def show_for(self, message: str) -> None:
        """The fixes for ``message`` (none for ""), replacing the ones shown."""
        for b in self.buttons:
            b.deleteLater()
        self.buttons = []
        for fix in guard.fixes_for(message):
            b = QPushButton(fix.label)
            b.setToolTip("Change the project so that it fits the dataset (one undo step), then press Start")
            b.clicked.connect(lambda _=False, f=fix: self.apply(f))
            self._lay.insertWidget(self._lay.count() - 1, b)
            self.buttons.append(b)
        self.row.setVisible(bool(self.buttons))

    def apply(self, fix) -> None:
        panel = self.panel
        made = guard.fix_edit(panel.document.project, fix)
        if made is None:
            return
        edit, label = made
        panel.document.push(edit, label)
        panel._clear_error()
        panel.status.setText(f"{label}. Press Start to train.")
