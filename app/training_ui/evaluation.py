"""Evaluation results of a finished run (accuracy, per-class accuracy, confusion matrix)."""
from __future__ import annotations


def show_evaluation(parent, run_dir: str) -> None:
    from PySide6.QtWidgets import QMessageBox

    QMessageBox.information(parent, "Evaluate", "Evaluation is not available in this build.")
