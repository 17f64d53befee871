"""The plan of a generated module: frozen, fully typed data that the writer (codegen/writer.py) reads.

The planner (codegen/planner.py, codegen/class_planner.py, codegen/constructors.py) decides
everything about the module — which classes, their names and order, each class's units, attribute
names, symbolic values, constructor expressions, in-place safety, module paths — and returns a
:class:`ModulePlan`. The writer turns it into text without deciding anything; to change the text
of one emitted class, read the writer and this file.

Every dataclass here is ``frozen=True``; mappings are read-only (``MappingProxyType``), sequences
tuples, sets frozensets. A plan refers to the project's graphs and the analysis' GraphInfos it was
made from (read, never changed), as torch.fx's generated code refers to its Graph's nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codegen import pyformat as pf
from codegen.namespace import RESERVED
from codegen.symbolic import Sym
from codegen.values import Unexpressible, literal
from graph import registry
from graph.errors import UserError
from graph.model import BlockDef, Graph, Node, Stage
from graph.shapes import GraphInfo

IO_TYPES = ("Input", "Output", "BlockInput", "BlockOutput")
LOCAL_RESERVED = RESERVED | {"x", "out", "identity"}  # names a constructor or forward never gives a local


@dataclass(frozen=True)
class Unit:
    """One statement of ``forward``: one node, or a stage's nodes (one ``nn.Sequential``)."""

    nodes: tuple[str, ...]
    stage: Stage | None = None

    @property
    def first(self) -> str:
        return self.nodes[0]

    @property
    def last(self) -> str:
        return self.nodes[-1]


class ClassValues:
    """How a class's values are written; shared by the planner's draft and the frozen plan.

    Reads ``block``, ``argnames``, ``hoisted``, ``net_args``, ``infos``, ``graph``, ``rep`` and
    ``params``, which both declare."""

    block: BlockDef | None
    argnames: Mapping[str, str]
    hoisted: Mapping[tuple, str]
    net_args: Mapping[str, int]
    infos: tuple[GraphInfo, ...] | list[GraphInfo]
    graph: Graph
    params: Mapping[str, Mapping[str, Any]]

    @property
    def where(self) -> str:
        return "the network" if self.block is None else f'block "{self.block.name}"'

    @property
    def rep(self) -> GraphInfo:
        return self.infos[0]

    @property
    def output_id(self) -> str:
        kind = "Output" if self.block is None else "BlockOutput"
        return self.graph.nodes_of_type(kind)[0].id

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

    def is_functional(self, u: Unit) -> bool:
        """A unit written with the registry's functional form (merges, flatten, slices)."""
        node = self.graph.nodes[u.first]
        if u.stage is not None or node.block_name is not None:
            return False
        if node.type == "Add" and self.rep.nodes[node.id].params["weights"] == "learnable":
            return False
        return registry.get(node.type).module is None


@dataclass(frozen=True)
class PassedProjection:
    """A shortcut projection that a block instance in this class needs in some of this class's instances
    only: the class takes it as a constructor argument and passes it on to that instance's constructor
    (recursively: the instance may pass it on to one of its own)."""

    node: str  # the block instance (a node id of this class's graph) that takes it
    arg: str  # that instance's constructor argument it is passed as


