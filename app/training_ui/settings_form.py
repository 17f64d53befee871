"""The training settings form: dataset, preset, hyperparameters (no torch, no pyqtgraph).

``config(base)`` returns the flat TrainConfig dict for a run: the project's
own ``training`` section (or a preset) overridden by what the form shows, so
settings the form does not show (momentum, milestones, ...) are kept.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QWidget,
)

from graph.pretrained import is_imagenet_ref
from training.config import DEVICES, OPTIMIZERS, PRESETS, SCHEDULES, TrainConfig, apply_preset

# (item data, label): "cache:NAME" uses the download cache (fetched when training starts, in the
# training process); the others take a folder. The cached labels say what is cached and what a
# download costs (refresh_datasets).
CACHED = ("cifar10", "cifar100", "mnist", "fashion_mnist")
DATASETS = (
    ("synthetic", "Synthetic (no download)"),
    *((f"cache:{name}", name) for name in CACHED),
    ("cifar10", "CIFAR-10 folder…"),
    ("cifar100", "CIFAR-100 folder…"),
    ("mnist", "MNIST folder…"),
    ("fashion_mnist", "Fashion-MNIST folder…"),
    ("folder", "Image folder…"),
)
CUSTOM = "Custom"


class SettingsForm(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._base = TrainConfig()
        self._loading = False
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(5)
        self._build_data_fields()
        self._build_run_fields()
        self._add_rows(form)
        for w in (self.epochs, self.batch_size, self.lr, self.label_smoothing, self.seed):
            w.valueChanged.connect(self._on_edit)
        for w in (self.optimizer, self.schedule, self.device):
            w.currentIndexChanged.connect(self._on_edit)
        self.data_dir.textChanged.connect(self._on_edit)
        self.set_config(self._base)

    def _build_data_fields(self) -> None:
        """The dataset (with its folder and Browse) and the ImageNet weights choice."""
        self.dataset = QComboBox()
        for key, text in DATASETS:
            self.dataset.addItem(text, key)
        self.refresh_datasets()
        self.imagenet = QCheckBox("ImageNet weights")  # short: the settings column fits 1280 px (issue 25)
        self.imagenet.setEnabled(False)
        self.imagenet.toggled.connect(self._on_edit)
        self._project = None
        self.dataset.currentIndexChanged.connect(self._on_dataset_kind)
        self.data_dir = QLineEdit()
        self.data_dir.setPlaceholderText("folder with the dataset files")
        self.browse = QToolButton()
        self.browse.setText("…")
        self.browse.setToolTip("Choose the dataset folder")
        self.browse.clicked.connect(self._on_browse)
        dir_row = QHBoxLayout()
        dir_row.setContentsMargins(0, 0, 0, 0)
        dir_row.setSpacing(4)
        dir_row.addWidget(self.data_dir, 1)
        dir_row.addWidget(self.browse)
        self._dir_widget = QWidget()
        self._dir_widget.setLayout(dir_row)

    def _build_run_fields(self) -> None:
        """The preset, and what it sets: epochs, batch size, rate, optimizer, schedule, label smoothing,
        seed and device."""
        self.preset = QComboBox()
        self.preset.addItem(CUSTOM)
        for name in PRESETS:
            self.preset.addItem(name)
        self.preset.currentTextChanged.connect(self._on_preset)

        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100_000)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 65_536)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.00001, 10.0)
        self.lr.setSingleStep(0.01)
        self.optimizer = QComboBox()
        self.optimizer.addItems(list(OPTIMIZERS))
        self.schedule = QComboBox()
        self.schedule.addItems(list(SCHEDULES))
        self.label_smoothing = QDoubleSpinBox()
        self.label_smoothing.setRange(0.0, 0.95)
        self.label_smoothing.setSingleStep(0.05)
        self.label_smoothing.setDecimals(2)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.device = QComboBox()
        self.device.addItems([d for d in DEVICES if d != "mps"])
        # one process, or every GPU through torchrun (README "Training at scale"); shown with 2+ choices
        from training.process import process_choices  # no torch: reads /proc and the environment

        self.processes = QComboBox()
        for label, n in process_choices():
            self.processes.addItem(label, n)
        self.processes.setCurrentIndex(self.processes.count() - 1)  # all of them when offered

    def _add_rows(self, form: QFormLayout) -> None:
        """The fields in their rows, and the line that says why settings were not usable."""
        form.addRow("Dataset", self.dataset)
        form.addRow("", self._dir_widget)
        form.addRow("", self.imagenet)
        form.addRow("Preset", self.preset)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Learning rate", self.lr)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Schedule", self.schedule)
        form.addRow("Label smoothing", self.label_smoothing)
        form.addRow("Seed", self.seed)
        form.addRow("Device", self.device)
        form.addRow("Use", self.processes)
        form.labelForField(self.processes).setVisible(self.processes.count() > 1)
        self.processes.setVisible(self.processes.count() > 1)
        self.problem = QLabel("")
        self.problem.setProperty("role", "error")
        self.problem.setWordWrap(True)
        self.problem.hide()
        form.addRow(self.problem)

    # ----- values -------------------------------------------------------------
    def set_config(self, cfg: TrainConfig) -> None:
        """Show ``cfg`` (the project's training section, or a preset applied to it)."""
        self._loading = True
        self._base = cfg
        kind, _, path = cfg.dataset.partition(":")
        i = self.dataset.findData(kind if path or kind not in CACHED else f"cache:{kind}")
        self.dataset.setCurrentIndex(max(i, 0))
        self.data_dir.setText(path)
        self.refresh_datasets()
        self.imagenet.setChecked(is_imagenet_ref(cfg.weights))
        self.epochs.setValue(int(cfg.epochs))
        self.batch_size.setValue(int(cfg.batch_size))
        self.lr.setValue(float(cfg.lr))
        self.optimizer.setCurrentText(cfg.optimizer)
        self.schedule.setCurrentText(cfg.schedule)
        self.label_smoothing.setValue(float(cfg.label_smoothing))
        self.seed.setValue(int(cfg.seed))
        self.device.setCurrentText(cfg.device if cfg.device != "mps" else "auto")
        self.preset.setCurrentText(cfg.preset if cfg.preset in PRESETS else CUSTOM)
        self._loading = False
        self._on_dataset_kind()

    def dataset_spec(self) -> str:
        kind = self.dataset.currentData()
        if kind == "synthetic":
            return "synthetic"
        if kind.startswith("cache:"):
            return kind.partition(":")[2]
        return f"{kind}:{self.data_dir.text().strip()}"

    def _needs_dir(self) -> bool:
        kind = self.dataset.currentData()
        return kind != "synthetic" and not kind.startswith("cache:")

    def refresh_datasets(self) -> None:
        """Say for each cached dataset whether it is in the cache or what its download costs."""
        from training.download import MB, dataset_status

        for i in range(self.dataset.count()):
            key = self.dataset.itemData(i)
            if isinstance(key, str) and key.startswith("cache:"):
                try:
                    st = dataset_status(key.partition(":")[2])
                except OSError:  # an unreadable cache: the download itself will say why
                    continue
                state = "cached" if st["cached"] else f"download {st['download_size'] / MB:,.0f} MB"
                self.dataset.setItemText(i, f"{st['title']} — {state}")
                self.dataset.setItemData(i, st["path"], Qt.ItemDataRole.ToolTipRole)

    def set_project(self, project) -> None:
        """Offer "Start from ImageNet weights" when the project is a torchvision architecture."""
        from graph.pretrained import match

        self._project = project
        try:
            arch, version = match(project) if project is not None else (None, None)
        except Exception as exc:  # noqa: BLE001 - UserError says why; anything else: not offered
            arch = None
            reason = getattr(exc, "message", "the project cannot be checked")
        was = self._loading
        self._loading = True
        if arch is None:
            self.imagenet.setChecked(False)
            self.imagenet.setToolTip(f"Not available: {reason}")
        else:
            self.imagenet.setToolTip(
                f"torchvision's {arch.name} ImageNet weights ({version.upper()}, "
                f"{arch.sizes_mb[version]:.0f} MB, "
                "downloaded once into the cache); "
                "the head starts fresh when the class count differs, and the "
                f"data are normalised with ImageNet's mean and std"
            )
        self.imagenet.setEnabled(arch is not None)
        self._loading = was

    def config(self) -> TrainConfig:
        """The settings shown, validated (raises UserError with a sentence for the user)."""
        from graph.errors import UserError

        if self._needs_dir() and not self.data_dir.text().strip():
            raise UserError(f"choose the {self.dataset.currentText().rstrip('…')} first")
        base, weights = self._base, self._base.weights
        if self.imagenet.isChecked():
            from graph.pretrained import match

            if self._project is not None:
                match(self._project, weights if is_imagenet_ref(weights) else "imagenet")
            weights = weights if is_imagenet_ref(weights) else "imagenet"
        elif is_imagenet_ref(weights):
            base, weights = dataclasses.replace(base, weights=None), None
        return base.with_overrides(
            weights=weights,
            dataset=self.dataset_spec(),
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            lr=self.lr.value(),
            optimizer=self.optimizer.currentText(),
            schedule=self.schedule.currentText(),
            label_smoothing=self.label_smoothing.value(),
            seed=self.seed.value(),
            device=self.device.currentText(),
        )

    def process_count(self) -> int:
        """How many processes a run started from this form uses (torchrun when more than one)."""
        return int(self.processes.currentData() or 1)

    def show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    # ----- slots --------------------------------------------------------------
    def _on_dataset_kind(self, *_args) -> None:
        self._dir_widget.setVisible(self._needs_dir())
        self._on_edit()

    def _on_browse(self) -> None:
        start = self.data_dir.text().strip() or str(Path.home())
        path = QFileDialog.getExistingDirectory(self, f"Choose the {self.folder_kind()} folder", start)
        if path:
            self.data_dir.setText(path)

    def folder_kind(self) -> str:
        """The dataset a folder is asked for, as the dialog's title names it: "MNIST", "image"."""
        text = self.dataset.currentText().rstrip("…").strip()
        return text.removesuffix(" folder").strip() or "dataset"

    def _on_preset(self, name: str) -> None:
        if self._loading or name not in PRESETS:
            return
        try:
            current = self.config()
        except Exception:  # noqa: BLE001 - an unfinished form: apply the preset to the last good settings
            current = self._base
        self.set_config(apply_preset(current, name))
        self.changed.emit()

    def _on_edit(self, *_args) -> None:
        if self._loading:
            return
        self.show_problem("")
        self.changed.emit()
