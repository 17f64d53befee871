"""The Training tab's run estimate and its inline question before a long run.

``LongRunGuard(panel)`` owns the estimate line ("About 3 min on cpu ...") and the frame that asks
"This run takes about 27 h; start it?" with Start anyway / N epochs instead / Cancel. The panel
places both widgets in its footer; the estimate itself comes from app/training_ui/guard.py.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from app.training_ui import guard
from graph.errors import UserError


class LongRunGuard:
    """The estimate label and the long-run confirmation of a TrainingPanel (its document, form and
    ``start(confirmed=...)``)."""

    def __init__(self, panel) -> None:
        self.panel = panel
        self.estimate_label = QLabel("")
        self.estimate_label.setProperty("role", "muted")
        self.estimate_label.setWordWrap(True)
        self.confirm = QFrame()
        self.confirm.setObjectName("confirmLongRun")
        lay = QVBoxLayout(self.confirm)
        lay.setContentsMargins(0, 2, 0, 2)
        lay.setSpacing(4)
        self.confirm_text = QLabel("")
        self.confirm_text.setWordWrap(True)
        lay.addWidget(self.confirm_text)
        row = QHBoxLayout()
        row.setSpacing(4)
        self.confirm_start = QPushButton("Start anyway")
        self.confirm_shorter = QPushButton("")
        self.confirm_cancel = QPushButton("Cancel")
        self.confirm_start.clicked.connect(lambda: panel.start(confirmed=True))
        self.confirm_shorter.clicked.connect(self.start_shorter)
        self.confirm_cancel.clicked.connect(self.hide_confirm)
        for b in (self.confirm_start, self.confirm_shorter, self.confirm_cancel):
            row.addWidget(b)
        lay.addLayout(row)
        self.confirm.hide()

    def hide_confirm(self) -> None:
        if self.confirm.isVisible():
            self.confirm.hide()
            self.update_estimate()

    def current_estimate(self):
        """The rough duration of a run with the form's settings (guard.Estimate), or None."""
        document = self.panel.document
        analysis = getattr(document, "analysis", None)
        if analysis is None or not getattr(analysis, "valid", False):
            return None
        try:
            cfg = self.panel.form.config()
        except UserError:
            return None
        inputs = document.project.graph.nodes_of_type("Input")
        shape = inputs[0].params.get("shape") if inputs else None
        return guard.estimate(analysis.macs, cfg.dataset, shape, cfg.epochs, cfg.device)

    def update_estimate(self) -> None:
        est = self.current_estimate()
        if est is None:
            self.estimate_label.setText("")
            self.estimate_label.hide()
            return
        self.estimate_label.setText(
            f"About {guard.format_duration(est.seconds)} on {est.device} "
            f"({est.epochs} epoch{'s' if est.epochs != 1 else ''} of {est.images:,} images; "
            f"{'at the speed measured for ' + est.basis if est.measured else 'a rough estimate'})"
        )
        self.estimate_label.show()

    def ask(self, est) -> None:
        shorter = est.epochs_within(guard.LONG_RUN_S)
        self.confirm_text.setText(
            f"<b>This run takes about {guard.format_duration(est.seconds)}</b> on {est.device} "
            f"({est.epochs} epochs of {est.images:,} images). Start it?"
        )
        self.confirm_shorter.setText(f"{shorter} epoch{'s' if shorter != 1 else ''} instead")
        self.confirm_shorter.setVisible(shorter < est.epochs)
        self.estimate_label.hide()  # the question says it
        self.confirm.show()
        self.confirm_start.setFocus()

    def start_shorter(self) -> None:
        est = self.current_estimate()
        if est is not None:
            self.panel.form.epochs.setValue(est.epochs_within(guard.LONG_RUN_S))
        self.panel.start(confirmed=True)
