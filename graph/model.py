"""The graph model: nodes, edges, stages, block definitions and the project.

Plain Python, no Qt and no torch. Every change goes through a method here and
is announced on ``graph.events`` (``node_added``, ``node_removed``,
``node_changed``, ``edge_added``, ``edge_removed``, ``edge_changed``,
``stages_changed``) or ``project.events`` (``block_added``, ``block_removed``,
``block_changed``, ``changed``) so that the editor can redraw from events.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from graph import naming
from graph.events import Events
from graph.training_defaults import new_project_training

EDGE_KINDS = ("data", "shortcut")
STAGE_KEYS = ("index", "name")
BLOCK_PREFIX = "block:"


@dataclass
class Node:
    id: str
    type: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    frozen: bool = False

    @property
    def block_name(self) -> str | None:
        return self.type[len(BLOCK_PREFIX) :] if self.type.startswith(BLOCK_PREFIX) else None

    def to_dict(self) -> dict:
        d = {"id": self.id, "type": self.type, "name": self.name, "params": copy.deepcopy(self.params)}
        if self.frozen:
            d["frozen"] = True
        return d


@dataclass
class Edge:
    id: str
    src: str
    dst: str
    src_port: int = 0
    dst_port: int = 0
    kind: str = "data"
    name: str | None = None  # shortcut edges: attribute name of the projection module
    projection: str = "identity"  # shortcut edges only

    @property
    def is_shortcut(self) -> bool:
        return self.kind == "shortcut"

    def to_dict(self) -> dict:
        d: dict[str, Any] = {
            "id": self.id,
            "src": self.src,
            "src_port": self.src_port,
            "dst": self.dst,
            "dst_port": self.dst_port,
            "kind": self.kind,
        }
        if self.kind == "shortcut":
            d["name"] = self.name or "shortcut"
            d["projection"] = self.projection
        return d


@dataclass
class Stage:
    name: str
    keys: str = "index"
    nodes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "keys": self.keys, "nodes": list(self.nodes)}


class Graph:
    """A directed graph of nodes (ordered by insertion) and edges."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.edges: dict[str, Edge] = {}
        self.stages: list[Stage] = []
        self.events = Events()
        self._ids = itertools.count(1)

    # ----- ids and names -----------------------------------------------------
    def new_id(self, prefix: str = "n") -> str:
        """An id unused by this graph's nodes and edges, from the graph's running counter."""
        return naming.counter_id(self._ids, prefix, lambda c: c in self.nodes or c in self.edges)

    def unique_name(self, base: str, exclude: str | None = None) -> str:
        """A node name unused by the other nodes (graph/naming.py ``numbered_name``)."""
        return naming.numbered_name(base, {n.name for n in self.nodes.values() if n.id != exclude})

    def node_by_name(self, name: str) -> Node | None:
        return next((n for n in self.nodes.values() if n.name == name), None)

    # ----- queries ---------------------------------------------------------------
    def in_edges(self, node_id: str) -> list[Edge]:
        return sorted((e for e in self.edges.values() if e.dst == node_id), key=lambda e: e.dst_port)

    def out_edges(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges.values() if e.src == node_id]

    def nodes_of_type(self, type_name: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.type == type_name]

    def stage_of(self, node_id: str) -> Stage | None:
        return next((s for s in self.stages if node_id in s.nodes), None)

    # ----- edits (each announces itself) ----------------------------------------
    def add_node(self, node: Node, index: int | None = None) -> Node:
        if node.id in self.nodes:
            raise ValueError(f"duplicate node id {node.id!r}")
        if index is None or index >= len(self.nodes):
            self.nodes[node.id] = node
        else:
            items = list(self.nodes.items())
            items.insert(index, (node.id, node))
            self.nodes = dict(items)
        self.events.emit("node_added", node)
        return node

    def edge_index(self, edge_id: str) -> int:
        return list(self.edges).index(edge_id)

    def remove_node(self, node_id: str) -> tuple[Node, int, list[Edge]]:
        """Remove a node and its edges; returns what undo needs (edges in their original order)."""
        index = list(self.nodes).index(node_id)
        removed_edges = [e for e in self.edges.values() if node_id in (e.src, e.dst)]
        for e in removed_edges:
            self.remove_edge(e.id)
        node = self.nodes.pop(node_id)
        for s in self.stages:
            if node_id in s.nodes:
                s.nodes.remove(node_id)
        self.events.emit("node_removed", node)
        return node, index, removed_edges

    def add_edge(self, edge: Edge, index: int | None = None) -> Edge:
        """Add an edge, at the end or (undo of a removal) back at ``index``."""
        if edge.id in self.edges:
            raise ValueError(f"duplicate edge id {edge.id!r}")
        for end in (edge.src, edge.dst):
            if end not in self.nodes:
                raise ValueError(f"edge {edge.id!r} refers to unknown node {end!r}")
        if index is None or index >= len(self.edges):
            self.edges[edge.id] = edge
        else:
            items = list(self.edges.items())
            items.insert(index, (edge.id, edge))
            self.edges = dict(items)
        self.events.emit("edge_added", edge)
        return edge

    def remove_edge(self, edge_id: str) -> Edge:
        edge = self.edges.pop(edge_id)
        self.events.emit("edge_removed", edge)
        return edge

    def set_param(self, node_id: str, key: str, value: Any) -> Any:
        """Set (or, with value None, delete) a parameter; returns the old value."""
        node = self.nodes[node_id]
        old = node.params.get(key)
        if value is None:
            node.params.pop(key, None)
        else:
            node.params[key] = value
        self.events.emit("node_changed", node)
        return old

    def set_node_field(self, node_id: str, field_name: str, value: Any) -> Any:
        if field_name not in ("name", "type", "frozen"):
            raise ValueError(f"cannot set node field {field_name!r}")
        node = self.nodes[node_id]
        old = getattr(node, field_name)
        setattr(node, field_name, value)
        self.events.emit("node_changed", node)
        return old

    def set_edge_field(self, edge_id: str, field_name: str, value: Any) -> Any:
        if field_name not in ("kind", "name", "projection", "src_port", "dst_port"):
            raise ValueError(f"cannot set edge field {field_name!r}")
        edge = self.edges[edge_id]
        old = getattr(edge, field_name)
        setattr(edge, field_name, value)
        self.events.emit("edge_changed", edge)
        return old

    def set_stages(self, stages: Iterable[Stage]) -> list[Stage]:
        old = self.stages
        self.stages = [copy.deepcopy(s) for s in stages]
        self.events.emit("stages_changed")
        return old

    # ----- building helpers ---------------------------------------------------
    def add(
        self,
        type_name: str,
        name: str | None = None,
        id: str | None = None,
        frozen: bool = False,
        **params: Any,
    ) -> Node:
        """Convenience for templates and tests: add a node, returns it."""
        node_id = id or self.new_id("n")
        base = name or type_name.split(":")[-1].lower()
        return self.add_node(
            Node(node_id, type_name, self.unique_name(base) if name is None else name, dict(params), frozen)
        )

    def connect(
        self,
        src: str | Node,
        dst: str | Node,
        dst_port: int = 0,
        src_port: int = 0,
        kind: str = "data",
        name: str | None = None,
        projection: str = "identity",
        id: str | None = None,
    ) -> Edge:
        src_id = src.id if isinstance(src, Node) else src
        dst_id = dst.id if isinstance(dst, Node) else dst
        if kind == "shortcut" and name is None:
            name = "shortcut"
        return self.add_edge(
            Edge(id or self.new_id("e"), src_id, dst_id, src_port, dst_port, kind, name, projection)
        )

    def chain(self, *nodes: Node) -> Node:
        for a, b in itertools.pairwise(nodes):
            self.connect(a, b)
        return nodes[-1]

    # ----- serialisation -------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "edges": [e.to_dict() for e in self.edges.values()],
            "stages": [s.to_dict() for s in self.stages],
        }

    def copy(self) -> Graph:
        g = Graph()
        g.nodes = {k: copy.deepcopy(v) for k, v in self.nodes.items()}
        g.edges = {k: copy.deepcopy(v) for k, v in self.edges.items()}
        g.stages = copy.deepcopy(self.stages)
        g._ids = itertools.count(len(g.nodes) + len(g.edges) + 1)
        return g


