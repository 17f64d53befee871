"""Help ▸ Keyboard shortcuts and Help ▸ About."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

SHORTCUTS = (
    (
        "File",
        (
            ("New from template…", "Ctrl+N"),
            ("New empty network", "Ctrl+Shift+N"),
            ("Open…", "Ctrl+O"),
            ("Save", "Ctrl+S"),
            ("Save As…", "Ctrl+Shift+S"),
            ("Quit", "Ctrl+Q"),
        ),
    ),
    (
        "Edit",
        (
            ("Undo / Redo", "Ctrl+Z / Ctrl+Shift+Z"),
            ("Cut / Copy / Paste", "Ctrl+X / Ctrl+C / Ctrl+V"),
            ("Duplicate", "Ctrl+D"),
            ("Delete", "Del"),
            ("Group into block", "Ctrl+G"),
            ("Select all", "Ctrl+A"),
        ),
    ),
    (
        "View",
        (
            ("Frame all", "Home"),
            ("Frame selection", "F"),
            ("Auto-layout", "L"),
            ("Toggle light/dark theme", "Ctrl+Shift+T"),
            ("Bottom tabs", "Alt+1 … Alt+4"),
            ("Zoom", "mouse wheel"),
            ("Pan", "middle-drag or Space+drag"),
        ),
    ),
    (
        "Canvas",
        (
            ("Add a layer", "drag from the palette, double-click it, or Tab on the canvas"),
            ("Connect", "drag from an output port (bottom) to an input port (top)"),
            ("Add a connected layer", "drop a new edge on empty canvas"),
            ("Select several", "drag a box on empty canvas; Ctrl+click adds"),
            ("Open a block", "double-click a block instance (its shapes are shown)"),
            ("Show a problem", "double-click it in Problems"),
            ("Cancel a drag or close quick add", "Esc"),
        ),
    ),
)


def shortcuts_dialog(parent: QWidget) -> QDialog:
    dlg = QDialog(parent)
    dlg.setWindowTitle("Keyboard shortcuts")
    rows = [(sec, what, key) for sec, items in SHORTCUTS for what, key in items]
    table = QTableWidget(len(rows), 3)
    table.setHorizontalHeaderLabels(["", "Action", "Keys"])
    table.verticalHeader().setVisible(False)
    table.setShowGrid(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    last = None
    for r, (sec, what, key) in enumerate(rows):
        head = QTableWidgetItem(sec if sec != last else "")
        f = head.font()
        f.setBold(True)
        head.setFont(f)
        table.setItem(r, 0, head)
        table.setItem(r, 1, QTableWidgetItem(what))
        table.setItem(r, 2, QTableWidgetItem(key))
        last = sec
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dlg.reject)
    lay = QVBoxLayout(dlg)
    lay.addWidget(table)
    lay.addWidget(buttons)
    dlg.resize(600, 520)
    return dlg


def about_box(parent: QWidget) -> QMessageBox:
    """Help ▸ About: the application icon, what Skipwire is."""
    from app.assets import ICONS

    box = QMessageBox(parent)
    box.setWindowTitle("About Skipwire")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(
        "<h3>Skipwire</h3><p>Design convolutional networks — above all the ResNet family — as node "
        "graphs: live shapes, one-click fixes, clean PyTorch code, training with live curves.</p>"
    )
    from PySide6.QtGui import QPixmap

    pix = QPixmap(str(ICONS / "skipwire-64.png"))
    if not pix.isNull():
        box.setIconPixmap(pix)
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    return box


def show_about(parent: QWidget) -> None:
    about_box(parent).open()
