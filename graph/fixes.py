"""One-click fixes: typed fix actions, each of which builds its own reversible Edit.

A diagnostic offers ``Fix(label, action)``; the action is one of the frozen
dataclasses below (set a parameter, set an edge field, remove an edge, rename,
insert a node before another, insert a projection, make an edge a shortcut,
add an Output, and three stage repairs). ``action.build(project)`` checks that
what it names still exists and returns the Edit, not yet applied;
``apply_fix`` applies it and returns it, so that callers (the editor's undo
stack) can revert it. ``action.to_dict()`` is the action as plain data, as
``validate --json`` prints it; ``action_from_dict`` reads that data back.

A shape rule (graph/layers.py) does not know the node it is checking: it
offers ``SetParamFix``/``InsertBeforeFix`` without ``block`` and ``node``,
and the analysis binds them with ``.at(block, node)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from graph import edits as E
from graph.model import Edge, Node, Project, Stage
from graph.naming import Fresh, unique_edge_name


class FixError(ValueError):
    pass


@dataclass(frozen=True)
class FixAction:
    """Base of every fix action: ``op`` names it in the data form, ``block`` is the graph it edits."""

    op: ClassVar[str] = ""
    block: str | None = None

    def build(self, project: Project) -> E.Edit:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.repr}}

    def at(self, block: str | None, node: str) -> FixAction:
        """This action with its graph (and node, where it has one) filled in."""
        return dataclasses.replace(self, block=block)

    def graph(self, project: Project):
        if self.block is not None and self.block not in project.blocks:
            raise FixError(f"unknown block {self.block!r}")
        return project.graph_of(self.block)


@dataclass(frozen=True)
class _RuleOrder(FixAction):
    """An action a shape rule may offer: bound later, its data form lists its own fields first."""

    node: str | None = None
    rule: bool = field(default=False, repr=False, compare=False)

    def at(self, block: str | None, node: str) -> FixAction:
        return dataclasses.replace(self, block=block, node=node, rule=True)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if self.rule:  # as the rule declared it, then where: {"op", <own fields>, "block", "node"}
            d = {"op": d.pop("op"), **{k: v for k, v in d.items() if k not in ("block", "node")}}
            d.update(block=self.block, node=self.node)
        return d


@dataclass(frozen=True)
class SetParamFix(_RuleOrder):
    """Set a node's parameter (value None removes it)."""

    op: ClassVar[str] = "set_param"
    param: str = ""
    value: Any = None

    def build(self, project: Project) -> E.Edit:
        _need(self.graph(project).nodes, self.node, "node")
        return E.SetParam(self.block, self.node, self.param, self.value)


@dataclass(frozen=True)
class SetEdgeFix(FixAction):
    op: ClassVar[str] = "set_edge"
    edge: str = ""
    field: str = ""
    value: Any = None

    def build(self, project: Project) -> E.Edit:
        _need(self.graph(project).edges, self.edge, "edge")
        return E.SetEdgeField(self.block, self.edge, self.field, self.value)


@dataclass(frozen=True)
class RemoveEdgeFix(FixAction):
    op: ClassVar[str] = "remove_edge"
    edge: str = ""

    def build(self, project: Project) -> E.Edit:
        _need(self.graph(project).edges, self.edge, "edge")
        return E.RemoveEdge(self.block, self.edge)


@dataclass(frozen=True)
class RenameFix(FixAction):
    op: ClassVar[str] = "rename"
    node: str = ""
    value: str = ""

    def build(self, project: Project) -> E.Edit:
        _need(self.graph(project).nodes, self.node, "node")
        return E.SetNodeField(self.block, self.node, "name", self.value)


@dataclass(frozen=True)
class MakeShortcutFix(FixAction):
    op: ClassVar[str] = "make_shortcut"
    edge: str = ""
    projection: str = "conv_bn"

    def build(self, project: Project) -> E.Edit:
        g = self.graph(project)
        edge = _need(g.edges, self.edge, "edge")
        name = unique_edge_name(g, "shortcut")
        return E.Composite(
            "Make shortcut",
            [
                E.SetEdgeField(self.block, edge.id, "kind", "shortcut"),
                E.SetEdgeField(self.block, edge.id, "name", name),
                E.SetEdgeField(self.block, edge.id, "projection", self.projection),
            ],
        )


@dataclass(frozen=True)
class InsertBeforeFix(_RuleOrder):
    """Insert a node of ``type`` on the edge into the node's first input."""

    op: ClassVar[str] = "insert_before"
    type: str = ""

    def build(self, project: Project) -> E.Edit:
        g = self.graph(project)
        node = _need(g.nodes, self.node, "node")
        incoming = [e for e in g.in_edges(node.id) if e.dst_port == 0]
        if not incoming:
            raise FixError(f'"{node.name}" has no input to insert before')
        return _insert_on_edge(project, self.block, incoming[0], [(self.type, {})], f"Insert {self.type}")


@dataclass(frozen=True)
class InsertProjectionFix(FixAction):
    """Insert a 1x1 convolution (stride) and a BatchNorm on an edge."""

    op: ClassVar[str] = "insert_projection"
    edge: str = ""
    out_channels: int = 0
    stride: int = 1

    def build(self, project: Project) -> E.Edit:
        edge = _need(self.graph(project).edges, self.edge, "edge")
        conv = {
            "out_channels": self.out_channels,
            "kernel_size": 1,
            "stride": self.stride,
            "padding": 0,
            "bias": False,
        }
        chain = [("Conv2d", conv), ("BatchNorm2d", {})]
        return _insert_on_edge(project, self.block, edge, chain, "Insert 1x1 projection")


