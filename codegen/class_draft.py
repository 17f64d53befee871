"""The planner's working copy of one generated class (a block definition or the network).

:class:`ClassDraft` holds the class's graph, every instance's GraphInfo, its
namespaces, and the symbolic values of its nodes: each parameter and each
channel count as a :class:`codegen.symbolic.Sym`, an expression over the
class's constructor arguments checked against every instance. The planner
(codegen/class_planner.py) fills it in, then :meth:`ClassDraft.freeze` turns
it into the frozen :class:`codegen.plan.ClassPlan` the writer reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from codegen import layer_codegen
from codegen import pyformat as pf
from codegen.namespace import Namespace, attribute_namespace
from codegen.plan import LOCAL_RESERVED, ClassPlan, ClassValues, PassedProjection, Unit
from codegen.symbolic import Sym, substitute
from graph import expr, registry
from graph.model import BlockDef, Edge, Graph, Node, Stage
from graph.params import ParamSpec
from graph.shapes import GraphInfo
from graph.stage_tree import StageTree


class ClassDraft(ClassValues):
    """What the planner knows so far about one class; every field is declared here.

    Filled in this order: structure (units, stages, reach, attribute names of nodes and stages),
    symbolic values (params, ch), shortcuts, the names forward reads, in-place safety, constructor
    expressions and module paths. ``inner`` holds the frozen plans of the block classes planned
    before it (inner blocks first), for the channel counts of block instances.
    """

    def __init__(
        self, graph: Graph, block: BlockDef | None, infos: list[GraphInfo], inner: Mapping[str, ClassPlan]
    ) -> None:
        self.graph = graph
        self.block = block
        self.infos = infos
        self.inner = inner
        self.attrs = attribute_namespace()
        self.locals = Namespace(LOCAL_RESERVED)
        self.argnames: dict[str, str] = {}  # block parameter (and in_channels) -> constructor argument
        self.net_args: dict[str, int] = {}  # the network's constructor arguments: num_classes, in_channels
        if block is not None:
            self.locals.reserve("in_channels")
            self.argnames["in_channels"] = "in_channels"
            for pname in block.params:
                self.argnames[pname] = self.locals.create(pname, key=("param", pname), fallback="param")
        # structure
        self.reach: set[str] = set()  # nodes that lead to the output
        self.staged: dict[str, Stage] = {}  # node id -> its outermost stage
        self.stage_tree: StageTree = StageTree()  # nested stages: members, parents
        self.containers: dict[str, dict] = {}  # nodes named by a module path: top name -> key tree
        self.container_of: dict[str, str] = {}  # node id -> its container's top name
        self.units: list[Unit] = []  # forward's statements: one node, or one stage
        # symbolic values
        self.params: dict[str, dict[str, Any]] = {}  # node id -> parameters (ints as Syms)
        self.ch: dict[str, Sym] = {}  # node id -> output channels
        self.block_in_ch: dict[str, Sym] = {}  # block instance's node id -> its input channels
        # node id -> where the channels are in its output: 0, or 2 for channels last (after a Permute)
        self.axis: dict[str, int] = {}
        # shortcuts
        self.dynamic: dict[str, str] = {}  # shortcut edge id -> constructor argument (per instance)
        # constructor argument -> the nested block instance it is passed to (a per-instance projection there)
        self.passed: dict[str, PassedProjection] = {}
        self.static: dict[str, str] = {}  # shortcut edge id -> applied projection, the same everywhere
        self.sc_attrs: dict[str, str] = {}  # shortcut edge id -> attribute of its projection module
        self.forward_params: dict[str, str] = {}  # block parameter -> attribute, for forward
        # in-place safety
        self.unit_of: dict[str, int] = {}  # a unit's last node -> the unit's index
        self.last_use: dict[int, int] = {}  # unit index -> index of the last unit that reads it
        self.unsafe_inplace: set[str] = set()  # nodes that must not run in place
        self.output_aliases_input = False  # forward may return (a view of) its input
        # constructor
        self.hoisted: dict[tuple, str] = {}  # repeated compound expression -> local name (width)
        self.hoisted_lines: list[tuple[str, str]] = []  # (local name, expression source)
        self.assignments: list[tuple[str, pf.Expr]] = []  # ("self.conv1", its constructor expression)
        self.module_exprs: dict[str, pf.Expr] = {}  # node id -> its module's constructor expression
        self.paths: dict[str, str] = {}  # node id -> module path (state_dict prefix): layer1.0
        self.code_paths: dict[str, str] = {}  # node id -> how code reaches it: layer1[0]
        self.dense_names: dict[str, str] = {}  # a dense block's loop names (codegen/dense.py)

    def freeze(
        self,
        doc: str,
        init_params: list[str],
        freeze_targets: list[tuple[str, list[str]]],
        eval_attrs: list[str],
    ) -> ClassPlan:
        """The frozen plan: read-only mappings, tuples and frozensets."""

        def ro(d: dict) -> Mapping:
            return MappingProxyType(dict(d))

        named = self.attrs.named()
        return ClassPlan(
            graph=self.graph,
            block=self.block,
            infos=tuple(self.infos),
            doc=doc,
            init_params=tuple(init_params),
            argnames=ro(self.argnames),
            net_args=ro(self.net_args),
            units=tuple(self.units),
            staged=ro(self.staged),
            params=ro({k: ro(v) for k, v in self.params.items()}),
            ch=ro(self.ch),
            block_in_ch=ro(self.block_in_ch),
            axis=ro(self.axis),
            static=ro(self.static),
            dynamic=ro(self.dynamic),
            passed=ro(self.passed),
            sc_attrs=ro(self.sc_attrs),
            forward_params=ro(self.forward_params),
            stage_attrs=ro({k[1]: v for k, v in named.items() if isinstance(k, tuple) and k[0] == "stage"}),
            node_attrs=ro({k: v for k, v in named.items() if isinstance(k, str)}),
            local_names=self.locals.taken(),
            unit_of=ro(self.unit_of),
            last_use=ro(self.last_use),
            unsafe_inplace=frozenset(self.unsafe_inplace),
            output_aliases_input=self.output_aliases_input,
            hoisted=ro(self.hoisted),
            hoisted_lines=tuple(self.hoisted_lines),
            assignments=tuple(self.assignments),
            module_exprs=ro(self.module_exprs),
            paths=ro(self.paths),
            code_paths=ro(self.code_paths),
            freeze_targets=tuple((attr, tuple(nids)) for attr, nids in freeze_targets),
            eval_attrs=tuple(eval_attrs),
            dense_names=ro(self.dense_names),
        )

    # ---- symbolic values ------------------------------------------------------
    def dim(self, values: list[int]) -> Sym:
        return Sym.const(values[0]) if len(set(values)) == 1 else Sym(None, values[0])

    def sym_params(self, node: Node, specs: tuple[ParamSpec, ...]) -> dict[str, Any]:
        ni = self.rep.nodes[node.id]
        out: dict[str, Any] = {}
        for spec in specs:
            raw = node.params.get(spec.name, spec.default)
            value = ni.params[spec.name]
            if (
                self.block is not None
                and isinstance(raw, str)
                and (spec.accepts_expression or (spec.type == "float" and raw.isidentifier()))
                and raw not in ("same", "valid")
            ):  # a float parameter may name a float block parameter (graph/params.py resolve)
                out[spec.name] = Sym(expr.parse(raw).ast, value)
            elif isinstance(value, int) and not isinstance(value, bool):
                out[spec.name] = Sym.const(value)
            else:
                out[spec.name] = value
        return out

    def _with_channels(self, shapes: list[tuple], ch: Sym, axis: int) -> tuple[Sym, ...]:
        """A shape whose channel axis (``axis``) is the symbolic ``ch``, the others as every instance has
        them (a constant where they agree)."""
        return tuple(ch if i == axis else self.dim([s[i] for s in shapes]) for i in range(len(shapes[0])))

    def edge_shape(self, node: Node, e: Edge, main: Edge | None) -> tuple[Sym, ...]:
        shapes = [info.edge_shapes[e.id] for info in self.infos]
        src_ch = self.ch[e.src]
        lt = registry.get(node.type)
        if e.is_shortcut and main is not None and lt is not None and lt.is_merge:
            # a shortcut meets the main input's shape, projected where needed; into a Concat an identity
            # shortcut keeps its own channels (torch.cat adds them up), as shape inference has it
            applied = {info.shortcuts[e.id].applied for info in self.infos if e.id in info.shortcuts}
            if not (node.type == "Concat" and applied == {"identity"}):
                src_ch = self.ch[main.src]
        return self._with_channels(shapes, src_ch, self.axis.get(e.src, 0))

    def in_shapes(self, node: Node) -> list[tuple[Sym, ...]]:
        edges = self.graph.in_edges(node.id)
        main = next((e for e in edges if not e.is_shortcut), None)
        return [self.edge_shape(node, e, main) for e in edges]

    def channel_rule(self, node: Node, params: dict, ins: list[tuple[Sym, ...]]) -> Sym:
        ni = self.rep.nodes[node.id]
        if node.block_name is not None:
            inner = self.inner[node.block_name]
            out_ast = inner.ch[inner.output_id].ast
            if out_ast is None or ins[0][0].ast is None:
                return Sym(None, ni.out_shape[0])
            env = {"in_channels": ins[0][0].ast}
            for k, v in params.items():
                if isinstance(v, Sym) and v.ast is not None:
                    env[k] = v.ast
            return Sym(substitute(out_ast, env), ni.out_shape[0])
        axis = self.axis.get(self.graph.in_edges(node.id)[0].src, 0) if ins else 0
        entry = layer_codegen.get(node.type)
        self.axis[node.id] = entry.out_axis(params, axis, len(ni.out_shape))
        return entry.out_channels(params, ins, ni.out_shape[self.axis[node.id]], axis)
