"""The Inspector: a form for whatever is selected, generated from the layer
registry's parameter schema (graph.params.ParamSpec).

- a node: its name (rename), frozen flag and parameters; a block instance's
  block parameters; its shapes, parameter count and problems;
- a shortcut edge: its projection and the attribute name of its module;
  a data edge: its shape, and a button that turns it into a shortcut;
- nothing selected in a block's tab: the block definition's typed parameters.

Every committed change is one ``document.push(edit, label)``, so the Edit
menu reads "Undo Set stride of conv2"."""

from __future__ import annotations

import html
import keyword
from typing import Any

from PySide6.QtCore import QEvent, QKeyCombination, Qt
from PySide6.QtGui import QFontDatabase, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.app_style import CLOSE_SVG
from app.document import failing_instances
from app.panels.icons import category_icon, severity_icon
from app.panels.param_editors import ParamField
from graph import edits as E
from graph import registry
from graph.model import BlockParam
from graph.params import ParamSpec
from graph.shapes import PROJECTION_LABELS, fmt

PROJECTION_CHOICES = (
    ("identity", "identity"),
    ("zero_pad", "zero-pad (option A)"),
    ("conv_bn", "1x1 conv + BN (option B)"),
    ("conv_bn_always", "always 1x1 conv + BN (option C)"),
)
BLOCK_PARAM_TYPES = ("int", "float", "bool")


def name_problem(graph, name: str, exclude: str | None) -> str | None:
    if not name:
        return "a name is needed"
    if not name.isidentifier() or keyword.iskeyword(name):
        return "use letters, digits and _ (it becomes the attribute name in code)"
    if any(n.name == name and n.id != exclude for n in graph.nodes.values()):
        return f'"{name}" is already used in this graph'
    return None


