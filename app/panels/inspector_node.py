"""The Inspector's form for one selected node: its name, frozen flag, stage depth, parameters (a
block instance's block parameters), shapes and problems; each committed change one undo step.

Built into an ``InspectorPanel`` (app/panels/inspector.py), whose section helpers it uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit

from app.panels.inspector_rows import block_param_spec, name_problem, with_message
from app.panels.param_editors import ParamField
from graph import edits as E
from graph import registry

if TYPE_CHECKING:
    from app.panels.inspector import InspectorPanel


class NodeForm:
    """Builds and syncs the node form of an inspector panel."""

    def __init__(self, panel: InspectorPanel) -> None:
        self.panel = panel  # the widgets it builds live on the panel, where the window and tests reach them

    def build(self, block, node_id) -> None:
        panel = self.panel
        node = panel.document.project.graph_of(block).nodes[node_id]
        lt = None if node.block_name else registry.get(node.type)
        self._heading(block, node_id, lt)
        form = panel._section("Node")
        self._name_row(form, block, node_id)
        if node.type not in ("Input", "Output", "BlockInput", "BlockOutput"):
            self._frozen_row(form, block, node_id)
        self._stage_depth_row(block, node_id)
        self._params(block, node_id, lt)
        form = panel._section("Shapes", panel._instance_detail(block))
        panel._info(form, "in", "Input", "")
        panel._info(form, "out", "Output", "")
        panel._info(form, "params", "Parameters", "")
        panel._info(form, "macs", "MACs", "")
        panel._problems(panel._diags_for(block, node_id=node_id))
        panel._sync_info()

    def _heading(self, block, node_id, lt) -> None:
        """The node's name and type, and its layer's doc or its block's "Open the block" link."""
        panel = self.panel
        project = panel.document.project
        node = project.graph_of(block).nodes[node_id]
        bname = node.block_name
        category = "block" if bname else (lt.category if lt else None)
        panel._heading(node.name, bname or node.type, category)
        if lt is not None and lt.doc:
            panel._muted(lt.doc)
        elif bname and bname in project.blocks:
            bdef = project.blocks[bname]
            lab = panel._muted(
                (bdef.doc + " " if bdef.doc else "") + "<a href='open'>Open the block</a> to edit "
                "its inside; changes apply to every instance."
            )
            lab.setTextFormat(Qt.TextFormat.RichText)
            lab.linkActivated.connect(lambda _l, b=block, n=node_id: panel.document.open_instance(b, n))

    def _name_row(self, form, block, node_id) -> None:
        """The node's name, checked as typed and renamed (one undo step) when editing ends."""
        panel = self.panel
        g = panel.document.project.graph_of(block)
        panel.name_edit = QLineEdit(g.nodes[node_id].name)
        panel.name_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        name_err = QLabel(wordWrap=True)
        name_err.setProperty("role", "error")
        name_err.hide()
        panel._name_error = name_err

        def check_name(text: str) -> str | None:
            problem = name_problem(g, text.strip(), node_id)
            panel.name_edit.setProperty("invalid", "true" if problem else "false")
            panel.name_edit.style().unpolish(panel.name_edit)
            panel.name_edit.style().polish(panel.name_edit)
            name_err.setText(problem or "")
            name_err.setVisible(bool(problem))
            return problem

        def commit_name() -> None:
            new = panel.name_edit.text().strip()
            current = g.nodes[node_id].name if node_id in g.nodes else None
            if current is None or new == current or check_name(new):
                return
            panel.document.push(E.SetNodeField(block, node_id, "name", new), f"Rename {current} to {new}")

        panel.name_edit.textEdited.connect(check_name)
        panel.name_edit.editingFinished.connect(commit_name)
        form.addRow("Name", with_message(panel.name_edit, name_err))

    def _frozen_row(self, form, block, node_id) -> None:
        """Whether the node's parameters train (one undo step per toggle)."""
        panel = self.panel
        g = panel.document.project.graph_of(block)
        panel.frozen_box = QCheckBox("parameters don't train")
        panel.frozen_box.setChecked(g.nodes[node_id].frozen)
        panel.frozen_box.setLayoutDirection(Qt.LayoutDirection.RightToLeft)

        def commit_frozen(v: bool) -> None:
            n = g.nodes[node_id]
            if n.frozen != v:
                panel.document.push(
                    E.SetNodeField(block, node_id, "frozen", v),
                    f"{'Freeze' if v else 'Unfreeze'} {n.name}",
                )

        panel.frozen_box.toggled.connect(commit_frozen)
        form.addRow("Frozen", panel.frozen_box)

    def _params(self, block, node_id, lt) -> None:
        """The layer's parameters, or a block instance's values (with the definition's defaults)."""
        panel = self.panel
        project = panel.document.project
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
        form = panel._section(title)
        if bdef is not None:  # (a short section title: the dock may be narrow)
            defaults = ", ".join(f"{k} {p.default}" for k, p in bdef.params.items())
            panel._muted(f"This instance's values. The definition's defaults: {defaults}.")
        env = panel._env(block)
        for spec in specs:
            value = node.params.get(spec.name, spec.default)
            fld = ParamField(spec, value, env)
            fld.committed.connect(lambda v, s=spec: self._commit_param(block, node_id, s.name, v))
            form.addRow(spec.name, fld)
            panel.fields[spec.name] = fld

    def _stage_depth_row(self, block, node_id) -> None:
        """A block instance in a stage: the stage's depth as a spin box (one undo step on commit)."""
        panel = self.panel
        g = panel.document.project.graph_of(block)
        stage = g.stage_of(node_id)
        if stage is None or not all(g.nodes[n].block_name for n in stage.nodes):
            return
        from PySide6.QtWidgets import QSpinBox

        from graph.stage_edits import MAX_DEPTH, set_stage_depth

        form = panel._section(f"Stage {stage.name}")
        box = QSpinBox()
        box.setRange(1, MAX_DEPTH)
        box.setValue(len(stage.nodes))
        box.setKeyboardTracking(False)  # commit on Enter, focus out or the arrows, not per digit
        box.setAlignment(Qt.AlignmentFlag.AlignRight)
        box.setToolTip(
            "Block instances in this stage: more copies its last instance, fewer removes from the end"
        )
        panel.stage_depth = box

        def commit(n: int) -> None:
            from graph.errors import UserError

            try:
                edit = set_stage_depth(panel.document.project, stage.name, n, block)
            except UserError as exc:  # e.g. an edge from outside the stage into an instance to remove
                box.setToolTip(exc.message)
                box.setValue(len(stage.nodes))
                return
            if edit.edits:
                panel.document.push(edit, edit.label)

        box.valueChanged.connect(commit)
        form.addRow("Depth", box)

    def _commit_param(self, block, node_id, key, value) -> None:
        panel = self.panel
        g = panel.document.project.graph_of(block)
        node = g.nodes.get(node_id)
        if node is None or node.params.get(key) == value and key in node.params:
            return
        panel.document.push(E.SetParam(block, node_id, key, value), f"Set {key} of {node.name}")

    def sync(self, block, key) -> bool:
        """The node's fields from the model; True when the panel was rebuilt instead."""
        panel = self.panel
        node = panel.document.project.graph_of(block).nodes[key]
        if node.name != panel._title.text():  # renamed (here, by undo, by a fix): the heading too
            panel.rebuild()
            return True
        if panel.name_edit is not None and not panel.name_edit.hasFocus():
            panel.name_edit.setText(node.name)
        if panel.frozen_box is not None:
            panel.frozen_box.blockSignals(True)
            panel.frozen_box.setChecked(node.frozen)
            panel.frozen_box.blockSignals(False)
        for name, fld in panel.fields.items():
            spec = fld.spec
            fld.set_value(node.params.get(name, spec.default))
        panel._fill_problems(panel._diags_for(block, node_id=key))
        return False