@dataclass
class BlockParam:
    type: str = "int"  # int | float | bool
    default: Any = 0

    def to_dict(self) -> dict:
        return {"type": self.type, "default": self.default}


@dataclass
class BlockDef:
    name: str
    params: dict[str, BlockParam] = field(default_factory=dict)
    graph: Graph = field(default_factory=Graph)
    doc: str = ""

    def defaults(self) -> dict[str, Any]:
        return {k: p.default for k, p in self.params.items()}

    def to_dict(self) -> dict:
        d = {"params": {k: p.to_dict() for k, p in self.params.items()}, "graph": self.graph.to_dict()}
        if self.doc:
            d["doc"] = self.doc
        return d


DEFAULT_TRAINING: dict[str, Any] = new_project_training()  # graph/training_defaults.py


class Project:
    """A network graph, its block definitions, training settings and UI state."""

    def __init__(
        self,
        name: str = "Untitled",
        graph: Graph | None = None,
        blocks: dict[str, BlockDef] | None = None,
        training: dict | None = None,
        ui: dict | None = None,
        key_map: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.graph = graph if graph is not None else Graph()
        self.blocks: dict[str, BlockDef] = dict(blocks or {})
        self.training: dict[str, Any] = copy.deepcopy(training if training is not None else DEFAULT_TRAINING)
        self.ui: dict[str, Any] = ui if ui is not None else {}
        # an imported model's state_dict keys that the project cannot keep (a name that is no identifier,
        # a collision) -> the project's key, None for a module the model never uses, or a list for a
        # weight shared between calls; every reader of the model's weights applies it
        # (codegen.weights.to_project_keys). Empty for most projects.
        self.key_map: dict[str, Any] = dict(key_map or {})
        self.events = Events()

    def graph_of(self, block: str | None) -> Graph:
        """The network graph (block None) or a block definition's body."""
        return self.graph if block is None else self.blocks[block].graph

    def add_block(self, block: BlockDef) -> BlockDef:
        if block.name in self.blocks:
            raise ValueError(f"a block named {block.name!r} already exists")
        self.blocks[block.name] = block
        self.events.emit("block_added", block)
        return block

    def remove_block(self, name: str) -> BlockDef:
        block = self.blocks.pop(name)
        self.events.emit("block_removed", block)
        return block

    def set_block_params(self, name: str, params: dict[str, BlockParam]) -> dict[str, BlockParam]:
        block = self.blocks[name]
        old = block.params
        block.params = dict(params)
        self.events.emit("block_changed", block)
        return old

    def to_dict(self) -> dict:
        return {
            "format": "skipwire",
            "version": 1,
            "name": self.name,
            "graph": self.graph.to_dict(),
            "blocks": {k: b.to_dict() for k, b in self.blocks.items()},
            "training": copy.deepcopy(self.training),
            "ui": copy.deepcopy(self.ui),
            **({"key_map": dict(self.key_map)} if self.key_map else {}),
        }
