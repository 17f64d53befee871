"""The download row of the Training tab: what is being fetched, a progress bar, and Cancel.

The training process downloads (a dataset or ImageNet weights into the cache) and reports
``status`` records with ``state="downloading"``, ``file``, ``done`` and ``total`` bytes; the
editor only draws them, so it never blocks. Cancel asks the process to stop: the download is
abandoned and nothing half-written is kept. Any other record (training has begun, an error)
hides the row. No torch.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout

MB = 1 << 20


class DownloadBar(QFrame):
    cancel_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("downloadBar")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        self.label = QLabel("")
        self.label.setProperty("role", "muted")
        self.label.setWordWrap(True)
        row = QHBoxLayout()
        row.setSpacing(6)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.bar.setFixedHeight(16)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop the download; nothing half-written is kept in the cache")
        self.cancel.clicked.connect(self._on_cancel)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel)
        lay.addWidget(self.label)
        lay.addLayout(row)
        self._file = ""
        self._t0 = 0.0
        self.hide()

    def ingest(self, records: list) -> None:
        """Show the latest download record of ``records``; hide once something else follows it."""
        for rec in records:
            if rec.get("kind") == "status" and rec.get("state") == "downloading":
                self._show(str(rec.get("file", "")), int(rec.get("done") or 0), rec.get("total"))
            elif self.isVisible() and rec.get("kind") in ("status", "error", "step", "epoch"):
                self.finish()

    def _show(self, name: str, done: int, total) -> None:
        now = time.monotonic()
        if name != self._file:
            self._file, self._t0 = name, now
        elapsed = now - self._t0
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * min(done / total, 1.0)))
            self.bar.setFormat(f"{done / MB:.1f} of {total / MB:.1f} MB")
        else:  # no length announced: a busy bar
            self.bar.setRange(0, 0)
            self.bar.setFormat(f"{done / MB:.1f} MB")
        speed = f" — {done / elapsed / MB:.1f} MB/s" if elapsed >= 0.5 else ""  # too early for a rate
        self.label.setText(f"Downloading {name} into the cache{speed}")
        self.cancel.setEnabled(True)
        self.show()

    def finish(self) -> None:
        self._file = ""
        self.hide()

    def _on_cancel(self) -> None:
        self.cancel.setEnabled(False)
        self.label.setText(f"Cancelling the download of {self._file}…")
        self.cancel_requested.emit()
