"""Shape inference and validation, in pure Python.

``analyze(project)`` walks the network in topological order, expands every
block instance (memoised per block, input shape and parameter values), and
returns every node's output shape, parameter and MAC counts, the projection
each shortcut edge needs, and diagnostics with one-click fixes.
"""

from __future__ import annotations

import difflib
import heapq
import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from math import prod
from typing import Any

from graph import registry
from graph.diagnostics import Diagnostic, Fix
from graph.model import BLOCK_PREFIX, BlockDef, Edge, Graph, Node, Project
from graph.params import ParamError, ParamSpec, check_value, resolve
from graph.registry import ShapeError

Shape = tuple[int, ...]
PROJECTION_LABELS = {
    "identity": "identity",
    "zero_pad": "zero-pad",
    "conv_bn": "1x1 conv + BN",
    "conv_bn_always": "1x1 conv + BN (always)",
}
MAX_BLOCK_DEPTH = 16


def fmt(shape: Shape | None) -> str:
    return "?" if shape is None else "x".join(str(s) for s in shape)


@dataclass
class ShortcutInfo:
    """What a shortcut edge does in one instance: identity, zero_pad or conv_bn."""

    edge: str
    applied: str  # identity | zero_pad | conv_bn
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
        if ni is None or ni.node.type in ("Input", "Output", "BlockInput", "BlockOutput"):
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


