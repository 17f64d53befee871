"""Composite edits the editor builds from a user gesture (pure model code, no Qt).

Each helper returns a ``graph.edits.Edit`` (not yet applied) for
``Document.push``, or raises ``EditRefused`` with a sentence the status bar
can show: add a node, connect two ports, delete, copy/paste, group a
selection into a block, set canvas positions.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from app.canvas.layer_views import APP_TYPES
from graph import edits as E
from graph import registry
from graph.edits import SetPositions
from graph.model import BLOCK_PREFIX, BlockDef, Edge, Graph, Node, Project
from graph.naming import Fresh, unique_edge_name

ENDS = ("Input", "Output", "BlockInput", "BlockOutput")


class EditRefused(ValueError):
    """A gesture that cannot work; ``str(exc)`` says why."""


# ------------------------------------------------------------------ names and ids
def name_base(type_name: str) -> str:
    if type_name.startswith(BLOCK_PREFIX):
        raw = type_name[len(BLOCK_PREFIX) :]
        return re.sub(r"(?<!^)(?=[A-Z])", "_", raw).lower() or "block"
    view = APP_TYPES.get(type_name)  # app/canvas/layer_views.py: the editor's part of each layer type
    return view.base_name if view is not None else type_name.lower()


def next_name(graph: Graph, base: str) -> str:
    """A new node's name: ``base`` while no node has it nor a numbered form of it, else the number
    after the highest in use (after ``bn1`` comes ``bn2``, never ``bn``: issue 25)."""
    stem = base.rstrip("0123456789") or base
    names = {n.name for n in graph.nodes.values()}
    numbers = [int(n[len(stem) :]) for n in names if n.startswith(stem) and n[len(stem) :].isdigit()]
    if base not in names and not numbers:
        return base
    i = max(numbers, default=0) + 1
    while f"{stem}{i}" in names:
        i += 1
    return f"{stem}{i}"


def _check_type(project: Project, block: str | None, type_name: str) -> None:
    if type_name.startswith(BLOCK_PREFIX):
        bname = type_name[len(BLOCK_PREFIX) :]
        if bname not in project.blocks:
            raise EditRefused(f'There is no block named "{bname}" in this project.')
        if bname == block:
            raise EditRefused(f'A block cannot contain itself: "{bname}" cannot be added inside "{bname}".')
        return
    if registry.get(type_name) is None:
        raise EditRefused(f'Unknown layer type "{type_name}".')
    if block is None and type_name in ("BlockInput", "BlockOutput"):
        raise EditRefused(f"{type_name} belongs inside a block definition, not in the network.")
    if block is not None and type_name in ("Input", "Output"):
        raise EditRefused(f"{type_name} belongs to the network; a block uses BlockInput and BlockOutput.")


def default_params(project: Project, type_name: str) -> dict[str, Any]:
    if type_name.startswith(BLOCK_PREFIX):
        return project.blocks[type_name[len(BLOCK_PREFIX) :]].defaults()
    lt = registry.get(type_name)
    return {k: copy.deepcopy(v) for k, v in lt.defaults().items() if v is not None}


# ------------------------------------------------------------------ add, connect, delete
def new_node_edit(
    project: Project,
    block: str | None,
    type_name: str,
    position: tuple[float, float] | None = None,
    params: dict | None = None,
) -> E.AddNode:
    """Add a node of ``type_name`` with the registry's defaults and a unique name."""
    _check_type(project, block, type_name)
    g = project.graph_of(block)
    fresh = Fresh(g)
    node = Node(
        fresh.id("n"),
        type_name,
        next_name(g, name_base(type_name)),
        params if params is not None else default_params(project, type_name),
    )
    return E.AddNode(block, node, position)


def num_inputs(project: Project, node: Node) -> int:
    if node.type.startswith(BLOCK_PREFIX):
        return 1
    lt = registry.get(node.type)
    return lt.num_inputs(node.params) if lt else 1


def has_output(node: Node) -> bool:
    return node.type not in ("Output", "BlockOutput")


