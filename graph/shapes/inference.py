"""Shape inference: every node's output shape, parameter and MAC counts, and each shortcut's projection.

``analyze(project)`` runs the structure checks of every graph, walks the network in topological order,
expands every block instance (memoised per block, input shape and parameter values) and returns an
``Analysis`` with the diagnostics.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from graph import registry
from graph.diagnostics import Fix
from graph.fixes import RemoveEdgeFix, SetEdgeFix, SetParamFix
from graph.model import BlockDef, Edge, Graph, Node, Project
from graph.params import ParamError, ParamSpec, check_value, resolve
from graph.registry import ShapeError
from graph.shapes.repairs import projection_fixes, shape_error_diagnostic, subsample_stride
from graph.shapes.results import PROJECTION_LABELS, Analysis, GraphInfo, NodeInfo, Shape, ShortcutInfo, fmt
from graph.shapes.structure import Reporter, check_reachability, check_structure, in_edge_index, topo_order

MAX_BLOCK_DEPTH = 16


@dataclass(frozen=True)
class _NodeCheck:
    """What the checks of one node share: where it is, how it is labelled in messages, its layer type
    (None for a block instance), resolved parameters (None when one is bad), the suggested input count of
    a merge, and how many inputs it takes."""

    graph: Graph
    node: Node
    info: GraphInfo
    block: str | None
    label: str
    lt: registry.LayerType | None
    params: dict[str, Any] | None
    suggest: dict[str, Any] | None
    n_inputs: int


def _count_suggestion(lt: registry.LayerType | None, in_edges: list[Edge]) -> dict[str, Any] | None:
    """For a merge: its count parameter set to fit the edges that arrive (None when it cannot)."""
    if lt is None or not isinstance(lt.inputs, str):
        return None
    ports = [
        e.dst_port
        for e in in_edges
        if isinstance(e.dst_port, int) and not isinstance(e.dst_port, bool) and e.dst_port >= 0
    ]
    count_spec = lt.spec(lt.inputs)
    wanted = max(max(ports, default=0) + 1, int(count_spec.min or 1))
    if ports and (count_spec.max is None or wanted <= count_spec.max):
        return {lt.inputs: wanted}
    return None


class _Analyzer(Reporter):
    """Walks one project: the structure checks of every graph, then each node's shape in topological order,
    block instances expanded (memoised per block, input shape and parameter values)."""

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project
        self._memo: dict[tuple, GraphInfo] = {}
        self.block_infos: dict[str, GraphInfo] = {}
        self._stack: list[str] = []
        self._instances: list[
            tuple[str | None, Node]
        ] = []  # the block instances being expanded, outermost first
        self._dangling = False  # an edge names a node that does not exist (only a corrupted model has one)

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
                            SetParamFix(block=block, node=node.id, param=spec.name, value=spec.default),
                        )
                    ]
                )
                if suggest and spec.name in suggest and suggest[spec.name] != spec.default:
                    fixes.insert(
                        0,
                        Fix(
                            f"Set {spec.name} to {suggest[spec.name]!r}",
                            SetParamFix(block=block, node=node.id, param=spec.name, value=suggest[spec.name]),
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
                                    SetParamFix(block=holder, node=inst.id, param=name, value=default),
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
                                SetParamFix(block=block, node=node.id, param=spec.name, value=fixed),
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
                            SetParamFix(block=block, node=node.id, param=key, value=None),
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
    ) -> tuple[Shape, ShortcutInfo, bool]:
        """The shape a shortcut delivers to its merge, what it applies, and whether it failed (reported)."""
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
                        SetEdgeFix(block=block, edge=edge.id, field="projection", value="identity"),
                    )
                ],
            )
            proj = "identity"
        ident = ShortcutInfo(edge.id, "identity", src_shape, src_shape)
        if target is None or proj == "identity" or (src_shape == target and proj != "conv_bn_always"):
            return src_shape, ident, False
        src_name = graph.nodes[edge.src].name
        if len(src_shape) != 3 or len(target) != 3:
            self.report(
                "error",
                "shortcut_mismatch",
                f'{dst_label}: the shortcut from "{src_name}" carries {fmt(src_shape)} '
                f"and cannot be projected to {fmt(target)}.",
                block,
                edge.dst,
                edge.id,
            )
            return src_shape, ident, True
        c, h, w = src_shape
        c2, h2, w2 = target
        stride = subsample_stride(src_shape, target)
        if proj in ("zero_pad", "zero_pad_both"):
            if stride is None or c2 < c:
                why = (
                    f"it can only add channels, not remove them ({c} to {c2})"
                    if c2 < c
                    else f"{h}x{w} cannot be subsampled to {h2}x{w2}"
                )
                self.report(
                    "error",
                    "shortcut_mismatch",
                    f'{dst_label}: {PROJECTION_LABELS[proj]} shortcut from "{src_name}" cannot turn '
                    f"{fmt(src_shape)} into {fmt(target)}: {why}.",
                    block,
                    edge.dst,
                    edge.id,
                    projection_fixes(edge, block, src_shape, target, exclude="zero_pad"),
                )
                return src_shape, ident, True
            return target, ShortcutInfo(edge.id, proj, src_shape, target, stride), False
        if stride is None:
            self.report(
                "error",
                "shortcut_mismatch",
                f'{dst_label}: no 1x1 convolution stride turns {h}x{w} from "{src_name}" into {h2}x{w2}.',
                block,
                edge.dst,
                edge.id,
            )
            return src_shape, ident, True
        params = c * c2 + 2 * c2
        macs = c * c2 * h2 * w2 + 2 * c2 * h2 * w2
        return target, ShortcutInfo(edge.id, "conv_bn", src_shape, target, stride, params, macs), False

    def analyze_graph(
        self, graph: Graph, block: str | None, env: dict | None, input_shape: Shape | None
    ) -> GraphInfo:
        self._dangling = check_structure(self, graph, block) or self._dangling
        info = GraphInfo(
            graph,
            block,
            topo_order(self, graph, block),
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
        """One node: its type or block, parameters, inputs port by port, then its output shape."""
        label = f'{node.type} "{node.name}"'
        kind = self._node_kind(node, block, label)
        if kind is None:
            return NodeInfo(node, {}, [], error=True)
        lt, bdef, specs = kind
        in_edges = info.in_edges.get(node.id, [])
        if self._dangling:
            in_edges = [e for e in in_edges if e.src in graph.nodes]  # dangling edges were reported
        suggest = _count_suggestion(lt, in_edges)
        params = self.resolve_params(node, specs, env, block, label, suggest)
        n_inputs = lt.num_inputs(params or {}) if lt is not None else 1
        c = _NodeCheck(graph, node, info, block, label, lt, params, suggest, n_inputs)
        by_port = self._ports(c, in_edges)
        ni = NodeInfo(node, params or {}, [None] * n_inputs)
        missing = [p for p in range(n_inputs) if p not in by_port]
        if missing:
            self._report_missing(c, missing)
            ni.error = True
            return ni
        if params is None:
            ni.error = True
            return ni
        shortcut_failed = self._input_shapes(c, by_port, ni)
        if node.type == "BlockInput":
            ni.out_shape = input_shape
            return ni
        if any(s is None for s in ni.in_shapes):
            return ni  # an upstream error was already reported
        if shortcut_failed:
            ni.error = True  # reported once, as the shortcut's problem, not again as a merge mismatch
            return ni
        if bdef is not None:
            self.expand_block(node, bdef, ni, block, label)
            return ni
        self._output_shape(c, by_port, ni)
        return ni

    def _node_kind(
        self, node: Node, block: str | None, label: str
    ) -> tuple[registry.LayerType | None, BlockDef | None, tuple[ParamSpec, ...]] | None:
        """(layer type, block definition, parameter specs) of a node; None (reported) when neither exists."""
        bname = node.block_name
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
                return None
            specs = tuple(
                ParamSpec(k, p.type if p.type in ("int", "float", "bool") else "int", p.default)
                for k, p in bdef.params.items()
            )
            return None, bdef, specs
        lt = registry.get(node.type)
        if lt is None:
            self.report(
                "error",
                "unknown_type",
                f'Node "{node.name}" has unknown type "{node.type}".',
                block,
                node.id,
            )
            return None
        return lt, None, lt.params

    def _ports(self, c: _NodeCheck, in_edges: list[Edge]) -> dict[int, Edge]:
        """The incoming edges by input port; edges at a port the node lacks, or at a taken port, reported."""
        by_port: dict[int, Edge] = {}
        for e in in_edges:
            if not isinstance(e.dst_port, int) or e.dst_port >= c.n_inputs or e.dst_port < 0:
                self._report_extra_input(c, e)
            elif e.dst_port in by_port:
                self.report(
                    "error",
                    "duplicate_input",
                    f"{c.label}: input {e.dst_port + 1} has two incoming edges.",
                    c.block,
                    c.node.id,
                    e.id,
                    [Fix("Remove the second edge", RemoveEdgeFix(block=c.block, edge=e.id))],
                )
            else:
                by_port[e.dst_port] = e
        return by_port

    def _report_extra_input(self, c: _NodeCheck, e: Edge) -> None:
        port_text = (
            f"input {e.dst_port + 1}"
            if isinstance(e.dst_port, int) and e.dst_port >= 0
            else f"an invalid port {e.dst_port!r}"
        )
        src = c.graph.nodes[e.src].name
        fixes = [Fix("Remove the edge", RemoveEdgeFix(block=c.block, edge=e.id))]
        if c.suggest is not None and c.params is not None and isinstance(e.dst_port, int) and e.dst_port >= 0:
            lt = c.lt
            fixes.insert(
                0,
                Fix(
                    f"Set {lt.inputs} to {c.suggest[lt.inputs]}",
                    SetParamFix(block=c.block, node=c.node.id, param=lt.inputs, value=c.suggest[lt.inputs]),
                ),
            )
        self.report(
            "error",
            "extra_input",
            f'{c.label} has {c.n_inputs} input(s) but the edge from "{src}" arrives at {port_text}.',
            c.block,
            c.node.id,
            e.id,
            fixes,
        )

    def _report_missing(self, c: _NodeCheck, missing: list[int]) -> None:
        ports_text = ", ".join(str(p + 1) for p in missing)
        fixes = []
        connected = c.n_inputs - len(missing)
        lt = c.lt
        if (
            lt is not None
            and isinstance(lt.inputs, str)
            and c.params is not None
            and min(missing) == connected
            and connected >= (lt.spec(lt.inputs).min or 1)
        ):
            fixes.append(
                Fix(
                    f"Set {lt.inputs} to {connected}",
                    SetParamFix(block=c.block, node=c.node.id, param=lt.inputs, value=connected),
                )
            )
        self.report(
            "error",
            "unconnected_input",
            f"{c.label}: input {ports_text} is not connected."
            if c.n_inputs > 1
            else f"{c.label} has no input connected.",
            c.block,
            c.node.id,
            fixes=fixes,
        )

    def _input_shapes(self, c: _NodeCheck, by_port: dict[int, Edge], ni: NodeInfo) -> bool:
        """Each input's shape into ``ni.in_shapes`` (data inputs first, so shortcuts know the shape they must
        meet); True when a shortcut's projection failed (reported)."""
        info, lt = c.info, c.lt
        shapes: dict[int, Shape | None] = {}
        for port, e in by_port.items():
            if not e.is_shortcut:
                shapes[port] = self.src_shape(info, e)
        main = next((s for p, s in sorted(shapes.items()) if s is not None), None)
        shortcut_failed = False
        for port, e in by_port.items():
            if e.is_shortcut:
                src = self.src_shape(info, e)
                if src is None:
                    shapes[port] = None
                    continue
                target = main if (lt is not None and lt.is_merge) else None
                if lt is not None and lt.shortcut_meets is not None:
                    target = shapes.get(lt.shortcut_meets)
                if lt is None or not lt.is_merge:
                    self._report_shortcut_end(c, e)
                out, sc, failed = self.project_shortcut(e, src, target, c.graph, c.block, c.label)
                shortcut_failed |= failed
                info.shortcuts[e.id] = sc
                shapes[port] = out
        for port, e in by_port.items():
            if shapes[port] is not None:
                info.edge_shapes[e.id] = shapes[port]
        ni.in_shapes = [shapes[p] for p in range(c.n_inputs)]
        return shortcut_failed

    def _report_shortcut_end(self, c: _NodeCheck, e: Edge) -> None:
        plain = e.projection == "identity"
        self.report(
            "warning" if plain else "error",
            "shortcut_target",
            f'{c.label}: the shortcut from "{c.graph.nodes[e.src].name}" ends here, but a shortcut '
            "must end at a merge (Add, Concat, Multiply or Gate)"
            + (
                "; it acts as a plain edge."
                if plain
                else f"; its {PROJECTION_LABELS.get(e.projection, e.projection)} projection would be ignored."
            ),
            c.block,
            c.node.id,
            e.id,
            [
                Fix(
                    "Make it a plain edge",
                    SetEdgeFix(block=c.block, edge=e.id, field="kind", value="data"),
                )
            ],
        )

    def _output_shape(self, c: _NodeCheck, by_port: dict[int, Edge], ni: NodeInfo) -> None:
        """A layer's output shape, parameter and MAC counts into ``ni``; a shape error reported."""
        lt, params, node, block, label = c.lt, c.params, c.node, c.block, c.label
        try:
            ni.out_shape = tuple(lt.shape(params, ni.in_shapes))
        except ShapeError as exc:
            ni.error = True
            message, edge_id, fixes = shape_error_diagnostic(
                exc, c.graph, node, by_port, ni, block, label, c.info
            )
            self.report("error", exc.code, message, block, node.id, edge_id, fixes)
            return
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

    @staticmethod
    def src_shape(info: GraphInfo, e: Edge) -> Shape | None:
        src = info.nodes.get(e.src)
        return None if src is None else src.out_shape

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


def analyze(project: Project) -> Analysis:
    """Infer every shape and validate the whole project."""
    a = _Analyzer(project)
    root = a.analyze_graph(project.graph, None, None, None)
    # blocks with no instance still get their structure checked
    for name, bdef in project.blocks.items():
        if name not in a.block_infos:
            check_structure(a, bdef.graph, name)
    check_reachability(a, project.graph, root)
    return Analysis(project, root, a.diagnostics, a.block_infos)
