"""File ▸ Import from Python… (issue 22): trace a model from a ``.py`` file or ``module:callable``.

The dialog asks for the model (``path/to/file.py:Callable`` or ``package.module:callable``; Browse…
picks the file) and, optionally, the per-sample input shape (``C,H,W``). Import runs
``codegen.fx_import.import_target`` on a worker thread while the dialog shows a progress note, so the
window stays responsive. A refusal (one grouped message) is shown in the dialog, which stays open to
correct the input. On success ``import_from_python`` opens the project unsaved (no path: Save asks
for one) and shows the self-check's verdict and any warnings.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from graph.errors import UserError


class _Relay(QObject):
    """Carries the worker thread's outcome to the GUI thread (a queued signal)."""

    done = Signal(object, object)  # (ImportResult | None, error text | None)


def run_import(target: str, shape_text: str) -> tuple[Any, str | None]:
    """(ImportResult, None) or (None, the message to show); never raises for bad input."""
    try:
        shape = None
        if shape_text.strip():
            from graph.templates import parse_input_shape

            shape = tuple(parse_input_shape(shape_text.strip()))
        from codegen.fx_import import import_target

        return import_target(target.strip(), shape), None
    except UserError as exc:
        return None, exc.message
    except Exception as exc:  # noqa: BLE001 - the model's own code may raise anything; say it plainly
        return None, f"the import failed: {type(exc).__name__}: {exc}"


class ImportDialog(QDialog):
    """The model, its input shape, Import; a note while it traces; the refusal if there is one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import from Python")
        self.result_value: Any = None
        self._relay = _Relay(self)
        self._relay.done.connect(self._finished)
        self._thread: threading.Thread | None = None

        self.target = QLineEdit()
        self.target.setPlaceholderText("models.py:ResNet20  or  torchvision.models:resnet18")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.target, 1)
        row.addWidget(browse)
        self.shape = QLineEdit()
        self.shape.setPlaceholderText("3,32,32 (empty: from the first layer, at 224x224)")
        form = QFormLayout()
        form.addRow("Model (file.py:Callable or module:callable)", row)
        form.addRow("Input shape (C,H,W)", self.shape)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.problem = QPlainTextEdit()
        self.problem.setReadOnly(True)
        self.problem.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.resize(640, 220)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Python file with the model", "", "Python (*.py)")
        if path:
            self.target.setText(f"{path}:")
            self.target.setFocus()

    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Import on a worker thread; the dialog shows what it is doing meanwhile."""
        if self.busy():
            return
        target = self.target.text().strip()
        if not target:
            self._show_problem("Give the model as file.py:Callable or module:callable.")
            return
        shape = self.shape.text()
        self.problem.setVisible(False)
        self.import_button.setEnabled(False)
        self.note.setText(
            f"Tracing {target}" + (f" on an input of {shape.strip()}" if shape.strip() else "") + "…"
        )
        relay = self._relay

        def work() -> None:
            result, error = run_import(target, shape)
            relay.done.emit(result, error)

        self._thread = threading.Thread(target=work, name="skipwire-import", daemon=True)
        self._thread.start()

    def _finished(self, result: Any, error: str | None) -> None:
        self.import_button.setEnabled(True)
        if error is not None:
            self.note.setText("Skipwire cannot import this model:")
            self._show_problem(error)
            return
        self.result_value = result
        self.note.setText("Imported.")
        self.accept()

    def _show_problem(self, text: str) -> None:
        self.problem.setPlainText(text)
        self.problem.setVisible(True)

    def reject(self) -> None:
        if self.busy():  # tracing cannot be interrupted safely: let it finish, then close
            self.note.setText("Still tracing; the dialog closes when it is done…")
            self._relay.done.connect(lambda *_: QDialog.reject(self))
            return
        super().reject()


def verdict_text(result: Any) -> str:
    """What the editor says after an import: the self-check, the tracer, the warnings."""
    lines = []
    if result.check is not None:
        lines.append(result.check.text()[0].upper() + result.check.text()[1:] + ".")
    if result.tracer != "torch.fx":
        lines.append(f"Traced with {result.tracer}.")
    lines += [f"Warning: {w}" for w in result.warnings]
    if result.project.key_map:
        lines.append(
            "The project keeps a map from the model's state_dict keys to its own; weights saved from the "
            "model load through it."
        )
    return "\n\n".join(lines)


def import_from_python(window: Any) -> bool:
    """File ▸ Import from Python…: the dialog, then the result as a new unsaved project with its verdict."""
    dialog = ImportDialog(window)
    if dialog.exec() != QDialog.DialogCode.Accepted or dialog.result_value is None:
        return False
    return open_imported(window, dialog.result_value)


def open_imported(window: Any, result: Any) -> bool:
    if not window.files.maybe_save():
        return False
    window.document.replace_project(result.project, None)
    window.files.message.emit(f"Imported {result.project.name} (not saved yet)")
    QMessageBox.information(window, f"Imported {result.project.name}", verdict_text(result))
    return True


__all__ = ["ImportDialog", "import_from_python", "open_imported", "run_import", "verdict_text"]
