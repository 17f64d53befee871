"""What analysis returns: per-node and per-graph results, the Analysis, module paths and summary rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graph import registry
from graph.diagnostics import Diagnostic
from graph.model import Edge, Graph, Node, Project
from graph.projections import PROJECTIONS

Shape = tuple[int, ...]
PROJECTION_LABELS = {name: p.label for name, p in PROJECTIONS.items()}  # graph/projections.py


def fmt(shape: Shape | None) -> str:
    return "?" if shape is None else "x".join(str(s) for s in shape)


@dataclass
class ShortcutInfo:
    """What a shortcut edge does in one instance: identity, zero_pad or conv_bn."""

    edge: str
    applied: str  # identity | zero_pad | zero_pad_both | conv_bn
    in_shape: Shape
    out_shape: Shape
    stride: int = 1
    num_params: int = 0
    macs: int = 0


@dataclass
class NodeInfo:
    node: Node
    params: dict[str, Any]
    in_shapes: list[Shape | None]
    out_shape: Shape | None = None
    num_params: int = 0  # own parameters, or the whole body's for a block instance
    macs: int = 0
    children: GraphInfo | None = None
    error: bool = False


@dataclass
class GraphInfo:
    graph: Graph
    block: str | None
    order: list[str]
    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    shortcuts: dict[str, ShortcutInfo] = field(default_factory=dict)
    edge_shapes: dict[str, Shape] = field(default_factory=dict)
    env: dict[str, Any] | None = None
    input_shape: Shape | None = None
    output_shape: Shape | None = None
    in_edges: dict[str, list[Edge]] = field(default_factory=dict, repr=False)  # dst id -> edges by dst_port

    @property
    def num_params(self) -> int:
        return sum(i.num_params for i in self.nodes.values()) + sum(
            s.num_params for s in self.shortcuts.values()
        )

    @property
    def macs(self) -> int:
        return sum(i.macs for i in self.nodes.values()) + sum(s.macs for s in self.shortcuts.values())

    def frozen_params(self, inherited: bool = False) -> int:
        total = 0
        for info in self.nodes.values():
            frozen = inherited or info.node.frozen
            if info.children is not None:
                total += info.children.frozen_params(frozen)
            elif frozen:
                total += info.num_params
        if inherited:
            total += sum(s.num_params for s in self.shortcuts.values())
        return total


@dataclass
class Layer:
    """One row of a summary: a module path and what it holds."""

    path: str
    type: str
    info: NodeInfo | None
    out_shape: Shape | None
    num_params: int
    trainable: bool
    macs: int
    depth: int
    frozen_params: int = 0  # of num_params, those frozen (a block row: its frozen descendants)


@dataclass
class Analysis:
    project: Project
    root: GraphInfo
    diagnostics: list[Diagnostic]
    block_infos: dict[str, GraphInfo] = field(default_factory=dict)  # first instance of each block

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def output_shape(self) -> Shape | None:
        return self.root.output_shape

    @property
    def total_params(self) -> int:
        return self.root.num_params

    @property
    def trainable_params(self) -> int:
        return self.root.num_params - self.root.frozen_params()

    @property
    def macs(self) -> int:
        return self.root.macs

    def shape_of(self, node_id: str, block: str | None = None) -> Shape | None:
        info = self.root if block is None else self.block_infos.get(block)
        if info is None or node_id not in info.nodes:
            return None
        return info.nodes[node_id].out_shape

    def diagnostics_for(self, block: str | None) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.block == block]

    def layers(self) -> list[Layer]:
        """Every node and shortcut projection, depth first, with module-style paths."""
        rows: list[Layer] = []
        _walk(self.root, "", 0, False, rows)
        return rows


def module_path(graph: Graph, node: Node, prefix: str = "") -> str:
    stage = graph.stage_of(node.id)
    if stage is None:
        local = node.name
    elif stage.keys == "index":
        local = f"{stage.name}.{stage.nodes.index(node.id)}"
    else:
        local = f"{stage.name}.{node.name}"
    return f"{prefix}{local}"


def _walk(info: GraphInfo, prefix: str, depth: int, frozen: bool, rows: list[Layer]) -> None:
    for node_id in info.order:
        ni = info.nodes.get(node_id)
        if ni is None or is_io(ni.node.type):
            continue
        path = module_path(info.graph, ni.node, prefix)
        is_frozen = frozen or ni.node.frozen
        frozen_count = (
            ni.children.frozen_params(is_frozen)
            if ni.children is not None
            else ni.num_params
            if is_frozen
            else 0
        )
        rows.append(
            Layer(
                path,
                ni.node.type,
                ni,
                ni.out_shape,
                ni.num_params,
                not is_frozen and ni.num_params > 0,
                ni.macs,
                depth,
                frozen_count,
            )
        )
        if ni.children is not None:
            _walk(ni.children, path + ".", depth + 1, is_frozen, rows)
    for edge_id, sc in info.shortcuts.items():
        if sc.applied == "identity":
            continue
        edge = info.graph.edges[edge_id]
        rows.append(
            Layer(
                f"{prefix}{edge.name or 'shortcut'}",
                "Shortcut:" + sc.applied,
                None,
                sc.out_shape,
                sc.num_params,
                not frozen and sc.num_params > 0,
                sc.macs,
                depth,
                sc.num_params if frozen else 0,
            )
        )


def iter_graph_infos(info: GraphInfo) -> Iterator[GraphInfo]:
    yield info
    for ni in info.nodes.values():
        if ni.children is not None:
            yield from iter_graph_infos(ni.children)


def is_io(type_name: str) -> bool:
    """Input, Output, BlockInput, BlockOutput: markers, not layers (the category "io" of the registry)."""
    lt = registry.get(type_name)
    return lt is not None and lt.category == "io"
