"""The Inspector's form for a block definition (nothing selected in a block's tab): its instance
count, the shown instance's values, its typed parameters' defaults, and adding or removing a
parameter (one undo step each).

Built into an ``InspectorPanel`` (app/panels/inspector.py), whose section helpers it uses."""

from __future__ import annotations

import keyword
from typing import TYPE_CHECKING

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QToolButton, QWidget

from app.app_style import CLOSE_SVG
from app.panels.inspector_rows import block_param_spec
from app.panels.param_editors import ParamField
from graph import edits as E
from graph.model import BlockParam

if TYPE_CHECKING:
    from app.panels.inspector import InspectorPanel

BLOCK_PARAM_TYPES = ("int", "float", "bool")


class BlockDefinitionForm:
    """Builds and syncs the block-definition form of an inspector panel."""

    def __init__(self, panel: InspectorPanel) -> None:
        self.panel = panel  # the widgets it builds live on the panel, where the window and tests reach them

    def build(self, block) -> None:
        panel = self.panel
        self._heading(block)
        self._defaults(block)
        self._new_param_row(block)
        panel._problems(
            [
                d
                for d in (panel.document.analysis.diagnostics if panel.document.analysis else [])
                if d.block == block
            ]
        )

    def _heading(self, block) -> None:
        """The definition's name, doc and instance count, and the values of the instance its tab shows."""
        panel = self.panel
        bdef = panel.document.project.blocks[block]
        n_inst = sum(
            1
            for g in [
                panel.document.project.graph,
                *(b.graph for b in panel.document.project.blocks.values()),
            ]
            for n in g.nodes.values()
            if n.block_name == block
        )
        panel._heading(block, "block definition", "block")
        panel._muted(
            (bdef.doc + " " if bdef.doc else "") + f"Used by {n_inst} instance{'s' if n_inst != 1 else ''}; "
            "inner parameters may be expressions over these names and in_channels."
        )
        shown = panel._instance_detail(block)
        info = panel._graph_info(block)
        if shown and info is not None and info.env and bdef.params:
            # the tab shows one instance's shapes: say its values, apart from the definition's defaults
            values = panel._instance_values(block, info)
            form = panel._section("Values", shown)
            for name in bdef.params:
                panel._info(form, f"value:{name}", name, str(values.get(name)))

    def _defaults(self, block) -> None:
        """One row per block parameter: its type, its default (editable) and a remove button."""
        panel = self.panel
        bdef = panel.document.project.blocks[block]
        form = panel._section("Defaults")
        for name, p in bdef.params.items():
            row = QWidget()
            rl = QHBoxLayout(row)
            rl.setContentsMargins(0, 0, 0, 0)
            type_label = QLabel(p.type)
            type_label.setProperty("role", "muted")
            fld = ParamField(block_param_spec(name, p), p.default)
            fld.committed.connect(lambda v, k=name: self.set_param(block, k, default=v))
            rm = QToolButton()
            rm.setIcon(QIcon(CLOSE_SVG))
            rm.setAutoRaise(True)
            rm.setToolTip(f"Remove the parameter {name}")
            rm.clicked.connect(lambda _=False, k=name: self.remove_param(block, k))
            rl.addWidget(type_label)
            rl.addWidget(fld, 1)
            rl.addWidget(rm)
            form.addRow(name, row)
            panel.fields[name] = fld
        if not bdef.params:
            form.addRow(QLabel("No parameters yet."))

    def _new_param_row(self, block) -> None:
        """A name, a type and Add: a new block parameter (one undo step), its name checked first."""
        panel = self.panel
        bdef = panel.document.project.blocks[block]
        add_row = QHBoxLayout()
        panel.new_param_name = QLineEdit(placeholderText="new parameter")
        panel.new_param_name.setMinimumWidth(60)
        panel.new_param_type = QComboBox()
        panel.new_param_type.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        panel.new_param_type.setMinimumContentsLength(5)
        panel.new_param_type.addItems(BLOCK_PARAM_TYPES)
        add = QPushButton("Add")
        panel.new_param_error = QLabel(wordWrap=True)
        panel.new_param_error.setProperty("role", "error")
        panel.new_param_error.hide()

        def add_param() -> None:
            name = panel.new_param_name.text().strip()
            problem = None
            if not name.isidentifier() or keyword.iskeyword(name):
                problem = "use letters, digits and _"
            elif name in bdef.params or name == "in_channels":
                problem = f'"{name}" is already a parameter'
            panel.new_param_error.setText(problem or "")
            panel.new_param_error.setVisible(bool(problem))
            if problem:
                return
            t = panel.new_param_type.currentText()
            self.set_param(block, name, type_=t, default={"int": 1, "float": 0.0, "bool": False}[t])

        add.clicked.connect(add_param)
        panel.new_param_name.returnPressed.connect(add_param)
        add_row.addWidget(panel.new_param_name, 1)
        add_row.addWidget(panel.new_param_type)
        add_row.addWidget(add)
        panel._layout.addLayout(add_row)
        panel._layout.addWidget(panel.new_param_error)

    def set_param(self, block, name, default=None, type_=None) -> None:
        panel = self.panel
        bdef = panel.document.project.blocks[block]
        params = {k: BlockParam(p.type, p.default) for k, p in bdef.params.items()}
        if name in params:
            params[name] = BlockParam(type_ or params[name].type, default)
            label = f"Set default of {name} in {block}"
        else:
            params[name] = BlockParam(type_ or "int", default)
            label = f"Add parameter {name} to {block}"
        panel.document.push(E.SetBlockParams(block, params), label)
        if label.startswith("Add"):
            panel.rebuild()

    def remove_param(self, block, name) -> None:
        panel = self.panel
        bdef = panel.document.project.blocks[block]
        params = {k: BlockParam(p.type, p.default) for k, p in bdef.params.items() if k != name}
        panel.document.push(E.SetBlockParams(block, params), f"Remove parameter {name} from {block}")
        panel.rebuild()

    def sync(self, block) -> bool:
        """The block definition's fields from the model; True when the panel was rebuilt instead."""
        panel = self.panel
        bdef = panel.document.project.blocks[block]
        if set(bdef.params) != set(panel.fields) or any(
            fld.spec.type != bdef.params[k].type for k, fld in panel.fields.items()
        ):
            panel.rebuild()
            return True
        for k, fld in panel.fields.items():
            fld.set_value(bdef.params[k].default)
        values = panel._instance_values(block)
        for k, lab in panel._info_labels.items():
            if k.startswith("value:"):
                lab.setText(str(values.get(k[6:])))
        panel._fill_problems([d for d in panel.document.analysis.diagnostics if d.block == block])
        return False