def _with_message(editor: QWidget, message: QLabel) -> QWidget:
    """An editor with its validation message right under it (one form row)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(editor)
    layout.addWidget(message)
    return box


def block_param_spec(name: str, p: BlockParam) -> ParamSpec:
    t = p.type if p.type in ("int", "float", "bool") else "int"
    return ParamSpec(name, t, p.default, min=None)


def _is_undo_key(event) -> bool:
    if event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo):
        return True
    combo = event.keyCombination()
    ctrl = Qt.KeyboardModifier.ControlModifier
    return combo in (
        QKeyCombination(ctrl | Qt.KeyboardModifier.ShiftModifier, Qt.Key.Key_Z),
        QKeyCombination(ctrl, Qt.Key.Key_Y),
    )


class InspectorPanel(QWidget):
    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.fields: dict[str, ParamField] = {}
        self.target: tuple | None = None
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )  # the form fits the dock
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.scroll)
        self._mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        document.selection_changed.connect(self.rebuild)
        document.analysis_changed.connect(self._on_analysis)
        if hasattr(document, "project_replaced"):
            document.project_replaced.connect(self.rebuild)
        if hasattr(document, "instance_changed"):  # a block tab's "Shapes of" chooser
            document.instance_changed.connect(lambda _block: self.rebuild())
        self.rebuild()

    # ----- target -----------------------------------------------------------------
    def _current_target(self) -> tuple:
        block, node_ids, edge_ids = self.document.selection
        project = self.document.project
        if block is not None and block not in project.blocks:
            return ("none", None, None)
        g = project.graph_of(block)
        if len(node_ids) == 1 and not edge_ids and node_ids[0] in g.nodes:
            return ("node", block, node_ids[0])
        if len(edge_ids) == 1 and not node_ids and edge_ids[0] in g.edges:
            return ("edge", block, edge_ids[0])
        if node_ids or edge_ids:
            return ("many", block, (len(node_ids), len(edge_ids)))
        if block is not None:
            return ("block", block, None)
        return ("network", None, None)

    def _on_analysis(self, _analysis=None) -> None:
        target = self._current_target()
        if target != self.target:
            self.rebuild()
            return
        self._sync()

    def rebuild(self) -> None:
        self.target = self._current_target()
        self.fields = {}
        self.name_edit: QLineEdit | None = None
        self.frozen_box: QCheckBox | None = None
        self.projection_combo: QComboBox | None = None
        self._info_labels: dict[str, QLabel] = {}
        self._problem_box = None
        body = QWidget()
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(12, 10, 12, 12)
        self._layout.setSpacing(8)
        kind, block, key = self.target
        if kind == "node":
            self._build_node(block, key)
        elif kind == "edge":
            self._build_edge(block, key)
        elif kind == "block":
            self._build_block(block)
        elif kind == "many":
            n, m = key
            parts = [f"{n} node{'s' if n != 1 else ''}"] * bool(n) + [
                f"{m} edge{'s' if m != 1 else ''}"
            ] * bool(m)
            self._heading(" and ".join(parts) + " selected", "")
            self._muted(
                "Select one node or edge to edit it. Edit ▸ Group into block turns a selection with one "
                "input and one output into a reusable block."
            )
        else:
            self._build_network()
        self._layout.addStretch(1)
        self._watch_fields(body)
        old = self.scroll.takeWidget()
        self.scroll.setWidget(body)
        if old is not None:
            old.deleteLater()

    # ----- undo while a field has the focus ------------------------------------------
    def _watch_fields(self, body: QWidget) -> None:
        """A text field takes Ctrl+Z for its own undo, so Edit ▸ Undo never ran while the focus was
        in the inspector (issue 25). Now the field keeps Ctrl+Z (and redo) only while its text has
        an edit not yet committed; otherwise the document's undo runs."""
        for w in body.findChildren(QLineEdit) + body.findChildren(QAbstractSpinBox):
            w.installEventFilter(self)
        for le in body.findChildren(QLineEdit):
            le.setProperty("committedText", le.text())
            le.editingFinished.connect(lambda le=le: le.setProperty("committedText", le.text()))

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and _is_undo_key(event):
            le = obj if isinstance(obj, QLineEdit) else obj.findChild(QLineEdit)
            if le is not None and (not le.isModified() or le.text() == le.property("committedText")):
                return True  # unaccepted: the window's Undo / Redo shortcut runs
        return super().eventFilter(obj, event)

    # ----- small builders ---------------------------------------------------------
    def _heading(self, title: str, subtitle: str, category: str | None = None) -> None:
        row = QHBoxLayout()
        if category:
            icon = QLabel()
            icon.setPixmap(category_icon(category).pixmap(18, 18))
            row.addWidget(icon)
        t = QLabel(title)
        self._title = t
        t.setProperty("role", "heading")
        t.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(t, 1)
        if subtitle:
            s = QLabel(subtitle)
            s.setProperty("role", "muted")
            row.addWidget(s)
        self._layout.addLayout(row)

    def _muted(self, text: str) -> QLabel:
        lab = QLabel(text, wordWrap=True)
        lab.setProperty("role", "muted")
        self._layout.addWidget(lab)
        return lab

    def _section(self, title: str, detail: str = "") -> QFormLayout:
        lab = QLabel(title.upper() + (f"  ·  {detail}" if detail else ""))
        lab.setProperty("role", "section")
        self._layout.addWidget(lab)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # a narrow dock: label above field
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(6)
        self._layout.addLayout(form)
        return form

    def _info(self, form: QFormLayout, key: str, label: str, text: str) -> None:
        v = QLabel(text)
        v.setFont(self._mono)
        v.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        v.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(label, v)
        self._info_labels[key] = v

    def _problems(self, diags) -> None:
        self._problem_box = QVBoxLayout()
        self._layout.addLayout(self._problem_box)
        self._fill_problems(diags)

    def _fill_problems(self, diags) -> None:
        box = getattr(self, "_problem_box", None)
        if box is None:
            return
        while box.count():
            w = box.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        for d in diags:
            row = QWidget()
            rl = QHBoxLayout(row)
            rl.setContentsMargins(0, 0, 0, 0)
            icon = QLabel()
            icon.setPixmap(severity_icon(d.severity).pixmap(14, 14))
            icon.setAlignment(Qt.AlignmentFlag.AlignTop)
            rl.addWidget(icon)
            text = d.message
            if d.block is not None and d.is_error and self.document.analysis is not None:
                failing = failing_instances(self.document.analysis, d.block, d.node or "")
                if failing:  # one definition, several shapes: say which instances fail
                    text = f"In {', '.join(failing[:3])}{' …' if len(failing) > 3 else ''}: {text}"
            msg = QLabel(text, wordWrap=True)
            msg.setProperty("role", "error" if d.is_error else "muted")
            rl.addWidget(msg, 1)
            box.addWidget(row)
            if d.fixes:  # links wrap in a narrow dock where buttons would not
                links = " · ".join(f"<a href='{i}'>{html.escape(f.label)}</a>" for i, f in enumerate(d.fixes))
                fixes = QLabel(f"Fix: {links}", wordWrap=True)
                fixes.setTextFormat(Qt.TextFormat.RichText)
                fixes.setContentsMargins(22, 0, 0, 4)
                fixes.linkActivated.connect(
                    lambda href, fs=d.fixes: self.document.apply_fix(
                        fs[int(href)].action, fs[int(href)].label
                    )
                )
                box.addWidget(fixes)

    def _diags_for(self, block, node_id=None, edge_id=None):
        a = self.document.analysis
        if a is None:
            return []
        return [
            d
            for d in a.diagnostics
            if d.block == block
            and ((node_id is not None and d.node == node_id) or (edge_id is not None and d.edge == edge_id))
        ]

    def _instance_detail(self, block) -> str:
        """Inside a block the shapes are one instance's: name it ("SHAPES  ·  layer2_0")."""
        shown = getattr(self.document, "shown_instance", None)
        path = shown(block) if block is not None and shown is not None else None
        return path or ""

    def _graph_info(self, block):
        """The network's analysis, or that of the block instance shown on its tab."""
        return self.document.block_info(block)

    def _env(self, block) -> dict[str, Any] | None:
        if block is None:
            return None
        bdef = self.document.project.blocks[block]
        info = self._graph_info(block)
        values = self._instance_values(block, info)  # the shown instance's values, not the defaults
        env = {
            k: v
            for k, v in values.items()
            if k in bdef.params and isinstance(v, int) and not isinstance(v, bool)
        }
        in_shape = info.input_shape if info is not None else None
        env["in_channels"] = in_shape[0] if in_shape else 64
        return env

    def _instance_values(self, block, info=None) -> dict[str, Any]:
        """The block parameters of the instance shown on ``block``'s tab (its defaults where none)."""
        bdef = self.document.project.blocks[block]
        values = {k: p.default for k, p in bdef.params.items()}
        info = info if info is not None else self._graph_info(block)
        if info is not None and info.env:
            values.update({k: v for k, v in info.env.items() if k in bdef.params})
        return values

    # ----- node -----------------------------------------------------------------------
    def _build_node(self, block, node_id) -> None:
        node = self.document.project.graph_of(block).nodes[node_id]
        lt = None if node.block_name else registry.get(node.type)
        self._build_node_heading(block, node_id, lt)
        form = self._section("Node")
        self._build_name_row(form, block, node_id)
        if node.type not in ("Input", "Output", "BlockInput", "BlockOutput"):
            self._build_frozen_row(form, block, node_id)
        self._stage_depth_row(block, node_id)
        self._build_node_params(block, node_id, lt)
        form = self._section("Shapes", self._instance_detail(block))
        self._info(form, "in", "Input", "")
        self._info(form, "out", "Output", "")
        self._info(form, "params", "Parameters", "")
        self._info(form, "macs", "MACs", "")
        self._problems(self._diags_for(block, node_id=node_id))
        self._sync_info()

    def _build_node_heading(self, block, node_id, lt) -> None:
        """The node's name and type, and its layer's doc or its block's "Open the block" link."""
        project = self.document.project
        node = project.graph_of(block).nodes[node_id]
        bname = node.block_name
        category = "block" if bname else (lt.category if lt else None)
        self._heading(node.name, bname or node.type, category)
        if lt is not None and lt.doc:
            self._muted(lt.doc)
        elif bname and bname in project.blocks:
            bdef = project.blocks[bname]
            lab = self._muted(
                (bdef.doc + " " if bdef.doc else "") + "<a href='open'>Open the block</a> to edit "
                "its inside; changes apply to every instance."
            )
            lab.setTextFormat(Qt.TextFormat.RichText)
            lab.linkActivated.connect(lambda _l, b=block, n=node_id: self.document.open_instance(b, n))

    def _build_name_row(self, form, block, node_id) -> None:
        """The node's name, checked as typed and renamed (one undo step) when editing ends."""
        g = self.document.project.graph_of(block)
        self.name_edit = QLineEdit(g.nodes[node_id].name)
        self.name_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        name_err = QLabel(wordWrap=True)
        name_err.setProperty("role", "error")
        name_err.hide()
        self._name_error = name_err

        def check_name(text: str) -> str | None:
            problem = name_problem(g, text.strip(), node_id)
            self.name_edit.setProperty("invalid", "true" if problem else "false")
            self.name_edit.style().unpolish(self.name_edit)
            self.name_edit.style().polish(self.name_edit)
            name_err.setText(problem or "")
            name_err.setVisible(bool(problem))
            return problem

        def commit_name() -> None:
            new = self.name_edit.text().strip()
            current = g.nodes[node_id].name if node_id in g.nodes else None
            if current is None or new == current or check_name(new):
                return
            self.document.push(E.SetNodeField(block, node_id, "name", new), f"Rename {current} to {new}")

        self.name_edit.textEdited.connect(check_name)
        self.name_edit.editingFinished.connect(commit_name)
        form.addRow("Name", _with_message(self.name_edit, name_err))

    def _build_frozen_row(self, form, block, node_id) -> None:
        """Whether the node's parameters train (one undo step per toggle)."""
        g = self.document.project.graph_of(block)
        self.frozen_box = QCheckBox("parameters don't train")
        self.frozen_box.setChecked(g.nodes[node_id].frozen)
        self.frozen_box.setLayoutDirection(Qt.LayoutDirection.RightToLeft)

        def commit_frozen(v: bool) -> None:
            n = g.nodes[node_id]
            if n.frozen != v:
                self.document.push(
                    E.SetNodeField(block, node_id, "frozen", v),
                    f"{'Freeze' if v else 'Unfreeze'} {n.name}",
                )

        self.frozen_box.toggled.connect(commit_frozen)
        form.addRow("Frozen", self.frozen_box)

    def _build_node_params(self, block, node_id, lt) -> None:
        """The layer's parameters, or a block instance's values (with the definition's defaults)."""
        project = self.document.project
        node = project.graph_of(block).nodes[node_id]
        bname = node.block_name
        bdef = project.blocks.get(bname) if bname else None
        if bname:
            specs = [block_param_spec(k, p) for k, p in bdef.params.items()] if bdef else []
            title = f"{bname} parameters"
        else:
            specs = list(lt.params) if lt else []
            title = "Parameters"
        if not specs:
            return
        form = self._section(title)
        if bdef is not None:  # (a short section title: the dock may be narrow)
            defaults = ", ".join(f"{k} {p.default}" for k, p in bdef.params.items())
            self._muted(f"This instance's values. The definition's defaults: {defaults}.")
        env = self._env(block)
        for spec in specs:
            value = node.params.get(spec.name, spec.default)
            fld = ParamField(spec, value, env)
            fld.committed.connect(lambda v, s=spec: self._commit_param(block, node_id, s.name, v))
            form.addRow(spec.name, fld)
            self.fields[spec.name] = fld

    def _stage_depth_row(self, block, node_id) -> None:
        """A block instance in a stage: the stage's depth as a spin box (one undo step on commit)."""
        g = self.document.project.graph_of(block)
        stage = g.stage_of(node_id)
        if stage is None or not all(g.nodes[n].block_name for n in stage.nodes):
            return
        from PySide6.QtWidgets import QSpinBox

        from graph.stage_edits import MAX_DEPTH, set_stage_depth

        form = self._section(f"Stage {stage.name}")
        box = QSpinBox()
        box.setRange(1, MAX_DEPTH)
        box.setValue(len(stage.nodes))
        box.setKeyboardTracking(False)  # commit on Enter, focus out or the arrows, not per digit
        box.setAlignment(Qt.AlignmentFlag.AlignRight)
        box.setToolTip(
            "Block instances in this stage: more copies its last instance, fewer removes from the end"
        )
        self.stage_depth = box

        def commit(n: int) -> None:
            from graph.errors import UserError

            try:
                edit = set_stage_depth(self.document.project, stage.name, n, block)
            except UserError as exc:  # e.g. an edge from outside the stage into an instance to remove
                box.setToolTip(exc.message)
                box.setValue(len(stage.nodes))
                return
            if edit.edits:
                self.document.push(edit, edit.label)

        box.valueChanged.connect(commit)
        form.addRow("Depth", box)

    def _commit_param(self, block, node_id, key, value) -> None:
        g = self.document.project.graph_of(block)
        node = g.nodes.get(node_id)
        if node is None or node.params.get(key) == value and key in node.params:
            return
        self.document.push(E.SetParam(block, node_id, key, value), f"Set {key} of {node.name}")

    # ----- edge -----------------------------------------------------------------------
    def _build_edge(self, block, edge_id) -> None:
        g = self.document.project.graph_of(block)
        e = g.edges[edge_id]
        src, dst = g.nodes[e.src], g.nodes[e.dst]
        if e.is_shortcut:
            self._heading(e.name or "shortcut", "shortcut", "merge")
            self._muted(
                f"From {src.name} to {dst.name} (input {e.dst_port + 1}). "
                "The projection decides what happens "
                "where the shapes differ."
            )
            form = self._section("Shortcut")
            self.projection_combo = QComboBox()
            # the longest label must not widen the form past a narrow dock: the popup shows it whole
            self.projection_combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            self.projection_combo.setMinimumContentsLength(12)
            for value, label in PROJECTION_CHOICES:
                self.projection_combo.addItem(label, value)
            self.projection_combo.setCurrentIndex(max(0, self.projection_combo.findData(e.projection)))

            def commit_projection(i: int) -> None:
                v = self.projection_combo.itemData(i)
                edge = g.edges.get(edge_id)
                if edge is not None and edge.projection != v:
                    self.document.push(
                        E.SetEdgeField(block, edge_id, "projection", v),
                        f"Set projection of {edge.name or 'shortcut'} to {PROJECTION_LABELS[v]}",
                    )

            self.projection_combo.activated.connect(commit_projection)
            form.addRow("Projection", self.projection_combo)
            self.name_edit = QLineEdit(e.name or "shortcut")
            self.name_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
            err = QLabel(wordWrap=True)
            err.setProperty("role", "error")
            err.hide()

            def check(text: str) -> str | None:
                t = text.strip()
                problem = None
                if not t.isidentifier() or keyword.iskeyword(t):
                    problem = "use letters, digits and _ (the projection module's attribute name)"
                elif any(n.name == t for n in g.nodes.values()) or any(
                    x.name == t and x.id != edge_id for x in g.edges.values() if x.is_shortcut
                ):
                    problem = f'"{t}" is already used in this graph'
                self.name_edit.setProperty("invalid", "true" if problem else "false")
                self.name_edit.style().unpolish(self.name_edit)
                self.name_edit.style().polish(self.name_edit)
                err.setText(problem or "")
                err.setVisible(bool(problem))
                return problem

            def commit() -> None:
                t = self.name_edit.text().strip()
                edge = g.edges.get(edge_id)
                if edge is None or t == edge.name or check(t):
                    return
                self.document.push(
                    E.SetEdgeField(block, edge_id, "name", t), f"Rename shortcut {edge.name} to {t}"
                )

            self.name_edit.textEdited.connect(check)
            self.name_edit.editingFinished.connect(commit)
            form.addRow("Module name", _with_message(self.name_edit, err))
            form = self._section("In this instance", self._instance_detail(block))
            self._info(form, "applied", "Applied", "")
            self._info(form, "in", "From", "")
            self._info(form, "out", "To", "")
            self._info(form, "params", "Parameters", "")
        else:
            self._heading("Edge", "data", "io")
            self._muted(f"From {src.name} to {dst.name} (input {e.dst_port + 1}).")
            form = self._section("Tensor")
            self._info(form, "shape", "Shape", "")
            b = QPushButton("Make this a shortcut")
            b.setToolTip("Draw it as a residual arc with a projection for mismatched shapes")
            b.clicked.connect(
                lambda: self.document.apply_fix(
                    {
                        "op": "make_shortcut",
                        "edge": edge_id,
                        "block": block,
                        "projection": "identity",
                        "label": "Make shortcut",
                    }
                )
            )
            self._layout.addWidget(b)
        self._problems(self._diags_for(block, edge_id=edge_id))
        self._sync_info()

    # ----- block definition --------------------------------------------------------
    def _build_block(self, block) -> None:
        self._build_block_heading(block)
        self._build_block_defaults(block)
        self._build_new_param_row(block)
        self._problems(
            [
                d
                for d in (self.document.analysis.diagnostics if self.document.analysis else [])
                if d.block == block
            ]
        )

    def _build_block_heading(self, block) -> None:
        """The definition's name, doc and instance count, and the values of the instance its tab shows."""
        bdef = self.document.project.blocks[block]
        n_inst = sum(
            1
            for g in [self.document.project.graph, *(b.graph for b in self.document.project.blocks.values())]
            for n in g.nodes.values()
            if n.block_name == block
        )
        self._heading(block, "block definition", "block")
        self._muted(
            (bdef.doc + " " if bdef.doc else "") + f"Used by {n_inst} instance{'s' if n_inst != 1 else ''}; "
            "inner parameters may be expressions over these names and in_channels."
        )
        shown = self._instance_detail(block)
        info = self._graph_info(block)
        if shown and info is not None and info.env and bdef.params:
            # the tab shows one instance's shapes: say its values, apart from the definition's defaults
            values = self._instance_values(block, info)
            form = self._section("Values", shown)
            for name in bdef.params:
                self._info(form, f"value:{name}", name, str(values.get(name)))

    def _build_block_defaults(self, block) -> None:
        """One row per block parameter: its type, its default (editable) and a remove button."""
        bdef = self.document.project.blocks[block]
        form = self._section("Defaults")
        self._block_rows: dict[str, ParamField] = {}
        for name, p in bdef.params.items():
            row = QWidget()
            rl = QHBoxLayout(row)
            rl.setContentsMargins(0, 0, 0, 0)
            type_label = QLabel(p.type)
            type_label.setProperty("role", "muted")
            fld = ParamField(block_param_spec(name, p), p.default)
            fld.committed.connect(lambda v, k=name: self._set_block_param(block, k, default=v))
            rm = QToolButton()
            rm.setIcon(QIcon(CLOSE_SVG))
            rm.setAutoRaise(True)
            rm.setToolTip(f"Remove the parameter {name}")
            rm.clicked.connect(lambda _=False, k=name: self._remove_block_param(block, k))
            rl.addWidget(type_label)
            rl.addWidget(fld, 1)
            rl.addWidget(rm)
            form.addRow(name, row)
            self.fields[name] = fld
        if not bdef.params:
            form.addRow(QLabel("No parameters yet."))

    def _build_new_param_row(self, block) -> None:
        """A name, a type and Add: a new block parameter (one undo step), its name checked first."""
        bdef = self.document.project.blocks[block]
        add_row = QHBoxLayout()
        self.new_param_name = QLineEdit(placeholderText="new parameter")
        self.new_param_name.setMinimumWidth(60)
        self.new_param_type = QComboBox()
        self.new_param_type.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.new_param_type.setMinimumContentsLength(5)
        self.new_param_type.addItems(BLOCK_PARAM_TYPES)
        add = QPushButton("Add")
        self.new_param_error = QLabel(wordWrap=True)
        self.new_param_error.setProperty("role", "error")
        self.new_param_error.hide()

        def add_param() -> None:
            name = self.new_param_name.text().strip()
            problem = None
            if not name.isidentifier() or keyword.iskeyword(name):
                problem = "use letters, digits and _"
            elif name in bdef.params or name == "in_channels":
                problem = f'"{name}" is already a parameter'
            self.new_param_error.setText(problem or "")
            self.new_param_error.setVisible(bool(problem))
            if problem:
                return
            t = self.new_param_type.currentText()
            self._set_block_param(block, name, type_=t, default={"int": 1, "float": 0.0, "bool": False}[t])

        add.clicked.connect(add_param)
        self.new_param_name.returnPressed.connect(add_param)
        add_row.addWidget(self.new_param_name, 1)
        add_row.addWidget(self.new_param_type)
        add_row.addWidget(add)
        self._layout.addLayout(add_row)
        self._layout.addWidget(self.new_param_error)

    def _set_block_param(self, block, name, default=None, type_=None) -> None:
        bdef = self.document.project.blocks[block]
        params = {k: BlockParam(p.type, p.default) for k, p in bdef.params.items()}
        if name in params:
            params[name] = BlockParam(type_ or params[name].type, default)
            label = f"Set default of {name} in {block}"
        else:
            params[name] = BlockParam(type_ or "int", default)
            label = f"Add parameter {name} to {block}"
        self.document.push(E.SetBlockParams(block, params), label)
        if label.startswith("Add"):
            self.rebuild()

    def _remove_block_param(self, block, name) -> None:
        bdef = self.document.project.blocks[block]
        params = {k: BlockParam(p.type, p.default) for k, p in bdef.params.items() if k != name}
        self.document.push(E.SetBlockParams(block, params), f"Remove parameter {name} from {block}")
        self.rebuild()

    # ----- network (nothing selected) --------------------------------------------------
    def _build_network(self) -> None:
        project = self.document.project
        self._heading(project.name, "network")
        self._muted(
            "Select a node or an edge to edit it. Drag layers in from the palette; drag from an output "
            "port to an input port to connect."
        )
        form = self._section("Project")
        self.project_name_edit = QLineEdit(project.name)
        self.project_name_edit.setToolTip("The project's name; the network's class in the code follows it")
        self.project_name_edit.editingFinished.connect(self._commit_project_name)
        self._class_label = QLabel()
        self._class_label.setFont(self._mono)
        self._class_label.setProperty("role", "muted")
        form.addRow("Name", _with_message(self.project_name_edit, self._class_label))
        self._show_class_name(project.name)
        self.project_name_edit.textEdited.connect(self._show_class_name)
        form = self._section("Summary")
        self._info(form, "nodes", "Nodes", "")
        self._info(form, "blocks", "Block definitions", "")
        self._info(form, "out", "Output", "")
        self._info(form, "params", "Parameters", "")
        self._info(form, "macs", "MACs", "")
        self._sync_info()

    def _show_class_name(self, text: str) -> None:
        from app.project_edits import class_name

        self._class_label.setText(f"class {class_name(text.strip())}(nn.Module)")

    def _commit_project_name(self) -> None:
        from app.project_edits import RenameProject

        edit = self.project_name_edit
        name = " ".join(edit.text().split())
        if not name:  # a project needs a name: put the old one back
            edit.setText(self.document.project.name)
            self._show_class_name(self.document.project.name)
            return
        if name != self.document.project.name:
            rename = RenameProject(name)
            self.document.push(rename, rename.label)

    # ----- sync from the model ---------------------------------------------------------------
    def _sync(self) -> None:
        kind, block, key = self.target
        if kind == "node":
            rebuilt = self._sync_node(block, key)
        elif kind == "edge":
            rebuilt = self._sync_edge(block, key)
        elif kind == "block":
            rebuilt = self._sync_block(block)
        else:
            rebuilt = kind == "network" and self._title.text() != self.document.project.name
            if rebuilt:
                self.rebuild()  # renamed (here, or by undo)
        if not rebuilt:
            self._sync_info()

    def _sync_node(self, block, key) -> bool:
        """The node's fields from the model; True when the panel was rebuilt instead."""
        node = self.document.project.graph_of(block).nodes[key]
        if node.name != self._title.text():  # renamed (here, by undo, by a fix): the heading too
            self.rebuild()
            return True
        if self.name_edit is not None and not self.name_edit.hasFocus():
            self.name_edit.setText(node.name)
        if self.frozen_box is not None:
            self.frozen_box.blockSignals(True)
            self.frozen_box.setChecked(node.frozen)
            self.frozen_box.blockSignals(False)
        for name, fld in self.fields.items():
            spec = fld.spec
            fld.set_value(node.params.get(name, spec.default))
        self._fill_problems(self._diags_for(block, node_id=key))
        return False

    def _sync_edge(self, block, key) -> bool:
        """The edge's fields from the model; True when the panel was rebuilt instead."""
        e = self.document.project.graph_of(block).edges[key]
        if e.is_shortcut and (e.name or "shortcut") != self._title.text():
            self.rebuild()
            return True
        if self.projection_combo is not None:
            self.projection_combo.setCurrentIndex(max(0, self.projection_combo.findData(e.projection)))
        if self.name_edit is not None and not self.name_edit.hasFocus():
            self.name_edit.setText(e.name or "shortcut")
        if (self.projection_combo is None) == e.is_shortcut:
            self.rebuild()
            return True
        self._fill_problems(self._diags_for(block, edge_id=key))
        return False

    def _sync_block(self, block) -> bool:
        """The block definition's fields from the model; True when the panel was rebuilt instead."""
        bdef = self.document.project.blocks[block]
        if set(bdef.params) != set(self.fields) or any(
            fld.spec.type != bdef.params[k].type for k, fld in self.fields.items()
        ):
            self.rebuild()
            return True
        for k, fld in self.fields.items():
            fld.set_value(bdef.params[k].default)
        values = self._instance_values(block)
        for k, lab in self._info_labels.items():
            if k.startswith("value:"):
                lab.setText(str(values.get(k[6:])))
        self._fill_problems([d for d in self.document.analysis.diagnostics if d.block == block])
        return False

    def _sync_info(self) -> None:
        kind, block, key = self.target
        labels = self._info_labels
        info = self._graph_info(block)
        a = self.document.analysis
        if kind == "node":
            ni = info.nodes.get(key) if info is not None else None
            ins = ", ".join(fmt(s) for s in ni.in_shapes) if ni and ni.in_shapes else "—"
            labels["in"].setText(ins)
            labels["out"].setText(fmt(ni.out_shape) if ni else "?")
            labels["params"].setText(f"{ni.num_params:,}" if ni else "?")
            labels["macs"].setText(f"{ni.macs:,}" if ni else "?")
        elif kind == "edge":
            g = self.document.project.graph_of(block)
            e = g.edges[key]
            if e.is_shortcut:
                sc = info.shortcuts.get(key) if info is not None else None
                labels["applied"].setText(PROJECTION_LABELS.get(sc.applied, sc.applied) if sc else "?")
                labels["in"].setText(fmt(sc.in_shape) if sc else "?")
                labels["out"].setText(fmt(sc.out_shape) if sc else "?")
                labels["params"].setText(f"{sc.num_params:,}" if sc else "?")
            else:
                shape = info.edge_shapes.get(key) if info is not None else None
                labels["shape"].setText(fmt(shape))
        elif kind == "network" and a is not None:
            p = self.document.project
            labels["nodes"].setText(str(len(p.graph.nodes)))
            labels["blocks"].setText(str(len(p.blocks)))
            labels["out"].setText(fmt(a.output_shape))
            labels["params"].setText(f"{a.total_params:,}")
            labels["macs"].setText(f"{a.macs:,}")
