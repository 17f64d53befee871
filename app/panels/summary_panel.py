"""The Summary panel: one row per layer (module path, type, output shape,
parameters, MACs, activation memory for a chosen batch size) and totals, all
from shape inference (no torch); and the training-memory estimate for the batch
size, precision and device chosen in its toolbar, with the verdict."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHeaderView,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.app_style import chrome
from app.panels.flow_layout import FlowLayout
from graph.memory import DEVICES, GIB, PRECISIONS
from graph.summary import human, summarize

COLUMNS = ("Layer", "Type", "Output", "Params", "MACs", "Activations")


def type_text(t: str) -> str:
    """The Type column: "BasicBlock" for a block instance (not the file format's "block:BasicBlock")."""
    return t.replace("Shortcut:", "shortcut · ").removeprefix("block:")


class SummaryPanel(QWidget):
    def reset_project_state(self) -> None:
        """Another project: the memory estimate's batch size is the new project's."""
        self.batch.setValue(int(self.document.project.training.get("batch_size", 128)))

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._dirty = True
        bar = QFrame(objectName="panelToolbar")
        bl = FlowLayout(bar)  # wraps onto two rows in a narrow dock instead of widening the window
        bl.setContentsMargins(8, 4, 8, 4)
        self.totals = QLabel()
        self.totals.setWordWrap(True)
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bl.addWidget(self.totals)
        bl.addStretch(1)
        bl.addWidget(QLabel("Batch size"))
        self.batch = QSpinBox(
            minimum=1, maximum=65536, value=int(document.project.training.get("batch_size", 128))
        )
        self.batch.setToolTip("Activation memory is the float32 size of every layer's output for this batch")
        self.batch.valueChanged.connect(self.refresh)
        bl.addWidget(self.batch)
        self.precision = QComboBox()
        self.precision.addItems(list(PRECISIONS))
        self.precision.setCurrentText("bf16" if document.project.training.get("amp", True) else "fp32")
        self.precision.setToolTip("Activations kept for backward: 2 bytes each in bf16, 4 in fp32")
        self.precision.currentTextChanged.connect(self.refresh)
        bl.addWidget(self.precision)
        self.device = QComboBox()
        self.device.addItem("no device", None)
        for label, size in DEVICES.items():
            self.device.addItem(label, int(size * GIB))
        self.device.setCurrentIndex(1)
        self.device.setToolTip("Does one training step fit this device's memory? (estimate, 90% of it)")
        self.device.currentIndexChanged.connect(self.refresh)
        bl.addWidget(self.device)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for i in range(1, len(COLUMNS)):
            h.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        for i in range(3, len(COLUMNS)):
            self.table.horizontalHeaderItem(i).setTextAlignment(
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(bar)
        lay.addWidget(self.table, 1)
        self.total_params = 0
        self.total_macs = 0
        self.summary: dict | None = None
        document.analysis_changed.connect(self._on_analysis)

    def _on_analysis(self, _analysis=None) -> None:
        self._dirty = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def refresh(self) -> None:
        self._dirty = False
        analysis = self.document.analysis
        if analysis is None:
            self.table.setRowCount(0)
            self.totals.setText("")
            return
        batch = self.batch.value()
        data = summarize(analysis, batch, self.precision.currentText(), self.device.currentData())
        self.summary = data
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        rows = data["layers"]
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(rows))
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        muted = QColor(chrome().muted)
        for r, row in enumerate(rows):
            shape = "?" if row["output_shape"] is None else "x".join(map(str, row["output_shape"]))
            cells = (
                "    " * row["depth"] + row["name"],
                type_text(row["type"]),
                shape,
                f"{row['params']:,}",
                human(row["macs"]),
                human(row["activation_bytes"], "B"),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c >= 2:
                    item.setFont(mono)
                if c >= 3:
                    item.setTextAlignment(right)
                if row["block"]:
                    f = QFont(item.font())
                    f.setBold(True)
                    item.setFont(f)
                elif c >= 3 and text in ("0", "0 B"):
                    item.setForeground(muted)
                self.table.setItem(r, c, item)
        self.table.setUpdatesEnabled(True)
        self.total_params = data["total_params"]
        self.total_macs = data["macs"]
        frozen = data["frozen_params"]
        out = "?" if data["output_shape"] is None else "x".join(map(str, data["output_shape"]))
        text = (
            f"<b>{data['total_params']:,}</b> params ({data['trainable_params']:,} trainable"
            f"{f', {frozen:,} frozen' if frozen else ''}) · <b>{human(data['macs'])}</b>MACs per sample · "
            f"output {out} · activations <b>{human(data['activation_bytes'], 'B')}</b> at batch {batch}"
        )
        mem = data.get("training_memory")
        if mem:
            color = chrome().error if mem["fits"] is False else chrome().ok if mem["fits"] else chrome().muted
            text += (
                f" · training {human(mem['total_bytes'], 'B')} ({mem['precision']}): "
                f"<span style='color:{color}'>{mem['verdict']}</span>"
            )
            self.totals.setToolTip(
                f"One training step at batch {batch}, {mem['precision']}, {mem['optimizer']}:\n"
                f"parameters {human(mem['param_bytes'], 'B')}, gradients {human(mem['grad_bytes'], 'B')}, "
                f"optimizer state {human(mem['optimizer_bytes'], 'B')},\n"
                f"activations kept for backward {human(mem['activation_bytes'], 'B')} "
                "(each tensor once; checked against a CPU measurement, docs/inspect.md)"
            )
        if not data["valid"]:
            text += f" · <span style='color:{chrome().error}'>partial while the graph has errors</span>"
        self.totals.setText(text)
