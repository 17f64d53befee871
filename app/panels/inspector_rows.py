"""Small pieces shared by the Inspector's forms (app/panels/inspector*.py): the node-name check,
an editor with its validation message under it, and a block parameter's field spec."""

from __future__ import annotations

import keyword

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from graph.model import BlockParam
from graph.params import ParamSpec


def name_problem(graph, name: str, exclude: str | None) -> str | None:
    if not name:
        return "a name is needed"
    if not name.isidentifier() or keyword.iskeyword(name):
        return "use letters, digits and _ (it becomes the attribute name in code)"
    if any(n.name == name and n.id != exclude for n in graph.nodes.values()):
        return f'"{name}" is already used in this graph'
    return None


def with_message(editor: QWidget, message: QLabel) -> QWidget:
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
