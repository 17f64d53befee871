"""New from template: a gallery of the built-in templates, grouped CIFAR /
ImageNet, with each one's description and figures, the input shape, the number
of classes and (where the template offers it) the shortcut option A/B/C."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from graph.templates import all_templates

FAMILIES = (("cifar", "CIFAR · 32×32 inputs"), ("imagenet", "ImageNet · 224×224 inputs"))
SHORTCUTS = (
    ("", "template default"),
    ("A", "A: zero-pad"),
    ("B", "B: 1x1 conv + BN where needed"),
    ("C", "C: 1x1 conv + BN always"),
)
NAME_ROLE = Qt.ItemDataRole.UserRole + 1
INPUT_SHAPES = (
    ("", "template default"),
    ("1,28,28", "1,28,28 (MNIST)"),
    ("3,32,32", "3,32,32 (CIFAR)"),
    ("3,64,64", "3,64,64"),
    ("3,224,224", "3,224,224 (ImageNet)"),
)


def gallery_message(message: str) -> str:
    """A template refusal in the dialog's words (its fields, not the command line's flags)."""
    return (
        message.replace("--input", "the input shape")
        .replace("--classes", "classes")
        .replace("--shortcut", "the shortcut")
    )


class TemplateGallery(QDialog):
    def __init__(self, parent: QWidget | None = None, selected: str = "resnet20") -> None:
        super().__init__(parent)
        self.setWindowTitle("New from template")
        self.resize(820, 520)
        self._infos = {t.name: t for t in all_templates()}
        self._figure_cache: dict[str, str] = {}
        self._build_tree(selected)
        self._build_options()
        split = QSplitter()
        split.addWidget(self.tree)
        split.addWidget(self._build_details())
        split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(split, 1)
        lay.addLayout(self._build_buttons())
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemDoubleClicked.connect(lambda item, _c: item.data(0, NAME_ROLE) and self.accept())
        self._on_current(self.tree.currentItem(), None)

    def _build_tree(self, selected: str) -> None:
        """The templates by family, ``selected`` current."""
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setMinimumWidth(220)
        for family, title in FAMILIES:
            group = QTreeWidgetItem(self.tree, [title])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            f = group.font(0)
            f.setBold(True)
            group.setFont(0, f)
            for t in self._infos.values():
                if t.family == family:
                    item = QTreeWidgetItem(group, [t.name])
                    item.setData(0, NAME_ROLE, t.name)
                    item.setToolTip(0, t.doc)
                    if t.name == selected:
                        self.tree.setCurrentItem(item)
            group.setExpanded(True)

    def _build_options(self) -> None:
        """The description labels, the options (input shape, classes, shortcut, ImageNet weights) and
        the line that says why a choice does not build."""
        self.title = QLabel()
        self.title.setProperty("role", "heading")
        self.doc = QLabel(wordWrap=True)
        self.doc.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.figures = QLabel(wordWrap=True)
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.classes = QSpinBox(minimum=0, maximum=100_000, specialValueText="template default")
        self.classes.setToolTip("Number of classes: sets the head Linear's out_features")
        self.input_shape = QComboBox()
        self.input_shape.setEditable(True)
        for value, label in INPUT_SHAPES:
            self.input_shape.addItem(label, value)
        self.input_shape.lineEdit().setPlaceholderText("C,H,W")
        self.input_shape.setToolTip(
            "The network's input per sample, C,H,W (e.g. 1,28,28 for MNIST): sets the Input node's shape"
        )
        self.shortcut = QComboBox()
        for value, label in SHORTCUTS:
            self.shortcut.addItem(label, value)
        self.imagenet = QCheckBox("Start from ImageNet weights")
        self.imagenet.setToolTip(
            "torchvision's ImageNet weights for this architecture, downloaded into the cache when training "
            "starts; a head with another class count starts fresh"
        )
        self.problem = QLabel("")
        self.problem.setProperty("role", "error")
        self.problem.setWordWrap(True)
        self.problem.hide()
        self.input_shape.currentTextChanged.connect(lambda _t: self.problem.hide())
        self.classes.valueChanged.connect(lambda _v: self.problem.hide())

    def _build_details(self) -> QWidget:
        """The right side: the chosen template's title, doc and figures above the options form."""
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(16, 8, 8, 8)
        rl.addWidget(self.title)
        rl.addWidget(self.doc)
        rl.addWidget(self.figures)
        rl.addStretch(1)
        form = QFormLayout()
        form.addRow("Input shape", self.input_shape)
        form.addRow("Classes", self.classes)
        form.addRow("Shortcut", self.shortcut)
        form.addRow("", self.imagenet)
        rl.addLayout(form)
        rl.addWidget(self.problem)
        return right

    def _build_buttons(self) -> QHBoxLayout:
        """A hint, then Create and Cancel."""
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        bottom = QHBoxLayout()
        hint = QLabel("Every template is a real, trainable network; parameter counts match the references.")
        hint.setProperty("role", "muted")
        bottom.addWidget(hint, 1)
        bottom.addWidget(buttons)
        return bottom

    def selected_name(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, NAME_ROLE) if item is not None else None

    def select(self, name: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            g = self.tree.topLevelItem(i)
            for j in range(g.childCount()):
                if g.child(j).data(0, NAME_ROLE) == name:
                    self.tree.setCurrentItem(g.child(j))

    def input_text(self) -> str | None:
        """The input shape typed or chosen ("1,28,28"), None for the template's own."""
        text = self.input_shape.currentText().strip()
        i = self.input_shape.findText(text)
        if i >= 0:
            return self.input_shape.itemData(i) or None
        return text or None

    def options(self) -> dict:
        opts = {
            "classes": self.classes.value() or None,
            "input_shape": self.input_text(),
            "shortcut": self.shortcut.currentData() or None,
        }
        if self.imagenet.isEnabled() and self.imagenet.isChecked():
            opts["weights"] = "imagenet"
        return opts

    def accept(self) -> None:
        """Create only what builds: a bad shape, or one that shrinks to nothing, is said here."""
        name = self.selected_name()
        if not name:
            return
        from graph.errors import UserError
        from graph.templates import make

        opts = self.options()
        weights = opts.pop("weights", None)
        try:
            project = make(name, **opts)
            if weights:
                from graph.pretrained import with_weights

                with_weights(project, weights)
        except UserError as exc:
            self.problem.setText(gallery_message(exc.message))
            self.problem.show()
            return
        super().accept()

    def _figures(self, name: str) -> str:
        """Parameters, MACs and depth of a template at its defaults (built once, ~10 ms for resnet152),
        then its structure: the runs of plain layers and the stages, each with its output shape."""
        if name not in self._figure_cache:
            from graph.shapes import analyze
            from graph.summary import human
            from graph.templates import make

            try:
                project = make(name)
            except Exception as exc:  # noqa: BLE001 - a broken template must not break the gallery
                self._figure_cache[name] = f"could not be built: {exc}"
            else:
                a = analyze(project)
                convs = sum(1 for layer in a.layers() if layer.type in ("Conv2d", "Linear"))
                self._figure_cache[name] = (
                    f"<b>{a.total_params:,}</b> parameters · <b>{human(a.macs)}</b>MACs · "
                    f"{convs} conv/linear layers · {len(project.blocks)} block "
                    f"definition{'s' if len(project.blocks) != 1 else ''}" + structure_table(project, a)
                )
        return self._figure_cache[name]

    def _on_current(self, item, _previous) -> None:
        name = item.data(0, NAME_ROLE) if item is not None else None
        self.ok_button.setEnabled(bool(name))
        if not name:
            self.title.setText("Choose a template")
            self.doc.setText("")
            self.figures.setText("")
            return
        info = self._infos[name]
        self.title.setText(name)
        self.doc.setText(info.doc)
        family = dict(FAMILIES).get(info.family, info.family)
        self.figures.setText(f"{family}<br>{self._figures(name)}")
        self.shortcut.setEnabled(info.shortcut_options)
        if not info.shortcut_options:
            self.shortcut.setCurrentIndex(0)
        from graph.pretrained import ARCHS

        self.imagenet.setEnabled(name in ARCHS)  # the templates that mirror torchvision
        if name not in ARCHS:
            self.imagenet.setChecked(False)


def structure_rows(project, analysis) -> list[tuple[str, str, str]]:
    """(part, content, output shape) from input to output: consecutive layers outside any stage
    make one row ("conv1 · bn1 · relu · maxpool"), each stage one row ("3 × Bottleneck")."""
    from graph.shapes import fmt

    g = project.graph
    stage_of = {n: st for st in g.stages for n in st.nodes}
    rows: list[tuple[str, str, str]] = []
    run: list[str] = []
    last_shape = ""

    def flush(part: str) -> None:
        if run:
            rows.append((part, " · ".join(run), last_shape))
            run.clear()

    order = [n for n in analysis.root.order if n in g.nodes]
    seen_stage = set()
    for n in order:
        node = g.nodes[n]
        info = analysis.root.nodes.get(n)
        shape = fmt(info.out_shape) if info is not None and info.out_shape is not None else "?"
        if node.type in ("Input", "Output"):
            continue
        st = stage_of.get(n)
        if st is None:
            run.append(node.name)
            last_shape = shape
            continue
        flush("stem" if not rows else "")
        if st.name in seen_stage:
            rows[-1] = (rows[-1][0], rows[-1][1], shape)
            continue
        seen_stage.add(st.name)
        kinds = {g.nodes[m].type for m in st.nodes if m in g.nodes}
        kind = next(iter(kinds)).split(":")[-1] if len(kinds) == 1 else None
        members = [g.nodes[m].name for m in st.nodes if m in g.nodes]
        count = len(members)
        rows.append(
            (
                st.name,
                f"{count} \u00d7 {kind}" if kind else f"{count} layers: {members[0]} \u2026 {members[-1]}",
                shape,
            )
        )
    flush("head" if rows else "")
    return rows


def structure_table(project, analysis, max_rows: int = 14) -> str:
    rows = structure_rows(project, analysis)
    if not rows:
        return ""
    if len(rows) > max_rows:
        rows = rows[: max_rows - 1] + [("", f"\u2026 {len(rows) - max_rows + 1} more", "")]
    cells = "".join(
        f"<tr><td style='padding:2px 14px 2px 0'><b>{html.escape(part)}</b></td>"
        f"<td style='padding:2px 14px 2px 0'>{html.escape(content)}</td>"
        f"<td align='right' style='font-family:monospace; padding:2px 0'>{html.escape(shape)}</td></tr>"
        for part, content, shape in rows
    )
    return f"<br><br><table cellspacing='0'>{cells}</table>"


def choose_template(parent: QWidget | None = None, selected: str = "resnet20") -> tuple[str, dict] | None:
    dlg = TemplateGallery(parent, selected)
    if dlg.exec() != QDialog.DialogCode.Accepted or not dlg.selected_name():
        return None
    return dlg.selected_name(), dlg.options()
