"""The Inspector: a form for whatever is selected, generated from the layer
registry's parameter schema (graph.params.ParamSpec).

- a node: its name (rename), frozen flag and parameters; a block instance's
  block parameters; its shapes, parameter count and problems;
- a shortcut edge: its projection and the attribute name of its module;
  a data edge: its shape, and a button that turns it into a shortcut;
- nothing selected in a block's tab: the block definition's typed parameters.

Every committed change is one ``document.push(edit, label)``, so the Edit
menu reads "Undo Set stride of conv2".

The panel picks the target, owns the widgets (where the window and tests reach
them) and the section helpers; one builder per kind of target fills and syncs
them: ``NodeForm`` (inspector_node.py), ``EdgeForm`` (inspector_edge.py) and
``BlockDefinitionForm`` (inspector_block.py). The network form stays here."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QEvent, QKeyCombination, Qt
from PySide6.QtGui import QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.document import failing_instances
from app.panels.icons import category_icon, severity_icon
from app.panels.inspector_block import BlockDefinitionForm
from app.panels.inspector_edge import EdgeForm
from app.panels.inspector_node import NodeForm
from app.panels.inspector_rows import with_message
from app.panels.param_editors import ParamField
from graph.shapes import PROJECTION_LABELS, fmt


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
        self.node_form = NodeForm(self)  # one form builder per kind of target
        self.edge_form = EdgeForm(self)
        self.block_form = BlockDefinitionForm(self)
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
            self.node_form.build(block, key)
        elif kind == "edge":
            self.edge_form.build(block, key)
        elif kind == "block":
            self.block_form.build(block)
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
    # ----- edge -----------------------------------------------------------------------
    # ----- block definition --------------------------------------------------------
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
        form.addRow("Name", with_message(self.project_name_edit, self._class_label))
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
            rebuilt = self.node_form.sync(block, key)
        elif kind == "edge":
            rebuilt = self.edge_form.sync(block, key)
        elif kind == "block":
            rebuilt = self.block_form.sync(block)
        else:
            rebuilt = kind == "network" and self._title.text() != self.document.project.name
            if rebuilt:
                self.rebuild()  # renamed (here, or by undo)
        if not rebuilt:
            self._sync_info()

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