def reaches(graph: Graph, start: str, goal: str, skip_edge: str | None = None) -> bool:
    """Whether a path of edges leads from ``start`` to ``goal``."""
    seen, todo = {start}, [start]
    out: dict[str, list[str]] = {}
    for e in graph.edges.values():
        if e.id != skip_edge:
            out.setdefault(e.src, []).append(e.dst)
    while todo:
        n = todo.pop()
        if n == goal:
            return True
        for m in out.get(n, ()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return False


def is_skip_into_merge(graph: Graph, src: str, dst: str, dst_port: int) -> bool:
    """An edge into a merge from a node upstream of the merge's other inputs: a shortcut."""
    node = graph.nodes[dst]
    lt = registry.get(node.type)
    if lt is None or not lt.is_merge:
        return False
    for e in graph.in_edges(dst):
        if e.dst_port != dst_port and e.src != src and reaches(graph, src, e.src):
            return True
    return False


def connect_edit(
    project: Project,
    block: str | None,
    src: str,
    src_port: int,
    dst: str,
    dst_port: int,
    kind: str | None = None,
    projection: str = "identity",
) -> tuple[E.Edit, str]:
    """Connect an output port to an input port; returns (edit, new edge id).

    An occupied input port is reconnected (the old edge goes). ``kind`` None
    picks "shortcut" for an edge into a merge that skips over nodes.
    """
    g = project.graph_of(block)
    if src not in g.nodes or dst not in g.nodes:
        raise EditRefused("Both ends of an edge must be nodes of this graph.")
    a, b = g.nodes[src], g.nodes[dst]
    if src == dst:
        raise EditRefused(f'"{a.name}" cannot feed itself.')
    if not has_output(a):
        raise EditRefused(f'"{a.name}" ({a.type}) has no output to connect from.')
    n_in = num_inputs(project, b)
    if n_in == 0:
        raise EditRefused(f'"{b.name}" ({b.type}) takes no input.')
    if not 0 <= dst_port < n_in:
        raise EditRefused(f'"{b.name}" has {n_in} input(s); there is no input {dst_port + 1}.')
    existing = [e for e in g.in_edges(dst) if e.dst_port == dst_port]
    if any(e.src == src and e.src_port == src_port for e in existing):
        raise EditRefused(f'"{a.name}" already feeds input {dst_port + 1} of "{b.name}".')
    if reaches(g, dst, src):
        raise EditRefused(
            f'Connecting "{a.name}" to "{b.name}" would make a cycle: "{b.name}" already feeds "{a.name}".'
        )
    if kind is None:
        kind = "shortcut" if is_skip_into_merge(g, src, dst, dst_port) else "data"
    fresh = Fresh(g)
    edge = Edge(
        fresh.id("e"),
        src,
        dst,
        src_port,
        dst_port,
        kind,
        unique_edge_name(g) if kind == "shortcut" else None,
        projection if kind == "shortcut" else "identity",
    )
    edits: list[E.Edit] = [E.RemoveEdge(block, e.id) for e in existing]
    edits.append(E.AddEdge(block, edge))
    label = ("Connect shortcut" if kind == "shortcut" else "Connect") + f" {a.name} \u2192 {b.name}"
    return E.Composite(label, edits), edge.id


def delete_edit(project: Project, block: str | None, node_ids, edge_ids=()) -> E.Edit:
    g = project.graph_of(block)
    nodes = [n for n in node_ids if n in g.nodes]
    doomed = set(nodes)
    edges = [e for e in edge_ids if e in g.edges and not ({g.edges[e].src, g.edges[e].dst} & doomed)]
    if not nodes and not edges:
        raise EditRefused("Nothing selected to delete.")
    edits: list[E.Edit] = [E.RemoveEdge(block, e) for e in edges]
    edits += [E.RemoveNode(block, n) for n in nodes]
    parts = []
    if nodes:
        parts.append(
            f"{len(nodes)} node{'s' if len(nodes) > 1 else ''}"
            if len(nodes) > 1
            else f'"{g.nodes[nodes[0]].name}"'
        )
    if edges:
        parts.append(f"{len(edges)} edge{'s' if len(edges) > 1 else ''}")
    return E.Composite("Delete " + " and ".join(parts), edits)


# ------------------------------------------------------------------ clipboard
def clipboard_data(project: Project, block: str | None, node_ids) -> dict:
    """The selected nodes, the edges between them and their positions, as JSON-able data."""
    g = project.graph_of(block)
    ids = [n for n in g.nodes if n in set(node_ids)]
    chosen = set(ids)
    pos = E.positions(project, block)
    return {
        "nodes": [g.nodes[n].to_dict() for n in ids],
        "edges": [e.to_dict() for e in g.edges.values() if e.src in chosen and e.dst in chosen],
        "positions": {n: list(pos[n]) for n in ids if n in pos},
    }


def paste_edit(
    project: Project, block: str | None, data: dict, offset: tuple[float, float] = (40.0, 40.0)
) -> tuple[E.Edit, list[str]]:
    """Add copies of clipboard nodes (fresh ids and names) with their internal edges."""
    g = project.graph_of(block)
    fresh = Fresh(g)
    mapping: dict[str, str] = {}
    edits: list[E.Edit] = []
    for nd in data.get("nodes", []):
        _check_type(project, block, nd["type"])
        if nd["type"] in ENDS and g.nodes_of_type(nd["type"]):
            raise EditRefused(f"This graph already has its {nd['type']} node; it was not pasted.")
        new_id = fresh.id("n")
        mapping[nd["id"]] = new_id
        node = Node(
            new_id,
            nd["type"],
            fresh.name(nd["name"]),
            copy.deepcopy(nd.get("params", {})),
            bool(nd.get("frozen", False)),
        )
        p = data.get("positions", {}).get(nd["id"])
        where = (p[0] + offset[0], p[1] + offset[1]) if p else None
        edits.append(E.AddNode(block, node, where))
    if not edits:
        raise EditRefused("The clipboard holds no nodes.")
    for ed in data.get("edges", []):
        if ed["src"] in mapping and ed["dst"] in mapping:
            kind = ed.get("kind", "data")
            edits.append(
                E.AddEdge(
                    block,
                    Edge(
                        fresh.id("e"),
                        mapping[ed["src"]],
                        mapping[ed["dst"]],
                        ed.get("src_port", 0),
                        ed.get("dst_port", 0),
                        kind,
                        unique_edge_name(g, ed.get("name") or "shortcut") if kind == "shortcut" else None,
                        ed.get("projection", "identity"),
                    ),
                )
            )
    n = len(mapping)
    return E.Composite(f"Paste {n} node{'s' if n > 1 else ''}", edits), list(mapping.values())


# ------------------------------------------------------------------ group into block
def unique_block_name(project: Project, base: str = "Block") -> str:
    if base not in project.blocks:
        return base
    i = 2
    while f"{base}{i}" in project.blocks:
        i += 1
    return f"{base}{i}"


def group_edit(
    project: Project, block: str | None, node_ids, name: str | None = None
) -> tuple[E.Edit, str, str]:
    """Collect nodes into a new BlockDef (one BlockInput, one BlockOutput) and put an instance there.

    Refused with the reason when the selection has more than one input (a
    distinct outside source) or more than one output (a distinct inside
    node feeding the outside), or none. Several edges from the same source
    (a residual's main path and its shortcut) count as one input.
    Returns (edit, block name, instance node id).
    """
    g = project.graph_of(block)
    chosen = [n for n in g.nodes if n in set(node_ids)]
    if not chosen:
        raise EditRefused("Select the nodes to group into a block first.")
    sel = set(chosen)
    ends = [g.nodes[n] for n in chosen if g.nodes[n].type in ENDS]
    if ends:
        raise EditRefused(f'"{ends[0].name}" ({ends[0].type}) cannot go inside a block.')
    ins = [e for e in g.edges.values() if e.dst in sel and e.src not in sel]
    outs = [e for e in g.edges.values() if e.src in sel and e.dst not in sel]
    sources = sorted({(e.src, e.src_port) for e in ins})
    exits = sorted({(e.src, e.src_port) for e in outs})
    _check_one_input(g, sources)
    _check_one_output(g, exits)
    bname = name or unique_block_name(project)
    if bname in project.blocks:
        raise EditRefused(f'A block named "{bname}" already exists.')
    body, bin_id, bout_id = _group_body(g, chosen, ins, exits)
    body_pos, centre = _group_positions(project, block, chosen, ins[0].dst, exits[0][0], bin_id, bout_id)

    fresh = Fresh(g)
    inst = Node(fresh.id("n"), BLOCK_PREFIX + bname, fresh.name(name_base(BLOCK_PREFIX + bname)), {})
    bdef = BlockDef(bname, {}, body, "Grouped from a selection.")
    edits: list[E.Edit] = [E.AddBlock(bdef)]
    if body_pos:
        edits.append(SetPositions(bname, body_pos))
    edits += [E.RemoveNode(block, n) for n in chosen]
    edits.append(E.AddNode(block, inst, centre))
    src, src_port = sources[0]
    edits.append(E.AddEdge(block, Edge(fresh.id("e"), src, inst.id, src_port, 0)))
    for e in outs:
        edits.append(
            E.AddEdge(block, Edge(fresh.id("e"), inst.id, e.dst, 0, e.dst_port, e.kind, e.name, e.projection))
        )
    return E.Composite(f"Group {len(chosen)} nodes into block {bname}", edits), bname, inst.id


def _check_one_input(g: Graph, sources: list[tuple[str, int]]) -> None:
    """Refuse a selection fed by no outside output, or by more than one."""
    if len(sources) == 1:
        return
    if not sources:
        raise EditRefused(
            "Cannot group into a block: nothing feeds the selection, and a block has exactly one input."
        )
    names = ", ".join(f'"{g.nodes[s].name}"' for s, _ in sources)
    raise EditRefused(
        f"Cannot group into a block: the selection has {len(sources)} inputs "
        f"(from {names}); a block has exactly one input."
    )


def _check_one_output(g: Graph, exits: list[tuple[str, int]]) -> None:
    """Refuse a selection whose result nothing outside uses, or with more than one such result."""
    if len(exits) == 1:
        return
    if not exits:
        raise EditRefused(
            "Cannot group into a block: nothing outside uses the selection's "
            "result, and a block has exactly one output."
        )
    names = ", ".join(f'"{g.nodes[s].name}"' for s, _ in exits)
    raise EditRefused(
        f"Cannot group into a block: the selection has {len(exits)} outputs "
        f"(from {names}); a block has exactly one output."
    )


def _group_body(
    g: Graph, chosen: list[str], ins: list[Edge], exits: list[tuple[str, int]]
) -> tuple[Graph, str, str]:
    """The block's body: copies of the chosen nodes and their inner edges, a BlockInput feeding what
    the outside fed, a BlockOutput fed by the one exit; returns (body, input id, output id)."""
    sel = set(chosen)
    body = Graph()
    for n in chosen:
        body.add_node(copy.deepcopy(g.nodes[n]))
    taken = set(body.nodes) | {e.id for e in g.edges.values()}

    def body_id(prefix: str) -> str:
        i = 1
        while f"{prefix}{i}" in taken:
            i += 1
        taken.add(f"{prefix}{i}")
        return f"{prefix}{i}"

    bin_id, bout_id = body_id("n"), body_id("n")
    names = {n.name for n in body.nodes.values()}
    in_name = "input" if "input" not in names else "block_input"
    out_name = "output" if "output" not in names else "block_output"
    body.add_node(Node(bin_id, "BlockInput", in_name), 0)
    for e in g.edges.values():
        if e.src in sel and e.dst in sel:
            body.add_edge(copy.deepcopy(e))
    for e in ins:
        body.add_edge(Edge(e.id, bin_id, e.dst, 0, e.dst_port, e.kind, e.name, e.projection))
    body.add_node(Node(bout_id, "BlockOutput", out_name))
    body.add_edge(Edge(body_id("e"), exits[0][0], bout_id, exits[0][1], 0))
    return body, bin_id, bout_id


def _group_positions(
    project: Project,
    block: str | None,
    chosen: list[str],
    first_id: str,
    last_id: str,
    bin_id: str,
    bout_id: str,
) -> tuple[dict[str, list[float]], tuple[float, float] | None]:
    """The body's node positions (the selection's, moved to the origin, with the BlockInput above the
    first node and the BlockOutput below the last) and where the instance goes; ({}, None) unplaced."""
    pos = E.positions(project, block)
    pts = [pos[n] for n in chosen if n in pos]
    if not pts:
        return {}, None
    x0 = min(p[0] for p in pts)
    y0 = min(p[1] for p in pts)
    y1 = max(p[1] for p in pts)
    first = pos.get(first_id, [x0, y0])
    last = pos.get(last_id, [x0, y1])
    body_pos = {n: [pos[n][0] - x0, pos[n][1] - y0 + 110] for n in chosen if n in pos}
    body_pos[bin_id] = [first[0] - x0, 0.0]
    body_pos[bout_id] = [last[0] - x0, y1 - y0 + 220]
    centre = (first[0], sum(p[1] for p in pts) / len(pts))
    return body_pos, centre


def add_connected_edit(
    project: Project, block: str | None, type_name: str, position, src: str, src_port: int = 0
) -> tuple[E.Edit, str]:
    """Add a node and connect ``src`` into its first input, as one step; returns (edit, node id)."""
    add = new_node_edit(project, block, type_name, position)
    g = project.graph_of(block)
    if num_inputs(project, add.node) == 0:
        raise EditRefused(f"{type_name} takes no input, so it cannot be connected from here.")
    if src not in g.nodes or not has_output(g.nodes[src]):
        raise EditRefused("The edge must start at a node's output.")
    fresh = Fresh(g)
    fresh.ids.add(add.node.id)
    edge = Edge(fresh.id("e"), src, add.node.id, src_port, 0)
    return E.Composite(f"Add {type_name} {add.node.name}", [add, E.AddEdge(block, edge)]), add.node.id


def set_edge_kind_edit(project: Project, block: str | None, edge_id: str, kind: str) -> E.Edit:
    g = project.graph_of(block)
    e = g.edges[edge_id]
    if kind == e.kind:
        raise EditRefused(f"The edge is already a {kind} edge.")
    edits: list[E.Edit] = [E.SetEdgeField(block, edge_id, "kind", kind)]
    if kind == "shortcut" and not e.name:
        edits.append(E.SetEdgeField(block, edge_id, "name", unique_edge_name(g)))
    return E.Composite("Make shortcut" if kind == "shortcut" else "Make data edge", edits)
