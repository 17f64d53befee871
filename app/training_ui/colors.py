"""One colour per run, the same in every plot and in the run list (no pyqtgraph here)."""

from __future__ import annotations

from PySide6.QtGui import QColor

# Distinct on the dark plot background and still readable on the light one.
RUN_COLORS = (
    "#4c8dff",
    "#ff8a4c",
    "#5cc27a",
    "#e0609e",
    "#f0c23c",
    "#a57cf0",
    "#2bc4b3",
    "#ef5350",
    "#9ccc65",
    "#b0bec5",
)


def run_color(index: int) -> QColor:
    return QColor(RUN_COLORS[index % len(RUN_COLORS)])