# ------------------------------------------------------------------ analysis
class _Analyzer:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.diagnostics: list[Diagnostic] = []
        self._seen: set[tuple] = set()
        self._memo: dict[tuple, GraphInfo] = {}
        self.block_infos: dict[str, GraphInfo] = {}
        self._stack: list[str] = []
        self._shortcut_failed = False
        self.expansions: list[tuple[str | None, Node, str, GraphInfo]] = []  # (holder, instance, block, body)
        self._instances: list[
            tuple[str | None, Node]
        ] = []  # the block instances being expanded, outermost first
        self._dangling = False  # an edge names a node that does not exist (only a corrupted model has one)

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
        if code == "shortcut_mismatch":
            self._shortcut_failed = True
        key = (severity, code, message, block, node, edge)
        if key in self._seen:
            return
        self._seen.add(key)
        self.diagnostics.append(Diagnostic(severity, code, message, node, edge, block, tuple(fixes)))

    # ---- structure ----------------------------------------------------------
    def topo_order(self, graph: Graph, block: str | None) -> list[str]:
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
            back = self._back_edge(graph, set(stuck))
            fixes = (
                [
                    Fix(
                        f'Remove the edge from "{graph.nodes[back.src].name}" to "{graph.nodes[back.dst].name}"',
                        {"op": "remove_edge", "block": block, "edge": back.id},
                    )
                ]
                if back
                else []
            )
            self.report(
                "error",
                "cycle",
                f"The graph has a cycle through {names}; data must flow one way.",
                block,
                stuck[0],
                back.id if back else None,
                fixes,
            )
        return order

    @staticmethod
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

    def check_structure(self, graph: Graph, block: str | None) -> None:
        names: dict[str, str] = {}
        for node in graph.nodes.values():
            if not isinstance(node.name, str) or not node.name:
                base = re.sub(r"\W", "_", str(node.type).removeprefix(BLOCK_PREFIX)).lower() or "node"
                new = graph.unique_name(base if is_identifier(base) else f"{base}_", exclude=node.id)
                self.report(
                    "error",
                    "bad_name",
                    f"Node {node.id} ({node.type}) has no name.",
                    block,
                    node.id,
                    fixes=[
                        Fix(
                            f'Name it "{new}"',
                            {"op": "rename", "block": block, "node": node.id, "value": new},
                        )
                    ],
                )
                continue
            if node.name in names:
                new = graph.unique_name(node.name, exclude=node.id)
                self.report(
                    "error",
                    "duplicate_name",
                    f'Two nodes are named "{node.name}"; names become attribute names in code and must be unique.',
                    block,
                    node.id,
                    fixes=[
                        Fix(
                            f'Rename to "{new}"',
                            {"op": "rename", "block": block, "node": node.id, "value": new},
                        )
                    ],
                )
            names[node.name] = node.id
        where = "the network" if block is None else f'block "{block}"'
        if block is None:
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
                                    {"op": "add_output", "block": None, "node": sinks[0].id},
                                )
                            ]
                    self.report(
                        "error", f"missing_{t.lower()}", f"The network has no {t} node.", None, fixes=fixes
                    )
                elif len(found) > 1:
                    self.report(
                        "error",
                        f"multiple_{t.lower()}",
                        f"The network has {len(found)} {t} nodes; it needs exactly one.",
                        None,
                        found[1].id,
                    )
                for n in graph.nodes_of_type(other):
                    self.report(
                        "error",
                        "misplaced_node",
                        f'{other} "{n.name}" belongs in a block body, not in the network.',
                        None,
                        n.id,
                    )
        else:
            for t, other in (("BlockInput", "Input"), ("BlockOutput", "Output")):
                found = graph.nodes_of_type(t)
                if len(found) != 1:
                    self.report(
                        "error",
                        f"block_{t.lower()}",
                        f"{where} has {len(found)} {t} nodes; a block body needs exactly one.",
                        block,
                        found[1].id if len(found) > 1 else None,
                    )
                for n in graph.nodes_of_type(other):
                    self.report(
                        "error",
                        "misplaced_node",
                        f'{other} "{n.name}" cannot be inside {where}; use {t}.',
                        block,
                        n.id,
                    )
        for e in graph.edges.values():
            if e.src in graph.nodes and e.dst in graph.nodes:
                continue
            self._dangling = True
            missing = [end for end in (e.src, e.dst) if end not in graph.nodes]
            if missing:
                self.report(
                    "error",
                    "dangling_edge",
                    f"Edge {e.id} connects node {missing[0]!r}, which does not exist.",
                    block,
                    edge=e.id,
                    fixes=[Fix("Remove the edge", {"op": "remove_edge", "block": block, "edge": e.id})],
                )
        self.check_stage_names(graph, block, names)
        seen_stage: dict[str, str] = {}
        for stage in graph.stages:
            if not stage.nodes:
                self.report(
                    "error",
                    "bad_stage",
                    f'Stage "{stage.name}" has no nodes left; the code cannot build it.',
                    block,
                    fixes=[
                        Fix(
                            f'Remove the empty stage "{stage.name}"',
                            {"op": "stage_remove", "block": block, "stage": stage.name, "node": None},
                        )
                    ],
                )
            for nid in stage.nodes:
                if nid not in graph.nodes:
                    self.report(
                        "error",
                        "bad_stage",
                        f'Stage "{stage.name}" lists unknown node {nid!r}.',
                        block,
                        fixes=[
                            Fix(
                                f'Remove {nid!r} from stage "{stage.name}"',
                                {"op": "stage_remove", "block": block, "stage": stage.name, "node": nid},
                            )
                        ],
                    )
                elif nid in seen_stage and seen_stage[nid] != stage.name:
                    self.report(
                        "error",
                        "bad_stage",
                        f'"{graph.nodes[nid].name}" is in two stages, "{seen_stage[nid]}" and "{stage.name}".',
                        block,
                        nid,
                        fixes=[
                            Fix(
                                f'Remove it from stage "{stage.name}"',
                                {"op": "stage_remove", "block": block, "stage": stage.name, "node": nid},
                            )
                        ],
                    )
                else:
                    seen_stage.setdefault(nid, stage.name)
        self.check_stage_chains(graph, block)

    def check_stage_chains(self, graph: Graph, block: str | None) -> None:
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
                if node.type in ("Input", "Output", "BlockInput", "BlockOutput"):
                    problem = f'Stage "{stage.name}" cannot hold {node.type} "{node.name}".'
                elif (
                    node.block_name is None
                    and lt is not None
                    and lt.module is None
                    and node.type != "Flatten"
                ):
                    problem = f'Stage "{stage.name}": {node.type} "{node.name}" has no module form and cannot be in a stage.'
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
                        {"op": "stage_remove", "block": block, "stage": stage.name, "node": nid},
                    )
                else:
                    fix = Fix(
                        f'End stage "{stage.name}" before "{node.name}"',
                        {"op": "stage_truncate", "block": block, "stage": stage.name, "node": nid},
                    )
                self.report("error", "bad_stage", problem, block, nid, fixes=[fix])
                break

    def check_stage_names(self, graph: Graph, block: str | None, node_names: dict[str, str]) -> None:
        """Stage names become attribute names next to the nodes' (layer1 = nn.Sequential(...))."""
        if not graph.stages:
            return
        taken = set(node_names) | {st.name for st in graph.stages if isinstance(st.name, str)}
        seen: set[str] = set()
        for stage in graph.stages:
            problem = None
            if not isinstance(stage.name, str) or not is_identifier(stage.name):
                problem = (
                    f"Stage {stage.name!r} needs a name that can be an attribute in code, such as layer1."
                )
            elif stage.name in seen:
                problem = f'Two stages are named "{stage.name}"; stage names become attribute names and must be unique.'
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
            self.report(
                "error",
                "bad_stage",
                problem,
                block,
                stage.nodes[0] if stage.nodes and stage.nodes[0] in graph.nodes else None,
                fixes=[
                    Fix(
                        f'Rename the stage to "{new}"',
                        {"op": "stage_rename", "block": block, "stage": stage.name, "value": new},
                    )
                ],
            )

    # ---- params ---------------------------------------------------------------
    def resolve_params(
        self,
        node: Node,
        specs: tuple[ParamSpec, ...],
        env: dict | None,
        block: str | None,
        label: str,
        suggest: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        ok = True
        if not isinstance(node.params, dict):
            self.report("error", "bad_param", f"{label}: params must be an object.", block, node.id)
            return None
        for spec in specs:
            raw = node.params.get(spec.name, spec.default)
            try:
                out[spec.name] = resolve(spec, raw, env)
            except ParamError as exc:
                ok = False
                fixes = (
                    []
                    if spec.default is None and spec.type != "opt_int"
                    else [
                        Fix(
                            f"Reset {spec.name} to {spec.default!r}",
                            {
                                "op": "set_param",
                                "block": block,
                                "node": node.id,
                                "param": spec.name,
                                "value": spec.default,
                            },
                        )
                    ]
                )
                if suggest and spec.name in suggest and suggest[spec.name] != spec.default:
                    fixes.insert(
                        0,
                        Fix(
                            f"Set {spec.name} to {suggest[spec.name]!r}",
                            {
                                "op": "set_param",
                                "block": block,
                                "node": node.id,
                                "param": spec.name,
                                "value": suggest[spec.name],
                            },
                        ),
                    )
                message = f"{label}: {exc}."
                if (
                    isinstance(raw, str)
                    and env is not None
                    and not exc.unknown
                    and self._instances
                    and "expression" not in str(exc)
                ):
                    # the expression is fine; this instance's parameter values make it bad: say which, and
                    # repair the instance, not the block body that all instances share
                    holder, inst = self._instances[-1]
                    bdef = self.project.blocks.get(inst.block_name or "")
                    values = ", ".join(
                        f"{k}={v}"
                        for k, v in sorted(inst.params.items())
                        if re.search(rf"\b{re.escape(str(k))}\b", raw)
                    )
                    message = (
                        f'{label}: {exc} (from {raw!r} in instance "{inst.name}"'
                        + (f" with {values}" if values else "")
                        + ")."
                    )
                    fixes = []
                    name = raw.strip()
                    if bdef is not None and name in bdef.params and name in inst.params:
                        default = bdef.params[name].default
                        try:
                            check_value(spec, default)
                            fixes = [
                                Fix(
                                    f'Set {name} of "{inst.name}" to {default!r}',
                                    {
                                        "op": "set_param",
                                        "block": holder,
                                        "node": inst.id,
                                        "param": name,
                                        "value": default,
                                    },
                                )
                            ]
                        except ParamError:
                            pass
                if exc.unknown and isinstance(raw, str):
                    for close in difflib.get_close_matches(exc.unknown, exc.known, n=1, cutoff=0.6):
                        fixed = re.sub(rf"\b{re.escape(exc.unknown)}\b", close, raw)
                        fixes = [
                            Fix(
                                f"Use {close!r} in place of {exc.unknown!r}",  # the obvious repair
                                {
                                    "op": "set_param",
                                    "block": block,
                                    "node": node.id,
                                    "param": spec.name,
                                    "value": fixed,
                                },
                            )
                        ]
                self.report("error", "bad_param", message, block, node.id, fixes=fixes)
        known = {s.name for s in specs}
        for key in node.params:
            if key not in known:
                self.report(
                    "warning",
                    "unknown_param",
                    f'{label}: unknown parameter "{key}" is ignored.',
                    block,
                    node.id,
                    fixes=[
                        Fix(
                            f'Remove "{key}"',
                            {"op": "set_param", "block": block, "node": node.id, "param": key, "value": None},
                        )
                    ],
                )
        return out if ok else None

    # ---- shortcut projections ---------------------------------------------
    def project_shortcut(
        self,
        edge: Edge,
        src_shape: Shape,
        target: Shape | None,
        graph: Graph,
        block: str | None,
        dst_label: str,
    ) -> tuple[Shape, ShortcutInfo]:
        proj = edge.projection
        if proj not in PROJECTION_LABELS:
            self.report(
                "error",
                "bad_projection",
                f"Shortcut {edge.id}: unknown projection {proj!r}.",
                block,
                edge=edge.id,
                fixes=[
                    Fix(
                        "Set projection to identity",
                        {
                            "op": "set_edge",
                            "block": block,
                            "edge": edge.id,
                            "field": "projection",
                            "value": "identity",
                        },
                    )
                ],
            )
            proj = "identity"
        ident = ShortcutInfo(edge.id, "identity", src_shape, src_shape)
        if target is None or proj == "identity" or (src_shape == target and proj != "conv_bn_always"):
            return src_shape, ident
        src_name = graph.nodes[edge.src].name
        if len(src_shape) != 3 or len(target) != 3:
            self.report(
                "error",
                "shortcut_mismatch",
                f'{dst_label}: the shortcut from "{src_name}" carries {fmt(src_shape)} and cannot be projected to {fmt(target)}.',
                block,
                edge.dst,
                edge.id,
            )
            return src_shape, ident
        c, h, w = src_shape
        c2, h2, w2 = target
        stride = _find_stride(h, w, h2, w2)
        if proj == "zero_pad":
            zstride = next((s for s in range(1, h + 1) if -(-h // s) == h2 and -(-w // s) == w2), None)
            if zstride is None or c2 < c:
                why = (
                    f"it can only add channels, not remove them ({c} to {c2})"
                    if c2 < c
                    else f"{h}x{w} cannot be subsampled to {h2}x{w2}"
                )
                self.report(
                    "error",
                    "shortcut_mismatch",
                    f'{dst_label}: zero-pad shortcut from "{src_name}" cannot turn {fmt(src_shape)} into {fmt(target)}: {why}.',
                    block,
                    edge.dst,
                    edge.id,
                    self.projection_fixes(edge, block, src_shape, target, exclude="zero_pad"),
                )
                return src_shape, ident
            return target, ShortcutInfo(edge.id, "zero_pad", src_shape, target, zstride)
        if stride is None:
            self.report(
                "error",
                "shortcut_mismatch",
                f'{dst_label}: no 1x1 convolution stride turns {h}x{w} from "{src_name}" into {h2}x{w2}.',
                block,
                edge.dst,
                edge.id,
            )
            return src_shape, ident
        params = c * c2 + 2 * c2
        macs = c * c2 * h2 * w2 + 2 * c2 * h2 * w2
        return target, ShortcutInfo(edge.id, "conv_bn", src_shape, target, stride, params, macs)

    def projection_fixes(
        self, edge: Edge, block: str | None, src: Shape, target: Shape, exclude: str = ""
    ) -> list[Fix]:
        fixes = []
        if len(src) == 3 and len(target) == 3:
            stride = _find_stride(src[1], src[2], target[1], target[2])
            if stride is not None and exclude != "conv_bn":
                tail = f" /{stride}" if stride > 1 else ""
                fixes.append(
                    Fix(
                        f"Set the shortcut's projection to 1x1 conv + BN{tail}",
                        {
                            "op": "set_edge",
                            "block": block,
                            "edge": edge.id,
                            "field": "projection",
                            "value": "conv_bn",
                        },
                    )
                )
            zs = next(
                (
                    s
                    for s in range(1, src[1] + 1)
                    if -(-src[1] // s) == target[1] and -(-src[2] // s) == target[2]
                ),
                None,
            )
            if zs is not None and target[0] >= src[0] and exclude != "zero_pad":
                fixes.append(
                    Fix(
                        "Set the shortcut's projection to zero-pad",
                        {
                            "op": "set_edge",
                            "block": block,
                            "edge": edge.id,
                            "field": "projection",
                            "value": "zero_pad",
                        },
                    )
                )
        return fixes

    # ---- one graph --------------------------------------------------------------
    def analyze_graph(
        self, graph: Graph, block: str | None, env: dict | None, input_shape: Shape | None
    ) -> GraphInfo:
        self.check_structure(graph, block)
        info = GraphInfo(
            graph,
            block,
            self.topo_order(graph, block),
            env=env,
            input_shape=input_shape,
            in_edges=in_edge_index(graph),
        )
        for node_id in info.order:
            node = graph.nodes[node_id]
            ni = self.analyze_node(graph, node, info, env, block, input_shape)
            info.nodes[node_id] = ni
            if node.type in ("Output", "BlockOutput"):
                info.output_shape = ni.out_shape
        return info

    def analyze_node(
        self,
        graph: Graph,
        node: Node,
        info: GraphInfo,
        env: dict | None,
        block: str | None,
        input_shape: Shape | None,
    ) -> NodeInfo:
        bname = node.block_name
        label = f'{node.type} "{node.name}"'
        lt = None
        bdef: BlockDef | None = None
        if bname is not None:
            bdef = self.project.blocks.get(bname)
            if bdef is None:
                self.report(
                    "error",
                    "unknown_block",
                    f'{label}: there is no block definition named "{bname}".',
                    block,
                    node.id,
                )
                return NodeInfo(node, {}, [], error=True)
            specs = tuple(
                ParamSpec(k, p.type if p.type in ("int", "float", "bool") else "int", p.default)
                for k, p in bdef.params.items()
            )
            n_inputs = 1
        else:
            lt = registry.get(node.type)
            if lt is None:
                self.report(
                    "error",
                    "unknown_type",
                    f'Node "{node.name}" has unknown type "{node.type}".',
                    block,
                    node.id,
                )
                return NodeInfo(node, {}, [], error=True)
            specs = lt.params
        in_edges = info.in_edges.get(node.id, [])
        if self._dangling:
            in_edges = [e for e in in_edges if e.src in graph.nodes]  # dangling edges were reported
        suggest = None
        if lt is not None and isinstance(lt.inputs, str):  # a merge: num_inputs to fit the edges that arrive
            ports = [
                e.dst_port
                for e in in_edges
                if isinstance(e.dst_port, int) and not isinstance(e.dst_port, bool) and e.dst_port >= 0
            ]
            count_spec = lt.spec(lt.inputs)
            wanted = max(max(ports, default=0) + 1, int(count_spec.min or 1))
            if ports and (count_spec.max is None or wanted <= count_spec.max):
                suggest = {lt.inputs: wanted}
        params = self.resolve_params(node, specs, env, block, label, suggest)
        if lt is not None:
            n_inputs = lt.num_inputs(params or {})

        # inputs, port by port
        by_port: dict[int, Edge] = {}
        for e in in_edges:
            if not isinstance(e.dst_port, int) or e.dst_port >= n_inputs or e.dst_port < 0:
                port_text = (
                    f"input {e.dst_port + 1}"
                    if isinstance(e.dst_port, int) and e.dst_port >= 0
                    else f"an invalid port {e.dst_port!r}"
                )
                src = graph.nodes[e.src].name
                fixes = [Fix("Remove the edge", {"op": "remove_edge", "block": block, "edge": e.id})]
                if (
                    suggest is not None
                    and params is not None
                    and isinstance(e.dst_port, int)
                    and e.dst_port >= 0
                ):
                    fixes.insert(
                        0,
                        Fix(
                            f"Set {lt.inputs} to {suggest[lt.inputs]}",
                            {
                                "op": "set_param",
                                "block": block,
                                "node": node.id,
                                "param": lt.inputs,
                                "value": suggest[lt.inputs],
                            },
                        ),
                    )
                self.report(
                    "error",
                    "extra_input",
                    f'{label} has {n_inputs} input(s) but the edge from "{src}" arrives at {port_text}.',
                    block,
                    node.id,
                    e.id,
                    fixes,
                )
            elif e.dst_port in by_port:
                self.report(
                    "error",
                    "duplicate_input",
                    f"{label}: input {e.dst_port + 1} has two incoming edges.",
                    block,
                    node.id,
                    e.id,
                    [Fix("Remove the second edge", {"op": "remove_edge", "block": block, "edge": e.id})],
                )
            else:
                by_port[e.dst_port] = e
        ni = NodeInfo(node, params or {}, [None] * n_inputs)
        missing = [p for p in range(n_inputs) if p not in by_port]
        if missing:
            ports_text = ", ".join(str(p + 1) for p in missing)
            fixes = []
            connected = n_inputs - len(missing)
            if (
                lt is not None
                and isinstance(lt.inputs, str)
                and params is not None
                and min(missing) == connected
                and connected >= (lt.spec(lt.inputs).min or 1)
            ):
                fixes.append(
                    Fix(
                        f"Set {lt.inputs} to {connected}",
                        {
                            "op": "set_param",
                            "block": block,
                            "node": node.id,
                            "param": lt.inputs,
                            "value": connected,
                        },
                    )
                )
            self.report(
                "error",
                "unconnected_input",
                f"{label}: input {ports_text} is not connected."
                if n_inputs > 1
                else f"{label} has no input connected.",
                block,
                node.id,
                fixes=fixes,
            )
            ni.error = True
            return ni
        if params is None:
            ni.error = True
            return ni
        # data inputs first, so shortcuts know the shape they must meet
        shapes: dict[int, Shape | None] = {}
        for port, e in by_port.items():
            if not e.is_shortcut:
                shapes[port] = self.src_shape(info, e)
        main = next((s for p, s in sorted(shapes.items()) if s is not None), None)
        self._shortcut_failed = False
        for port, e in by_port.items():
            if e.is_shortcut:
                src = self.src_shape(info, e)
                if src is None:
                    shapes[port] = None
                    continue
                target = main if (lt is not None and lt.is_merge) else None
                if node.type == "Gate":
                    target = shapes.get(0)
                if lt is None or not lt.is_merge:
                    plain = e.projection == "identity"
                    self.report(
                        "warning" if plain else "error",
                        "shortcut_target",
                        f'{label}: the shortcut from "{graph.nodes[e.src].name}" ends here, but a shortcut '
                        "must end at a merge (Add, Concat, Multiply or Gate)"
                        + (
                            "; it acts as a plain edge."
                            if plain
                            else f"; its {PROJECTION_LABELS.get(e.projection, e.projection)} projection "
                            "would be ignored."
                        ),
                        block,
                        node.id,
                        e.id,
                        [
                            Fix(
                                "Make it a plain edge",
                                {
                                    "op": "set_edge",
                                    "block": block,
                                    "edge": e.id,
                                    "field": "kind",
                                    "value": "data",
                                },
                            )
                        ],
                    )
                out, sc = self.project_shortcut(e, src, target, graph, block, label)
                info.shortcuts[e.id] = sc
                shapes[port] = out
        for port, e in by_port.items():
            if shapes[port] is not None:
                info.edge_shapes[e.id] = shapes[port]
        ni.in_shapes = [shapes[p] for p in range(n_inputs)]
        if node.type == "BlockInput":
            ni.out_shape = input_shape
            return ni
        if any(s is None for s in ni.in_shapes):
            return ni  # an upstream error was already reported
        if self._shortcut_failed:
            ni.error = True  # reported once, as the shortcut's problem, not again as a merge mismatch
            return ni
        if bdef is not None:
            self.expand_block(node, bdef, ni, block, label)
            return ni
        try:
            ni.out_shape = tuple(lt.shape(params, ni.in_shapes))
        except ShapeError as exc:
            ni.error = True
            self.report_shape_error(exc, graph, node, by_port, ni, block, label, info)
            return ni
        ni.num_params = lt.count_params(params, ni.in_shapes, ni.out_shape)
        ni.macs = lt.macs(params, ni.in_shapes, ni.out_shape)
        if any(d <= 0 for d in ni.out_shape):
            self.report(
                "error",
                "zero_size",
                f"{label}: output size {fmt(ni.out_shape)} reaches zero.",
                block,
                node.id,
            )
            ni.out_shape = None
        return ni

    @staticmethod
    def src_shape(info: GraphInfo, e: Edge) -> Shape | None:
        src = info.nodes.get(e.src)
        return None if src is None else src.out_shape

    def report_shape_error(
        self,
        exc: ShapeError,
        graph: Graph,
        node: Node,
        by_port: dict[int, Edge],
        ni: NodeInfo,
        block: str | None,
        label: str,
        info: GraphInfo,
    ) -> None:
        fixes = []
        for f in exc.fixes:
            action = {k: v for k, v in f.items() if k != "label"}
            action.update(block=block, node=node.id)
            fixes.append(Fix(f.get("label", action["op"]), action))
        message = f"{label}: {exc.message}."
        edge_id = None
        if exc.code == "shape_mismatch" and exc.port is not None and len(ni.in_shapes) > 1:
            port = exc.port
            bad = by_port[port]
            ref_port = 0 if port != 0 else 1
            ref = by_port[ref_port]

            def describe(p: int, e: Edge) -> str:
                kind = "shortcut" if e.is_shortcut else "edge"
                return f'input {p + 1} ({kind} from "{graph.nodes[e.src].name}") is {fmt(ni.in_shapes[p])}'

            message = f"{label}: {describe(port, bad)} but {describe(ref_port, ref)}"
            if node.type == "Multiply":
                message += "; they cannot broadcast"
            shortcut = bad if bad.is_shortcut else (ref if ref.is_shortcut else None)
            if shortcut is not None:
                other = ref if shortcut is bad else bad
                src = info.nodes[shortcut.src].out_shape
                target = ni.in_shapes[other.dst_port]
                sfix = self.projection_fixes(shortcut, block, src, target)
                fixes.extend(sfix)
                if sfix:
                    message += " — set the shortcut's projection to " + " or ".join(
                        "1x1 conv + BN" if f.action["value"] == "conv_bn" else "zero-pad" for f in sfix
                    )
                edge_id = shortcut.id
            else:
                src, target = ni.in_shapes[port], ni.in_shapes[ref_port]
                if len(src) == 3 and len(target) == 3:
                    stride = _find_stride(src[1], src[2], target[1], target[2])
                    if stride is not None:
                        fixes.append(
                            Fix(
                                f'Make the edge from "{graph.nodes[bad.src].name}" a shortcut with 1x1 conv + BN',
                                {
                                    "op": "make_shortcut",
                                    "block": block,
                                    "edge": bad.id,
                                    "projection": "conv_bn",
                                },
                            )
                        )
                        fixes.append(
                            Fix(
                                f'Insert a 1x1 conv + BN projection after "{graph.nodes[bad.src].name}"',
                                {
                                    "op": "insert_projection",
                                    "block": block,
                                    "edge": bad.id,
                                    "out_channels": target[0],
                                    "stride": stride,
                                },
                            )
                        )
                        message += " — insert a 1x1 projection"
                edge_id = bad.id
            pad = self.padding_fixes(graph, info, block, bad, ni.in_shapes[ref_port]) + self.padding_fixes(
                graph, info, block, ref, ni.in_shapes[port]
            )
            if pad:
                fixes[:0] = pad
                message += f" — {pad[0].label[0].lower()}{pad[0].label[1:]}"
            message += "."
        elif exc.code == "concat_mismatch" and exc.port is not None:
            bad, ref = by_port[exc.port], by_port[0]
            a, b = ni.in_shapes[exc.port], ni.in_shapes[0]
            why = (
                "one is a flat vector and the other an image"
                if len(a) != len(b)
                else "all but the channel size must match"
            )
            message = (
                f'{label}: input {exc.port + 1} (edge from "{graph.nodes[bad.src].name}") is {fmt(a)} but '
                f'input 1 (edge from "{graph.nodes[ref.src].name}") is {fmt(b)}; {why}'
            )
            pad = self.padding_fixes(graph, info, block, bad, b) + self.padding_fixes(
                graph, info, block, ref, a
            )
            if pad:
                fixes[:0] = pad
                message += f" — {pad[0].label[0].lower()}{pad[0].label[1:]}"
            message += "."
            edge_id = bad.id
        self.report("error", exc.code, message, block, node.id, edge_id, fixes)

    @staticmethod
    def padding_fixes(
        graph: Graph, info: GraphInfo, block: str | None, edge: Edge, want: Shape | None
    ) -> list[Fix]:
        """Walk up the branch that ends in ``edge`` to the first node that changes the spatial size; if it is a
        stride-1 convolution or pool with an odd window whose input already has the size the merge wants,
        offer the padding that keeps the size (the usual slip: padding 0 on a 3x3 in a residual branch)."""
        if want is None or len(want) != 3:
            return []
        node_id, steps = edge.src, 0
        while steps < 32:
            ni, node = info.nodes.get(node_id), graph.nodes.get(node_id)
            if ni is None or node is None or ni.out_shape is None or len(ni.out_shape) != 3:
                return []
            if not ni.in_shapes or ni.in_shapes[0] is None or len(ni.in_shapes[0]) != 3:
                return []
            in_hw, out_hw = ni.in_shapes[0][1:], ni.out_shape[1:]
            if in_hw != out_hw:
                p = ni.params
                k = p.get("kernel_size")
                if (
                    node.type in ("Conv2d", "MaxPool2d", "AvgPool2d")
                    and in_hw == want[1:]
                    and isinstance(k, int)
                    and k % 2 == 1
                    and p.get("stride") in (1,)
                ):
                    pad = p.get("dilation", 1) * (k - 1) // 2
                    limit = registry.get(node.type).spec("padding").max
                    if limit is not None and pad > limit:
                        return []
                    return [
                        Fix(
                            f'Set padding of "{node.name}" to {pad} (keeps the size)',
                            {
                                "op": "set_param",
                                "block": block,
                                "node": node.id,
                                "param": "padding",
                                "value": pad,
                            },
                        )
                    ]
                return []
            ins = [e for e in info.in_edges.get(node_id, []) if e.dst_port == 0 and e.src in graph.nodes]
            if not ins:
                return []
            node_id, steps = ins[0].src, steps + 1
        return []

    # ---- block instances ------------------------------------------------------
    def expand_block(self, node: Node, bdef: BlockDef, ni: NodeInfo, block: str | None, label: str) -> None:
        if bdef.name in self._stack or len(self._stack) >= MAX_BLOCK_DEPTH:
            chain = " -> ".join(self._stack + [bdef.name])
            self.report(
                "error",
                "recursive_block",
                f"{label}: block {bdef.name!r} contains itself ({chain}).",
                block,
                node.id,
            )
            ni.error = True
            return
        in_shape = ni.in_shapes[0]
        env = dict(bdef.defaults())
        env.update(ni.params)
        env["in_channels"] = in_shape[0]
        key = (bdef.name, in_shape, tuple(sorted((k, repr(v)) for k, v in env.items())))
        child = self._memo.get(key)
        if child is None:
            self._stack.append(bdef.name)
            self._instances.append((block, node))
            try:
                child = self.analyze_graph(bdef.graph, bdef.name, env, in_shape)
            finally:
                self._stack.pop()
                self._instances.pop()
            self._memo[key] = child
        self.block_infos.setdefault(bdef.name, child)
        self.expansions.append((block, node, bdef.name, child))
        ni.children = child
        ni.out_shape = child.output_shape
        ni.num_params = child.num_params
        ni.macs = child.macs
        if child.output_shape is None:
            ni.error = True
            if not any(d.block == bdef.name and d.is_error for d in self.diagnostics):
                self.report(
                    "error", "block_failed", f"{label}: its body produces no output shape.", block, node.id
                )


def in_edge_index(graph: Graph) -> dict[str, list[Edge]]:
    """Incoming edges of every node, each list sorted by dst_port (as Graph.in_edges), in one pass."""
    index: dict[str, list[Edge]] = {}
    for e in graph.edges.values():
        index.setdefault(e.dst, []).append(e)
    for edges in index.values():
        if len(edges) > 1:
            edges.sort(key=lambda e: e.dst_port if isinstance(e.dst_port, int) else 0)
    return index


def _find_stride(h: int, w: int, h2: int, w2: int) -> int | None:
    for s in range(1, max(h, 1) + 1):
        if (h - 1) // s + 1 == h2 and (w - 1) // s + 1 == w2:
            return s
    return None


def analyze(project: Project) -> Analysis:
    """Infer every shape and validate the whole project."""
    a = _Analyzer(project)
    root = a.analyze_graph(project.graph, None, None, None)
    # blocks with no instance still get their structure checked
    for name, bdef in project.blocks.items():
        if name not in a.block_infos:
            a.check_structure(bdef.graph, name)
    _check_reachability(project.graph, root, a)
    _check_nested_projections(project, a)
    return Analysis(project, root, a.diagnostics, a.block_infos)


def _check_nested_projections(project: Project, a: _Analyzer) -> None:
    """A block whose shortcut needs a projection in some instances only gets it per instance, as a
    constructor argument (torchvision's ``downsample=``). The code can pass that argument from the network,
    not from inside another block's body: such an instance is refused here, as the code generator would."""
    if all(holder is None for holder, _node, _name, _child in a.expansions):
        return  # no block instance inside another block
    applied: dict[tuple[str, str], set[str]] = {}
    for _holder, _node, name, child in a.expansions:
        for edge in project.blocks[name].graph.edges.values():
            if edge.is_shortcut:
                sc = child.shortcuts.get(edge.id)
                applied.setdefault((name, edge.id), set()).add(sc.applied if sc else "identity")
    for holder, node, name, child in a.expansions:
        if holder is None:
            continue
        for (bname, edge_id), kinds in applied.items():
            sc = child.shortcuts.get(edge_id)
            if bname != name or len(kinds) < 2 or sc is None or sc.applied == "identity":
                continue
            edge = project.blocks[name].graph.edges[edge_id]
            a.report(
                "error",
                "nested_projection",
                f'block:{name} "{node.name}": its shortcut "{edge.name or edge_id}" needs a '
                f"{PROJECTION_LABELS.get(sc.applied, sc.applied)} projection here but not in every instance; "
                "inside another block the code cannot pass it per instance. Use the projection "
                "1x1 conv + BN (always) or make the shapes meet.",
                holder,
                node.id,
                fixes=[
                    Fix(
                        "Set the shortcut's projection to 1x1 conv + BN (always)",
                        {
                            "op": "set_edge",
                            "block": name,
                            "edge": edge_id,
                            "field": "projection",
                            "value": "conv_bn_always",
                        },
                    )
                ],
            )


def _check_reachability(graph: Graph, info: GraphInfo, a: _Analyzer) -> None:
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
            a.report(
                "warning",
                "unused_node",
                f'{node.type} "{node.name}" does not lead to the Output; it is unused.',
                None,
                node.id,
            )


def is_identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def activation_bytes(analysis: Analysis, batch: int, bytes_per_element: int = 4) -> int:
    """Sum of every layer's output size for a batch (float32), a rough activation memory figure."""
    return (
        sum(
            prod(layer.out_shape)
            for layer in analysis.layers()
            if layer.out_shape is not None and layer.info is not None and layer.info.children is None
        )
        * batch
        * bytes_per_element
    )


def iter_graph_infos(info: GraphInfo) -> Iterator[GraphInfo]:
    yield info
    for ni in info.nodes.values():
        if ni.children is not None:
            yield from iter_graph_infos(ni.children)


__all__ = [
    "BLOCK_PREFIX",
    "Analysis",
    "GraphInfo",
    "Layer",
    "NodeInfo",
    "ShortcutInfo",
    "activation_bytes",
    "analyze",
    "check_value",
    "fmt",
    "module_path",
]
