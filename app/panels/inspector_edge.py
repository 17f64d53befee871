"""The Inspector's form for one selected edge: a shortcut's projection and module name, or a data
edge's shape and a button that turns it into a shortcut; each committed change one undo step.

Built into an ``InspectorPanel`` (app/panels/inspector.py), whose section helpers it uses."""

from __future__ import annotations

import keyword
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPushButton

from app.panels.inspector_rows import with_message
from graph import edits as E
from graph.shapes import PROJECTION_LABELS

if TYPE_CHECKING:
    from app.panels.inspector import InspectorPanel

PROJECTION_CHOICES = (
    ("identity", "identity"),
    ("zero_pad", "zero-pad (option A)"),
    ("zero_pad_both", "zero-pad both sides"),
    ("conv_bn", "1x1 conv + BN (option B)"),
    ("conv_bn_always", "always 1x1 conv + BN (option C)"),
)


class EdgeForm:
    """Builds and syncs the edge form of an inspector panel."""

    def __init__(self, panel: InspectorPanel) -> None:
        self.panel = panel  # the widgets it builds live on the panel, where the window and tests reach them

    def build(self, block, edge_id) -> None:
        panel = self.panel
        g = panel.document.project.graph_of(block)
        e = g.edges[edge_id]
        src, dst = g.nodes[e.src], g.nodes[e.dst]
        if e.is_shortcut:
            self._shortcut(g, e, src, dst, block, edge_id)
        else:
            self._data(e, src, dst, block, edge_id)
        panel._problems(panel._diags_for(block, edge_id=edge_id))
        panel._sync_info()

    def _shortcut(self, g, e, src, dst, block, edge_id) -> None:
        """A shortcut: its projection and module name (each checked, one undo step), and its shapes."""
        panel = self.panel
        panel._heading(e.name or "shortcut", "shortcut", "merge")
        panel._muted(
            f"From {src.name} to {dst.name} (input {e.dst_port + 1}). "
            "The projection decides what happens "
            "where the shapes differ."
        )
        form = panel._section("Shortcut")
        panel.projection_combo = QComboBox()
        # the longest label must not widen the form past a narrow dock: the popup shows it whole
        panel.projection_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        panel.projection_combo.setMinimumContentsLength(12)
        for value, label in PROJECTION_CHOICES:
            panel.projection_combo.addItem(label, value)
        panel.projection_combo.setCurrentIndex(max(0, panel.projection_combo.findData(e.projection)))

        def commit_projection(i: int) -> None:
            v = panel.projection_combo.itemData(i)
            edge = g.edges.get(edge_id)
            if edge is not None and edge.projection != v:
                panel.document.push(
                    E.SetEdgeField(block, edge_id, "projection", v),
                    f"Set projection of {edge.name or 'shortcut'} to {PROJECTION_LABELS[v]}",
                )

        panel.projection_combo.activated.connect(commit_projection)
        form.addRow("Projection", panel.projection_combo)
        panel.name_edit = QLineEdit(e.name or "shortcut")
        panel.name_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
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
            panel.name_edit.setProperty("invalid", "true" if problem else "false")
            panel.name_edit.style().unpolish(panel.name_edit)
            panel.name_edit.style().polish(panel.name_edit)
            err.setText(problem or "")
            err.setVisible(bool(problem))
            return problem

        def commit() -> None:
            t = panel.name_edit.text().strip()
            edge = g.edges.get(edge_id)
            if edge is None or t == edge.name or check(t):
                return
            panel.document.push(
                E.SetEdgeField(block, edge_id, "name", t), f"Rename shortcut {edge.name} to {t}"
            )

        panel.name_edit.textEdited.connect(check)
        panel.name_edit.editingFinished.connect(commit)
        form.addRow("Module name", with_message(panel.name_edit, err))
        form = panel._section("In this instance", panel._instance_detail(block))
        panel._info(form, "applied", "Applied", "")
        panel._info(form, "in", "From", "")
        panel._info(form, "out", "To", "")
        panel._info(form, "params", "Parameters", "")

    def _data(self, e, src, dst, block, edge_id) -> None:
        """A data edge: its shape, and a button that turns it into a shortcut."""
        panel = self.panel
        panel._heading("Edge", "data", "io")
        panel._muted(f"From {src.name} to {dst.name} (input {e.dst_port + 1}).")
        form = panel._section("Tensor")
        panel._info(form, "shape", "Shape", "")
        b = QPushButton("Make this a shortcut")
        b.setToolTip("Draw it as a residual arc with a projection for mismatched shapes")
        b.clicked.connect(
            lambda: panel.document.apply_fix(
                {
                    "op": "make_shortcut",
                    "edge": edge_id,
                    "block": block,
                    "projection": "identity",
                    "label": "Make shortcut",
                }
            )
        )
        panel._layout.addWidget(b)

    def sync(self, block, key) -> bool:
        """The edge's fields from the model; True when the panel was rebuilt instead."""
        panel = self.panel
        e = panel.document.project.graph_of(block).edges[key]
        if e.is_shortcut and (e.name or "shortcut") != panel._title.text():
            panel.rebuild()
            return True
        if panel.projection_combo is not None:
            panel.projection_combo.setCurrentIndex(max(0, panel.projection_combo.findData(e.projection)))
        if panel.name_edit is not None and not panel.name_edit.hasFocus():
            panel.name_edit.setText(e.name or "shortcut")
        if (panel.projection_combo is None) == e.is_shortcut:
            panel.rebuild()
            return True
        panel._fill_problems(panel._diags_for(block, edge_id=key))
        return False
