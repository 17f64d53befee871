"""What the emitter knows about one generated class (a block definition or the network).

:class:`ClassInfo` holds the class's graph, every instance's GraphInfo, its
namespaces, and the symbolic values of its nodes: each parameter and each
channel count as a :class:`codegen.symbolic.Sym`, an expression over the
class's constructor arguments checked against every instance. ``literal``
writes a checked value as Python source.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from codegen import layer_codegen
from codegen import pyformat as pf
from codegen.namespace import RESERVED, Namespace, attribute_namespace
from codegen.symbolic import Sym, evaluate, render, substitute
from graph import expr, registry
from graph.errors import UserError
from graph.model import BlockDef, Edge, Graph, Node, Stage
from graph.params import ParamSpec
from graph.shapes import GraphInfo
from graph.stage_tree import StageTree

if TYPE_CHECKING:
    from codegen.emitter import Emitter

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def same_value(a: Any, b: Any) -> bool:
    """``a`` (a value, or a constant Sym) equals the default ``b`` (True is not 1 here)."""
    if isinstance(a, Sym):
        if not a.is_const:
            return False
        a = a.value
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if a is None or b is None:
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


class Unexpressible(Exception):
    pass


def literal(value: Any, name=lambda n: n) -> pf.Expr:
    """Python source for a checked parameter value (never raw user text)."""
    if isinstance(value, Sym):
        if value.ast is None:
            raise Unexpressible(value.value)
        return render(value.ast, name)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UserError(f"cannot write the number {value!r} into code", exit_code=1)
        return repr(value)
    if isinstance(value, str):
        if not _WORD.fullmatch(value):
            raise UserError(f"unexpected text value {value!r} in a layer parameter", exit_code=1)
        return f'"{value}"'
    if isinstance(value, tuple):
        return pf.Seq("(", tuple(literal(v, name) for v in value))
    if isinstance(value, list):
        return pf.Seq("[", tuple(literal(v, name) for v in value))
    raise UserError(f"cannot write a value of type {type(value).__name__} into code", exit_code=1)


def numeric(value: Any, env: dict) -> Any:
    """A symbolic spec value evaluated in one instance's environment."""
    if isinstance(value, Sym):
        return evaluate(value.ast, env) if value.ast is not None else value.value
    if isinstance(value, (list, tuple)):
        return type(value)(numeric(v, env) for v in value)
    return value


class Rendered:
    """A parameter as the registry's ``forward`` templates format it: its source text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __format__(self, spec: str) -> str:
        return self.text

    __str__ = __repr__ = lambda self: self.text


# ---------------------------------------------------------------------------- one class
@dataclass
class Unit:
    nodes: list[str]  # one node, or a stage's nodes
    stage: Stage | None = None

    @property
    def first(self) -> str:
        return self.nodes[0]

    @property
    def last(self) -> str:
        return self.nodes[-1]


class ClassInfo:
    """The plan of one generated class (a block definition or the network).

    The emitter's planning phase (codegen/emitter.py) fills it in, in this order: structure (units,
    stages, reach, attribute names of nodes and stages), symbolic values (params, ch), shortcuts,
    the names forward reads, in-place safety (codegen/forward.py), constructor expressions and module
    paths; then :meth:`freeze` makes it read-only, and the text phase only reads it. Every field is
    declared here.
    """

    def __init__(self, em: Emitter, graph: Graph, block: BlockDef | None, infos: list[GraphInfo]) -> None:
        self.em = em
        self.graph = graph
        self.block = block
        self.infos = infos
        self.rep = infos[0]
        self.attrs = attribute_namespace()
        self.locals = Namespace(RESERVED | {"x", "out", "identity"})
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
        # node id -> where the channels are in its output: 0, or 2 for channels last (after a Permute)
        self.axis: dict[str, int] = {}
        # shortcuts
        self.dynamic: dict[
            str, str
        ] = {}  # shortcut edge id -> constructor argument (per-instance projection)
        self.static: dict[str, str] = {}  # shortcut edge id -> applied projection, the same in every instance
        self.sc_attrs: dict[str, str] = {}  # shortcut edge id -> attribute of its projection module
        self.forward_params: dict[str, str] = {}  # block parameter -> attribute, for forward
        # in-place safety (codegen/forward.py)
        self.unit_of: dict[str, int] = {}  # a unit's last node -> the unit's index
        self.last_use: dict[int, int] = {}  # unit index -> index of the last unit that reads it
        self.unsafe_inplace: set[str] = set()  # nodes that must not run in place
        self.output_aliases_input = False  # forward may return (a view of) its input
        # constructor
        self.hoisted: dict[
            tuple, str
        ] = {}  # repeated compound expression -> local name (torchvision's width)
        self.hoisted_lines: list[tuple[str, str]] = []  # (local name, expression source)
        self.assignments: list[tuple[str, pf.Expr]] = []  # ("self.conv1", its constructor expression)
        self.paths: dict[str, str] = {}  # node id -> module path (state_dict prefix): layer1.0
        self.code_paths: dict[str, str] = {}  # node id -> how code reaches it: layer1[0]
        self.dense_names: dict[str, str] = {}  # a dense block's loop names (codegen/dense.py)
        self._frozen = False

    def freeze(self) -> ClassInfo:
        """Make the plan read-only (dicts become mappings, lists tuples, sets frozensets)."""
        for key, value in list(vars(self).items()):
            if key in ("em", "graph", "block", "infos", "rep", "attrs", "locals", "_frozen"):
                continue
            if isinstance(value, dict):
                value = MappingProxyType(value)
            elif isinstance(value, list):
                value = tuple(value)
            elif isinstance(value, set):
                value = frozenset(value)
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_frozen", True)
        return self

    def __setattr__(self, key: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(f"the plan of {self.where} is frozen; {key} cannot change")
        object.__setattr__(self, key, value)

    @property
    def where(self) -> str:
        return "the network" if self.block is None else f'block "{self.block.name}"'

    def name_of(self, raw: str) -> str:
        return self.argnames[raw]

    def lit(self, value: Any, node: Node | None = None, what: str = "") -> pf.Expr:
        if isinstance(value, Sym) and value.ast in self.hoisted:
            return self.hoisted[value.ast]
        try:
            return literal(value, self.name_of)
        except Unexpressible:
            label = f'node "{node.name}"' if node is not None else "a node"
            raise UserError(
                f"{self.where}: {what or 'a size'} of {label} differs between the block's instances "
                "and follows from no block parameter, so one class cannot describe them all; "
                "make it a block parameter",
                exit_code=1,
            ) from None

    def envs(self) -> list[dict]:
        return [dict(info.env or {}, **self.net_args) for info in self.infos]

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

    def node_shape(self, node_id: str) -> tuple[Sym, ...]:
        shapes = [info.nodes[node_id].out_shape for info in self.infos]
        return self._with_channels(shapes, self.ch[node_id], self.axis.get(node_id, 0))

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
            inner = self.em.classes[node.block_name]
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

    @property
    def output_id(self) -> str:
        kind = "Output" if self.block is None else "BlockOutput"
        return self.graph.nodes_of_type(kind)[0].id