@dataclass(frozen=True)
class AddOutputFix(FixAction):
    op: ClassVar[str] = "add_output"
    node: str = ""

    def build(self, project: Project) -> E.Edit:
        g = self.graph(project)
        node = _need(g.nodes, self.node, "node")
        out = Node(g.new_id("n"), "Output", g.unique_name("output"), {})
        pos = E.positions(project, self.block).get(node.id)
        return E.Composite(
            "Add Output",
            [
                E.AddNode(self.block, out, (pos[0], pos[1] + 110) if pos else None),
                E.AddEdge(self.block, Edge(g.new_id("e"), node.id, out.id)),
            ],
        )


@dataclass(frozen=True)
class StageRemoveFix(FixAction):
    """Take ``node`` out of the stage (None: only drop the stage if it is empty)."""

    op: ClassVar[str] = "stage_remove"
    stage: str = ""
    node: str | None = None

    def build(self, project: Project) -> E.Edit:
        g = self.graph(project)
        if not any(st.name == self.stage for st in g.stages):
            raise FixError(f"the stage {self.stage!r} no longer exists")
        stages = [
            Stage(st.name, st.keys, [n for n in st.nodes if n != self.node]) if st.name == self.stage else st
            for st in g.stages
        ]
        return E.SetStages(self.block, [st for st in stages if st.nodes])


@dataclass(frozen=True)
class StageTruncateFix(FixAction):
    """End the stage just before ``node``."""

    op: ClassVar[str] = "stage_truncate"
    stage: str = ""
    node: str = ""

    def build(self, project: Project) -> E.Edit:
        g = self.graph(project)
        stage = next((st for st in g.stages if st.name == self.stage and self.node in st.nodes), None)
        if stage is None:
            raise FixError(f"the stage {self.stage!r} no longer holds {self.node!r}")
        cut = stage.nodes.index(self.node)
        stages = [Stage(st.name, st.keys, st.nodes[:cut]) if st is stage else st for st in g.stages]
        return E.SetStages(self.block, [st for st in stages if st.nodes])


@dataclass(frozen=True)
class StageRenameFix(FixAction):
    """Rename a stage; of two stages with one name, the later one."""

    op: ClassVar[str] = "stage_rename"
    stage: Any = ""
    value: str = ""

    def build(self, project: Project) -> E.Edit:
        g = self.graph(project)
        index = [i for i, st in enumerate(g.stages) if st.name == self.stage]
        if not index:
            raise FixError(f"the stage {self.stage!r} no longer exists")
        stages = list(g.stages)
        last = index[-1]
        stages[last] = Stage(self.value, stages[last].keys, list(stages[last].nodes))
        return E.SetStages(self.block, stages)


ACTIONS: dict[str, type[FixAction]] = {
    cls.op: cls
    for cls in (
        SetParamFix,
        SetEdgeFix,
        RemoveEdgeFix,
        RenameFix,
        MakeShortcutFix,
        InsertBeforeFix,
        InsertProjectionFix,
        AddOutputFix,
        StageRemoveFix,
        StageTruncateFix,
        StageRenameFix,
    )
}


def action_from_dict(data: dict) -> FixAction:
    """The data form (``to_dict``) back into its action; a ``label`` key is ignored."""
    if not isinstance(data, dict):
        raise FixError(f"a fix action must be a dict, got {type(data).__name__}")
    cls = ACTIONS.get(data.get("op"))
    if cls is None:
        raise FixError(f"unknown fix op {data.get('op')!r}")
    names = {f.name for f in dataclasses.fields(cls) if f.repr}
    unknown = set(data) - names - {"op", "label"}
    if unknown:
        raise FixError(f"the fix action {cls.op!r} has no field {min(unknown)!r}")
    return cls(**{k: v for k, v in data.items() if k in names})


def build_fix(project: Project, action: FixAction | dict) -> E.Edit:
    """Turn a fix action (or its data form) into an Edit (not yet applied)."""
    if not isinstance(action, FixAction):
        action = action_from_dict(action)
    return action.build(project)


def apply_fix(project: Project, action: FixAction | dict) -> E.Edit:
    edit = build_fix(project, action)
    edit.apply(project)
    return edit


def _need(mapping: dict, key, what: str):
    if key not in mapping:
        raise FixError(f"the {what} {key!r} no longer exists")
    return mapping[key]


def _insert_on_edge(
    project: Project, block: str | None, edge: Edge, chain: list[tuple[str, dict]], label: str
) -> E.Composite:
    """Replace src -> dst by src -> new1 -> ... -> dst, keeping the edge's port and kind."""
    g = project.graph_of(block)
    pos = E.positions(project, block)
    a, b = pos.get(edge.src), pos.get(edge.dst)
    edits: list[E.Edit] = [E.RemoveEdge(block, edge.id)]
    prev, prev_port = edge.src, edge.src_port
    fresh = Fresh(g, from_graph_size=True)
    for k, (type_name, params) in enumerate(chain, start=1):
        base = {"Conv2d": "proj_conv", "BatchNorm2d": "proj_bn"}.get(type_name, type_name.lower())
        node = Node(fresh.id("n"), type_name, fresh.suffixed(base), dict(params))
        where = None
        if a and b:
            t = k / (len(chain) + 1)
            where = (a[0] + (b[0] - a[0]) * t + (120 if edge.is_shortcut else 0), a[1] + (b[1] - a[1]) * t)
        edits.append(E.AddNode(block, node, where))
        edits.append(E.AddEdge(block, Edge(fresh.id("e"), prev, node.id, prev_port, 0)))
        prev, prev_port = node.id, 0
    edits.append(E.AddEdge(block, Edge(fresh.id("e"), prev, edge.dst, 0, edge.dst_port, "data")))
    return E.Composite(label, edits)
