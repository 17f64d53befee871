"""Reversible edits of a project: the model side of every undoable command.

Each Edit calls only the model's API in ``apply``/``revert`` (so the model's
events fire and views redraw). The editor wraps an Edit in a QUndoCommand;
fixes and headless tools apply Edits directly.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from graph.model import BlockDef, BlockParam, Edge, Node, Project, Stage


class Edit:
    label = "Edit"

    def apply(self, project: Project) -> None:
        raise NotImplementedError

    def revert(self, project: Project) -> None:
        raise NotImplementedError


@dataclass
class AddNode(Edit):
    block: str | None
    node: Node
    position: tuple[float, float] | None = None
    index: int | None = None

    @property
    def label(self) -> str:
        return f"Add {self.node.type} {self.node.name}"

    def apply(self, project: Project) -> None:
        project.graph_of(self.block).add_node(copy.deepcopy(self.node), self.index)
        if self.position is not None:
            positions(project, self.block)[self.node.id] = list(self.position)

    def revert(self, project: Project) -> None:
        project.graph_of(self.block).remove_node(self.node.id)
        positions(project, self.block).pop(self.node.id, None)


@dataclass
class RemoveNode(Edit):
    block: str | None
    node_id: str
    _saved: tuple | None = None

    @property
    def label(self) -> str:
        return "Delete node"

    def apply(self, project: Project) -> None:
        g = project.graph_of(self.block)
        stages = copy.deepcopy(g.stages)
        pos = positions(project, self.block).pop(self.node_id, None)
        edge_indices = [i for i, e in enumerate(g.edges.values()) if self.node_id in (e.src, e.dst)]
        node, index, edges = g.remove_node(self.node_id)
        self._saved = (node, index, list(zip(edge_indices, edges, strict=True)), stages, pos)

    def revert(self, project: Project) -> None:
        node, index, edges, stages, pos = self._saved
        g = project.graph_of(self.block)
        g.add_node(node, index)
        for i, e in edges:  # ascending original indices: each lands where it was
            g.add_edge(e, i)
        g.set_stages(stages)
        if pos is not None:
            positions(project, self.block)[node.id] = pos


@dataclass
class AddEdge(Edit):
    block: str | None
    edge: Edge
    label = "Connect"

    def apply(self, project: Project) -> None:
        project.graph_of(self.block).add_edge(copy.deepcopy(self.edge))

    def revert(self, project: Project) -> None:
        project.graph_of(self.block).remove_edge(self.edge.id)


@dataclass
class RemoveEdge(Edit):
    block: str | None
    edge_id: str
    _saved: tuple[int, Edge] | None = None
    label = "Delete edge"

    def apply(self, project: Project) -> None:
        g = project.graph_of(self.block)
        index = g.edge_index(self.edge_id)
        self._saved = (index, g.remove_edge(self.edge_id))

    def revert(self, project: Project) -> None:
        index, edge = self._saved
        project.graph_of(self.block).add_edge(edge, index)


@dataclass
class SetField(Edit):
    """Set one field of a node or an edge: ``target`` "param" (a node's parameter; value None removes it),
    "node" (name, type, frozen) or "edge" (kind, name, projection, src_port, dst_port)."""

    block: str | None
    target: str
    id: str
    key: str
    value: Any
    _old: Any = None

    @property
    def label(self) -> str:
        if self.target == "node":
            return "Rename node" if self.key == "name" else f"Set {self.key}"
        if self.target == "edge":
            return f"Set shortcut {self.key}" if self.key != "kind" else "Set edge kind"
        return f"Set {self.key}"

    def _setter(self, project: Project):
        g = project.graph_of(self.block)
        if self.target == "param":
            return g.set_param
        if self.target == "node":
            return g.set_node_field
        if self.target == "edge":
            return g.set_edge_field
        raise ValueError(f"cannot set a field of {self.target!r}")

    def apply(self, project: Project) -> None:
        value = copy.deepcopy(self.value) if self.target == "param" else self.value
        self._old = self._setter(project)(self.id, self.key, value)

    def revert(self, project: Project) -> None:
        self._setter(project)(self.id, self.key, self._old)


# The three kinds of SetField by their former names (constructors; callers build edits with them).
def SetParam(block: str | None, node_id: str, key: str, value: Any) -> SetField:
    """Set (value None: remove) a node's parameter."""
    return SetField(block, "param", node_id, key, value)


def SetNodeField(block: str | None, node_id: str, field_name: str, value: Any) -> SetField:
    return SetField(block, "node", node_id, field_name, value)


def SetEdgeField(block: str | None, edge_id: str, field_name: str, value: Any) -> SetField:
    return SetField(block, "edge", edge_id, field_name, value)


@dataclass
class SetStages(Edit):
    block: str | None
    stages: list[Stage]
    _old: list[Stage] | None = None
    label = "Set stages"

    def apply(self, project: Project) -> None:
        self._old = project.graph_of(self.block).set_stages(self.stages)

    def revert(self, project: Project) -> None:
        project.graph_of(self.block).set_stages(self._old)


@dataclass
class AddBlock(Edit):
    block_def: BlockDef

    @property
    def label(self) -> str:
        return f"Add block {self.block_def.name}"

    def apply(self, project: Project) -> None:
        project.add_block(self.block_def)

    def revert(self, project: Project) -> None:
        project.remove_block(self.block_def.name)


@dataclass
class SetBlockParams(Edit):
    name: str
    params: dict[str, BlockParam]
    _old: dict | None = None

    @property
    def label(self) -> str:
        return f"Set parameters of block {self.name}"

    def apply(self, project: Project) -> None:
        self._old = project.set_block_params(self.name, copy.deepcopy(self.params))

    def revert(self, project: Project) -> None:
        project.set_block_params(self.name, self._old)


@dataclass
class Composite(Edit):
    label: str
    edits: list[Edit] = field(default_factory=list)

    def apply(self, project: Project) -> None:
        for e in self.edits:
            e.apply(project)

    def revert(self, project: Project) -> None:
        for e in reversed(self.edits):
            e.revert(project)


@dataclass
class SetPositions(Edit):
    """Set canvas positions (``project.ui``) of some nodes; announced as ``positions_changed``."""

    block: str | None
    new: dict[str, Any]
    _old: dict[str, Any] | None = None
    label = "Move nodes"

    def apply(self, project: Project) -> None:
        store = positions(project, self.block)
        self._old = {k: copy.copy(store.get(k)) for k in self.new}
        for k, v in self.new.items():
            store[k] = [float(v[0]), float(v[1])]
        project.events.emit("positions_changed", self.block, list(self.new))

    def revert(self, project: Project) -> None:
        store = positions(project, self.block)
        for k, v in (self._old or {}).items():
            if v is None:
                store.pop(k, None)
            else:
                store[k] = v
        project.events.emit("positions_changed", self.block, list(self.new))


def positions(project: Project, block: str | None) -> dict[str, list[float]]:
    """Canvas positions live in ``project.ui`` (network) or ``ui.block_positions``."""
    if block is None:
        return project.ui.setdefault("positions", {})
    return project.ui.setdefault("block_positions", {}).setdefault(block, {})