@dataclass(frozen=True)
class ClassPlan(ClassValues):
    """Everything the text of one generated class (a block definition or the network) needs."""

    graph: Graph
    block: BlockDef | None
    infos: tuple[GraphInfo, ...]  # every instance's analysis; the first is the representative
    doc: str  # the class docstring
    init_params: tuple[str, ...]  # the constructor's parameters after ``self``
    argnames: Mapping[str, str]  # block parameter (and in_channels) -> constructor argument
    net_args: Mapping[str, int]  # the network's constructor arguments: num_classes, in_channels
    units: tuple[Unit, ...]  # forward's statements, in order
    staged: Mapping[str, Stage]  # node id -> its outermost stage
    params: Mapping[str, Mapping[str, Any]]  # node id -> parameters (ints as Syms)
    ch: Mapping[str, Sym]  # node id -> output channels
    block_in_ch: Mapping[str, Sym]  # block instance's node id -> its input channels
    axis: Mapping[str, int]  # node id -> where its channels are: 0, or 2 for channels last
    static: Mapping[str, str]  # shortcut edge id -> its projection, the same in every instance
    dynamic: Mapping[str, str]  # shortcut edge id -> constructor argument (a per-instance projection)
    passed: Mapping[str, PassedProjection]  # constructor argument -> the nested instance it goes to
    sc_attrs: Mapping[str, str]  # shortcut edge id -> attribute of its projection module
    forward_params: Mapping[str, str]  # block parameter -> the attribute forward reads it from
    stage_attrs: Mapping[str, str]  # stage name -> attribute
    node_attrs: Mapping[str, str]  # node id -> attribute (nodes that hold a module or a parameter)
    local_names: frozenset[str]  # the constructor's local names in use
    unit_of: Mapping[str, int]  # a unit's last node -> the unit's index
    last_use: Mapping[int, int]  # unit index -> index of the last unit that reads it
    unsafe_inplace: frozenset[str]  # nodes that must not run in place
    output_aliases_input: bool  # forward may return (a view of) its input
    hoisted: Mapping[tuple, str]  # repeated compound expression -> local name (torchvision's width)
    hoisted_lines: tuple[tuple[str, str], ...]  # (local name, expression source)
    assignments: tuple[tuple[str, pf.Expr], ...]  # ("self.conv1", its constructor expression)
    module_exprs: Mapping[str, pf.Expr]  # node id -> its module's constructor expression
    paths: Mapping[str, str]  # node id -> module path (state_dict prefix): layer1.0
    code_paths: Mapping[str, str]  # node id -> how code reaches it: layer1[0]
    freeze_targets: tuple[tuple[str, tuple[str, ...]], ...]  # frozen (attribute, node ids) with weights
    eval_attrs: tuple[str, ...]  # frozen attributes that hold BatchNorm statistics (kept in eval mode)
    dense_names: Mapping[str, str]  # a dense block's loop names (codegen/dense.py)

    def local_is_free(self, name: str) -> bool:
        return name not in self.local_names and name not in LOCAL_RESERVED


@dataclass(frozen=True)
class DenseChain:
    """The structure of one dense block definition (codegen/dense.py)."""

    layers: tuple[str, ...]  # the layer instances' node ids, in order
    concats: tuple[str, ...]
    inner: str  # the layers' block definition
    prefix: str  # attribute names: prefix + str(start + i)
    start: int

    @property
    def num_layers(self) -> int:
        return len(self.layers)


@dataclass(frozen=True)
class DenseGroup:
    """One ``nn.ModuleDict`` class shared by dense block definitions that differ only in their count."""

    name: str
    doc: str
    params: tuple[str, ...]  # the constructor's parameters after ``self``
    call: pf.Call  # the layer call, its input channels an expression of the loop index
    chain: DenseChain  # the first member's chain (prefix, start)
    names: Mapping[str, str]  # the loop's local names: i, layer, num_layers


@dataclass(frozen=True)
class Merge:
    """How definition ``variant`` is written as definition ``base``'s class (codegen/variants.py)."""

    variant: str
    base: str
    nodes: tuple[str, ...]  # S: the variant's extra nodes (ids in its graph), in order
    staged: bool  # S is an index-keyed stage (an nn.Sequential), else a single node
    attr: str  # the attribute (and constructor argument) S is stored in
    init_at: int  # where ``self.<attr> = <attr>`` goes among the base's constructor statements
    forward_at: int  # where the guarded application goes among the base's forward lines
    var: str  # the variable S transforms in forward
    base_forward: tuple[str, ...]  # the base's forward lines (written once, to compare and to reuse)


@dataclass(frozen=True)
class BlockClass:
    """A block definition's class."""

    plan: ClassPlan
    name: str


@dataclass(frozen=True)
class VariantBaseClass:
    """A base definition's class that also serves a variant, with its optional module."""

    plan: ClassPlan
    name: str
    merge: Merge


@dataclass(frozen=True)
class DenseClass:
    group: DenseGroup


ClassEntry = BlockClass | VariantBaseClass | DenseClass


@dataclass(frozen=True)
class ModulePlan:
    """The whole generated module."""

    title: str  # the module docstring's title
    helpers: tuple[str, ...]  # helper classes used, in codegen/helpers.py's order
    classes: tuple[ClassEntry, ...]  # block classes, inner first, each once
    network: ClassPlan
    network_name: str
    class_names: Mapping[str, str]  # block definition -> class name (shared by dense groups and variants)
    blocks: Mapping[str, ClassPlan]  # block definition -> its plan
    init_blocks: tuple[ClassPlan, ...]  # the block plans the network's weight initialisation visits
