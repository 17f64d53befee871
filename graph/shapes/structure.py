"""Structural checks: names, the Input/Output markers, edges, stages, cycles and reachability.

Each check reports through a ``Reporter``; none needs a shape.
"""

from __future__ import annotations

import heapq
import keyword
import re

from graph import registry
from graph.diagnostics import Diagnostic, Fix
from graph.fixes import (
    AddOutputFix,
    RemoveEdgeFix,
    RenameFix,
    StageRemoveFix,
    StageRenameFix,
    StageTruncateFix,
)
from graph.model import BLOCK_PREFIX, Edge, Graph
from graph.shapes.results import GraphInfo
from graph.stage_tree import stage_tree


class Reporter:
    """Collects diagnostics, each once."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._seen: set[tuple] = set()

    def report(
        self,
        severity: str,
        code: str,
        message: str,
        block: str | None,
        node: str | None = None,
        edge: str | None = None,
        fixes: list[Fix] | tuple = (),
    ) -> None:
        key = (severity, code, message, block, node, edge)
        if key in self._seen:
            return
        self._seen.add(key)
        self.diagnostics.append(Diagnostic(severity, code, message, node, edge, block, tuple(fixes)))


def topo_order(r: Reporter, graph: Graph, block: str | None) -> list[str]:
    index = {nid: i for i, nid in enumerate(graph.nodes)}
    indeg = {nid: 0 for nid in graph.nodes}
    succ: dict[str, list[str]] = {nid: [] for nid in graph.nodes}
    for e in graph.edges.values():
        if e.src in indeg and e.dst in indeg:
            indeg[e.dst] += 1
            succ[e.src].append(e.dst)
    heap = [(index[n], n) for n, d in indeg.items() if d == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        _, n = heapq.heappop(heap)
        order.append(n)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                heapq.heappush(heap, (index[m], m))
    if len(order) < len(graph.nodes):
        stuck = [n for n in graph.nodes if n not in set(order)]
        names = ", ".join(f'"{graph.nodes[n].name}"' for n in stuck[:8])
        back = _back_edge(graph, set(stuck))
        fixes = (
            [
                Fix(
                    f'Remove the edge from "{graph.nodes[back.src].name}" to "{graph.nodes[back.dst].name}"',
                    RemoveEdgeFix(block=block, edge=back.id),
                )
            ]
            if back
            else []
        )
        r.report(
            "error",
            "cycle",
            f"The graph has a cycle through {names}; data must flow one way.",
            block,
            stuck[0],
            back.id if back else None,
            fixes,
        )
    return order


def _back_edge(graph: Graph, stuck: set[str]) -> Edge | None:
    # depth-first search inside the stuck set for an edge that closes a cycle
    colour: dict[str, int] = {}
    out: dict[str, list[Edge]] = {}
    for e in graph.edges.values():
        if e.src in stuck and e.dst in stuck:
            out.setdefault(e.src, []).append(e)
    for start in (n for n in graph.nodes if n in stuck):  # graph order: deterministic, earliest first
        if start in colour:
            continue
        stack = [(start, iter(out.get(start, ())))]
        colour[start] = 1
        while stack:
            node, it = stack[-1]
            edge = next(it, None)
            if edge is None:
                colour[node] = 2
                stack.pop()
            elif colour.get(edge.dst) == 1:
                return edge
            elif edge.dst not in colour:
                colour[edge.dst] = 1
                stack.append((edge.dst, iter(out.get(edge.dst, ()))))
    return None


def check_structure(r: Reporter, graph: Graph, block: str | None) -> bool:
    """Names, the Input/Output markers, edges' ends and stages; True when an edge names a missing node
    (only a corrupted model has one)."""
    names = _check_names(r, graph, block)
    if block is None:
        _check_network_markers(r, graph)
    else:
        _check_block_markers(r, graph, block)
    dangling = _check_edge_ends(r, graph, block)
    check_stage_names(r, graph, block, names)
    _check_stage_nodes(r, graph, block)
    check_stage_chains(r, graph, block)
    return dangling


def _check_names(r: Reporter, graph: Graph, block: str | None) -> dict[str, str]:
    """Every node named, no two alike; returns name -> node id."""
    names: dict[str, str] = {}
    for node in graph.nodes.values():
        if not isinstance(node.name, str) or not node.name:
            base = re.sub(r"\W", "_", str(node.type).removeprefix(BLOCK_PREFIX)).lower() or "node"
            new = graph.unique_name(base if is_identifier(base) else f"{base}_", exclude=node.id)
            r.report(
                "error",
                "bad_name",
                f"Node {node.id} ({node.type}) has no name.",
                block,
                node.id,
                fixes=[
                    Fix(
                        f'Name it "{new}"',
                        RenameFix(block=block, node=node.id, value=new),
                    )
                ],
            )
            continue
        if node.name in names:
            new = graph.unique_name(node.name, exclude=node.id)
            r.report(
                "error",
                "duplicate_name",
                f'Two nodes are named "{node.name}"; '
                "names become attribute names in code and must be unique.",
                block,
                node.id,
                fixes=[
                    Fix(
                        f'Rename to "{new}"',
                        RenameFix(block=block, node=node.id, value=new),
                    )
                ],
            )
        names[node.name] = node.id
    return names


def _check_network_markers(r: Reporter, graph: Graph) -> None:
    """The network has one Input and one Output, and no block markers."""
    for t, other in (("Input", "BlockInput"), ("Output", "BlockOutput")):
        found = graph.nodes_of_type(t)
        if not found:
            fixes = []
            if t == "Output":
                sources = {e.src for e in graph.edges.values()}
                sinks = [
                    n
                    for n in graph.nodes.values()
                    if n.id not in sources and n.type not in ("Output", "BlockOutput")
                ]
                if len(sinks) == 1:
                    fixes = [
                        Fix(
                            f'Add an Output after "{sinks[0].name}"',
                            AddOutputFix(block=None, node=sinks[0].id),
                        )
                    ]
            r.report("error", f"missing_{t.lower()}", f"The network has no {t} node.", None, fixes=fixes)
        elif len(found) > 1:
            r.report(
                "error",
                f"multiple_{t.lower()}",
                f"The network has {len(found)} {t} nodes; it needs exactly one.",
                None,
                found[1].id,
            )
        for n in graph.nodes_of_type(other):
            r.report(
                "error",
                "misplaced_node",
                f'{other} "{n.name}" belongs in a block body, not in the network.',
                None,
                n.id,
            )


def _check_block_markers(r: Reporter, graph: Graph, block: str) -> None:
    """A block body has one BlockInput and one BlockOutput, and no network markers."""
    where = f'block "{block}"'
    for t, other in (("BlockInput", "Input"), ("BlockOutput", "Output")):
        found = graph.nodes_of_type(t)
        if len(found) != 1:
            r.report(
                "error",
                f"block_{t.lower()}",
                f"{where} has {len(found)} {t} nodes; a block body needs exactly one.",
                block,
                found[1].id if len(found) > 1 else None,
            )
        for n in graph.nodes_of_type(other):
            r.report(
                "error",
                "misplaced_node",
                f'{other} "{n.name}" cannot be inside {where}; use {t}.',
                block,
                n.id,
            )


def _check_edge_ends(r: Reporter, graph: Graph, block: str | None) -> bool:
    """True (each reported) when an edge names a node that does not exist."""
    dangling = False
    for e in graph.edges.values():
        if e.src in graph.nodes and e.dst in graph.nodes:
            continue
        dangling = True
        missing = [end for end in (e.src, e.dst) if end not in graph.nodes]
        if missing:
            r.report(
                "error",
                "dangling_edge",
                f"Edge {e.id} connects node {missing[0]!r}, which does not exist.",
                block,
                edge=e.id,
                fixes=[Fix("Remove the edge", RemoveEdgeFix(block=block, edge=e.id))],
            )
    return dangling


def _check_stage_nodes(r: Reporter, graph: Graph, block: str | None) -> None:
    """Every stage holds nodes that exist, each in one stage or in stages nested one in the other."""
    overlaps = {(b, nid): a for a, b, nid in stage_tree(graph.stages).overlaps}  # nested stages are fine
    for stage in graph.stages:
        if not stage.nodes:
            r.report(
                "error",
                "bad_stage",
                f'Stage "{stage.name}" has no nodes left; the code cannot build it.',
                block,
                fixes=[
                    Fix(
                        f'Remove the empty stage "{stage.name}"',
                        StageRemoveFix(block=block, stage=stage.name, node=None),
                    )
                ],
            )
        for nid in stage.nodes:
            if nid not in graph.nodes:
                r.report(
                    "error",
                    "bad_stage",
                    f'Stage "{stage.name}" lists unknown node {nid!r}.',
                    block,
                    fixes=[
                        Fix(
                            f'Remove {nid!r} from stage "{stage.name}"',
                            StageRemoveFix(block=block, stage=stage.name, node=nid),
                        )
                    ],
                )
            elif (stage.name, nid) in overlaps:
                r.report(
                    "error",
                    "bad_stage",
                    f'"{graph.nodes[nid].name}" is in two stages, "{overlaps[stage.name, nid]}" and '
                    f'"{stage.name}", and neither holds the other.',
                    block,
                    nid,
                    fixes=[
                        Fix(
                            f'Remove it from stage "{stage.name}"',
                            StageRemoveFix(block=block, stage=stage.name, node=nid),
                        )
                    ],
                )


def check_stage_chains(r: Reporter, graph: Graph, block: str | None) -> None:
    """A stage becomes an nn.Sequential: a chain of one-input nodes with modules, each fed by the one before.
    The first break in each stage is reported (as the code generator would refuse it), with the fix that
    ends the stage just before it (or drops the first node)."""
    if not graph.stages:
        return
    ins: dict[str, list[str]] = {}
    outs: dict[str, int] = {}
    for e in graph.edges.values():
        ins.setdefault(e.dst, []).append(e.src)
        outs[e.src] = outs.get(e.src, 0) + 1
    for stage in graph.stages:
        if not stage.nodes or any(nid not in graph.nodes for nid in stage.nodes):
            continue  # reported above
        for i, nid in enumerate(stage.nodes):
            node = graph.nodes[nid]
            lt = registry.get(node.type)
            srcs = ins.get(nid, [])
            problem = None
            if lt is not None and lt.category == "io":
                problem = f'Stage "{stage.name}" cannot hold {node.type} "{node.name}".'
            elif node.block_name is None and lt is not None and not lt.stageable:
                problem = (
                    f'Stage "{stage.name}": {node.type} "{node.name}" has no module form '
                    "and cannot be in a stage."
                )
            elif len(srcs) != 1:
                problem = (
                    f'Stage "{stage.name}": "{node.name}" has {len(srcs)} inputs; a stage is a chain of '
                    "one-input nodes."
                )
            elif i > 0 and srcs[0] != stage.nodes[i - 1]:
                problem = (
                    f'Stage "{stage.name}": "{node.name}" does not follow '
                    f'"{graph.nodes[stage.nodes[i - 1]].name}"; a stage lists consecutive nodes of a chain.'
                )
            elif i < len(stage.nodes) - 1 and outs.get(nid, 0) != 1:
                problem = (
                    f'Stage "{stage.name}": "{node.name}" feeds {outs.get(nid, 0)} nodes; only the last '
                    "node of a stage may feed others."
                )
            if problem is None:
                continue
            if i == 0:
                fix = Fix(
                    f'Take "{node.name}" out of stage "{stage.name}"',
                    StageRemoveFix(block=block, stage=stage.name, node=nid),
                )
            else:
                fix = Fix(
                    f'End stage "{stage.name}" before "{node.name}"',
                    StageTruncateFix(block=block, stage=stage.name, node=nid),
                )
            r.report("error", "bad_stage", problem, block, nid, fixes=[fix])
            break


def check_stage_names(r: Reporter, graph: Graph, block: str | None, node_names: dict[str, str]) -> None:
    """Stage names become attribute names next to the nodes' (layer1 = nn.Sequential(...))."""
    if not graph.stages:
        return
    taken = set(node_names) | {st.name for st in graph.stages if isinstance(st.name, str)}
    seen: set[str] = set()
    for stage in graph.stages:
        problem = None
        if not isinstance(stage.name, str) or not is_identifier(stage.name):
            problem = f"Stage {stage.name!r} needs a name that can be an attribute in code, such as layer1."
        elif stage.name in seen:
            problem = (
                f'Two stages are named "{stage.name}"; stage names become attribute names and must be unique.'
            )
        elif stage.name in node_names:
            problem = (
                f'Stage "{stage.name}" has the same name as the node "{stage.name}"; '
                "both become attribute names in code."
            )
        if isinstance(stage.name, str):
            seen.add(stage.name)
        if problem is None:
            continue
        base = re.sub(r"\W", "_", stage.name) if isinstance(stage.name, str) and stage.name else "stage"
        base = base if is_identifier(base) else f"stage_{base}"
        new, i = base, 1
        while new in taken:
            new, i = f"{base}_{i}", i + 1
        taken.add(new)
        r.report(
            "error",
            "bad_stage",
            problem,
            block,
            stage.nodes[0] if stage.nodes and stage.nodes[0] in graph.nodes else None,
            fixes=[
                Fix(
                    f'Rename the stage to "{new}"',
                    StageRenameFix(block=block, stage=stage.name, value=new),
                )
            ],
        )


def check_reachability(r: Reporter, graph: Graph, info: GraphInfo) -> None:
    """Nodes of the network that do not lead to its Output are unused (a warning)."""
    outputs = graph.nodes_of_type("Output")
    if not outputs:
        return
    index = info.in_edges or in_edge_index(graph)
    reach = {outputs[0].id}
    frontier = [outputs[0].id]
    while frontier:
        nid = frontier.pop()
        for e in index.get(nid, ()):
            if e.src not in reach:
                reach.add(e.src)
                frontier.append(e.src)
    for node in graph.nodes.values():
        if node.id not in reach:
            r.report(
                "warning",
                "unused_node",
                f'{node.type} "{node.name}" does not lead to the Output; it is unused.',
                None,
                node.id,
            )


def is_identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def in_edge_index(graph: Graph) -> dict[str, list[Edge]]:
    """Incoming edges of every node, each list sorted by dst_port (as Graph.in_edges), in one pass."""
    index: dict[str, list[Edge]] = {}
    for e in graph.edges.values():
        index.setdefault(e.dst, []).append(e)
    for edges in index.values():
        if len(edges) > 1:
            edges.sort(key=lambda e: e.dst_port if isinstance(e.dst_port, int) else 0)
    return index
