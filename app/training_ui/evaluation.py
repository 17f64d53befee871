"""Evaluation of a finished run: accuracy, loss, per-class accuracy and the confusion matrix.

``training.evaluate.evaluate_run`` (which imports torch) runs on a worker
thread, so the editor keeps responding; the dialog polls for the result.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class EvaluationDialog(QDialog):
    def __init__(self, run_dir: str, parent: QWidget | None = None, evaluate=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Evaluate {Path(run_dir).name}")
        self.resize(640, 520)
        self.run_dir = run_dir
        self.result: dict | None = None
        self.error = ""
        self.summary = QLabel("Evaluating the best checkpoint on the validation split…")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget()
        self.table.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.summary)
        lay.addWidget(self.table, 1)
        lay.addWidget(buttons)
        self._box: dict = {}
        self._evaluate = evaluate
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._poll)
        self._timer.start()

    def _work(self) -> None:
        try:
            fn = self._evaluate
            if fn is None:
                from training.evaluate import evaluate_run as fn
            self._box["result"] = fn(self.run_dir)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            self._box["error"] = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"

    def _poll(self) -> None:
        if "result" in self._box:
            self._timer.stop()
            self.show_result(self._box["result"])
        elif "error" in self._box:
            self._timer.stop()
            self.error = self._box["error"]
            self.summary.setText(f"<span style='color:#ef5350'>Evaluation failed: {self.error}</span>")

    def show_result(self, r: dict) -> None:
        self.result = r
        self.summary.setText(
            f"<b>Accuracy {r['accuracy']:.2%}</b> &nbsp; loss {r['loss']:.4f} &nbsp; "
            f"<span style='color:gray'>{r['images']:,} images of "
            f"{r['dataset']}, {r['checkpoint']} checkpoint. "
            "Rows: true class; columns: predicted; the last column is the class's accuracy.</span>"
        )
        names = [str(n) for n in r["class_names"]]
        cm = r["confusion"]
        n = len(names)
        t = self.table
        t.setRowCount(n)
        t.setColumnCount(n + 1)
        t.setHorizontalHeaderLabels(names + ["accuracy"])
        t.setVerticalHeaderLabels(names)
        t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for i in range(n):
            total = sum(cm[i]) or 1
            for j in range(n):
                item = QTableWidgetItem(str(cm[i][j]))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                share = cm[i][j] / total
                base = QColor("#4c8dff" if i == j else "#ef5350")
                base.setAlphaF(min(1.0, 0.08 + 0.8 * share) if cm[i][j] else 0.0)
                item.setBackground(base)
                t.setItem(i, j, item)
            acc = r["per_class_accuracy"][i]
            item = QTableWidgetItem("—" if acc is None else f"{acc:.1%}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            t.setItem(i, n, item)
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        t.show()


def show_evaluation(parent: QWidget, run_dir: str) -> EvaluationDialog:
    dlg = EvaluationDialog(run_dir, parent)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dlg.show()
    return dlg
