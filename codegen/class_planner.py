"""The plan of one generated class: units and stages, symbolic values, shortcuts, every attribute
name, in-place safety, the constructor (codegen/constructors.py); returned frozen as a
:class:`codegen.plan.ClassPlan`.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable

from codegen import dense, layer_codegen
from codegen.class_draft import ClassDraft
from codegen.constructors import (
    has_module,
    is_module,
    node_attr,
    plan_modules,
    sc_attr,
    stage_attr,
    static_projection,
)
from codegen.plan import IO_TYPES, ClassPlan, Unit
from codegen.plan_state import PlanningState
from codegen.symbolic import Sym, evaluate
from codegen.values import doc_text, literal
from graph import registry
from graph.errors import UserError
from graph.model import Graph, Node, Stage
from graph.params import ParamSpec
from graph.stage_tree import stage_tree

_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+")  # convs.0, tree1.tree1.conv1


def plan_class(st: PlanningState, cls: ClassDraft) -> ClassPlan:
    """Everything about one class that its text needs, decided before any text; returned frozen."""
    plan_units(st, cls)  # units, stages, reach; attribute names of nodes and stages
    compute_channels(st, cls)  # parameters and channel counts as expressions
    plan_shortcuts(st, cls)  # projections built inside the class or passed in
    for kind, key in forward_names(cls):  # attributes forward reads, in its order
        if kind == "shortcut":
            sc_attr(cls, cls.graph.edges[key])
        elif key not in cls.forward_params:
            cls.forward_params[key] = cls.attrs.create(key, key=("param", key), fallback="param")
    plan_inplace(cls, st.classes)  # where in-place operations are safe
    plan_modules(st, cls)  # constructor expressions, hoisted locals, module paths
    if cls.block is not None and dense.find_chain(cls.block) is not None:
        cls.dense_names = {k: cls.locals.create(k) for k in ("i", "layer", "num_layers")}
    targets = freeze_targets(cls)
    eval_attrs = [attr for attr, nids in targets if any(has_batchnorm(st, cls, n) for n in nids)]
    return cls.freeze(class_doc(st, cls), init_params(cls), targets, eval_attrs)


# ---------------------------------------------------------------------------- units and stages
def plan_units(st: PlanningState, cls: ClassDraft) -> None:
    graph, rep = cls.graph, cls.rep
    reach = _reachable(graph, cls.output_id)
    cls.reach = reach
    for stage in graph.stages:
        check_stage(cls, stage)
    cls.stage_tree = stage_tree(graph.stages)
    staged: dict[str, Stage] = dict(cls.stage_tree.outermost)  # node id -> its outermost stage
    cls.staged = staged
    units: list[Unit] = []
    for nid in rep.order:
        if nid not in reach:
            continue
        stage = staged.get(nid)
        if stage is None:
            units.append(Unit((nid,)))
        elif nid == stage.nodes[-1]:
            units.append(Unit(tuple(stage.nodes), stage))
    cls.units = units
    # attribute names first, in graph order, so shortcut modules never take a node's name
    cls.containers, cls.container_of = _containers(graph, staged, lambda n: is_module(n, rep))
    for nid in rep.order:
        node = graph.nodes[nid]
        if nid in staged:
            stage_attr(cls, staged[nid])
        elif nid in cls.container_of:
            top = cls.container_of[nid]
            cls.attrs.create(top, key=("container", top), fallback="layer")
        elif has_module(node, rep):
            node_attr(cls, node)
    # lint: every edge into a unit comes from an earlier unit (fx's Graph.lint)
    pos = {u.last: i for i, u in enumerate(units)}
    for i, u in enumerate(units):
        for e in graph.in_edges(u.first):
            if pos.get(e.src, len(units)) >= i:
                raise AssertionError(
                    f'{cls.where}: statements out of topological order at "{graph.nodes[u.first].name}"'
                )


def check_stage(cls: ClassDraft, stage: Stage) -> None:
    graph = cls.graph
    where = f'{cls.where}: stage "{stage.name}"'
    if not stage.nodes:
        raise UserError(f"{where} is empty", exit_code=1)
    for i, nid in enumerate(stage.nodes):
        node = graph.nodes[nid]
        if node.type in IO_TYPES:
            raise UserError(f'{where} cannot hold {node.type} "{node.name}"', exit_code=1)
        ins = graph.in_edges(nid)
        if len(ins) != 1:
            raise UserError(
                f'{where}: "{node.name}" has {len(ins)} inputs; a stage is a chain of one-input nodes',
                exit_code=1,
            )
        if i > 0 and ins[0].src != stage.nodes[i - 1]:
            raise UserError(
                f'{where}: "{node.name}" does not follow "{graph.nodes[stage.nodes[i - 1]].name}"; '
                "a stage lists consecutive nodes of a chain",
                exit_code=1,
            )
        if i < len(stage.nodes) - 1 and len(graph.out_edges(nid)) != 1:
            raise UserError(
                f'{where}: "{node.name}" feeds {len(graph.out_edges(nid))} nodes; only the '
                "last node of a stage may feed others",
                exit_code=1,
            )
        lt = registry.get(node.type)
        if node.block_name is None and lt is not None and lt.module is None and node.type != "Flatten":
            raise UserError(
                f'{where}: {node.type} "{node.name}" has no module form and cannot be in a stage',
                exit_code=1,
            )


def _containers(
    graph: Graph, staged: dict, module: Callable[[Node], bool]
) -> tuple[dict[str, dict], dict[str, str]]:
    """Nodes named by a module path (``convs.0``, outside any stage) grouped into containers: a tree of
    keys per top-level name, leaves node ids; and node id -> top-level name. A name that is also a
    whole node's, or a path that runs through a leaf, keeps its node out (it is named as usual)."""
    whole = {n.name for n in graph.nodes.values() if not _PATH.fullmatch(n.name)}
    trees: dict[str, dict] = {}
    top_of: dict[str, str] = {}
    for nid, node in graph.nodes.items():
        if nid in staged or not _PATH.fullmatch(node.name) or not module(node):
            continue
        top, *rest = node.name.split(".")
        if top in whole or keyword.iskeyword(top):
            continue
        tree = trees.setdefault(top, {})
        for key in rest[:-1]:
            tree = tree.setdefault(key, {})
            if not isinstance(tree, dict):
                break
        else:
            if rest[-1] not in tree:
                tree[rest[-1]] = nid
                top_of[nid] = top
    for tree in _walk(trees):  # ModuleList keys in order
        if all(k.isdigit() for k in tree):
            items = sorted(tree.items(), key=lambda kv: int(kv[0]))
            tree.clear()
            tree.update(items)
    return trees, top_of


def _walk(trees: dict):
    for value in trees.values():
        if isinstance(value, dict):
            yield value
            yield from _walk(value)


def _reachable(graph: Graph, output_id: str) -> set[str]:
    reach = {output_id}
    frontier = [output_id]
    while frontier:
        nid = frontier.pop()
        for e in graph.in_edges(nid):
            if e.src not in reach:
                reach.add(e.src)
                frontier.append(e.src)
    return reach


# ---------------------------------------------------------------------------- channels
def compute_channels(st: PlanningState, cls: ClassDraft) -> None:
    graph = cls.graph
    head, stem = network_arguments(st, cls) if cls.block is None else (None, None)
    for nid in cls.rep.order:
        node = graph.nodes[nid]
        cls.params[nid] = cls.sym_params(node, specs(st, node))
        if nid == head:
            cls.params[nid]["out_features"] = Sym(("name", "num_classes"), cls.net_args["num_classes"])
        ins = cls.in_shapes(node) if node.type not in ("Input", "BlockInput") else []
        if nid == stem:
            cls.ch[nid] = Sym(("name", "in_channels"), cls.net_args["in_channels"])
        else:
            cls.ch[nid] = cls.channel_rule(node, cls.params[nid], ins)
    # fail loudly if a channel expression disagrees with shape inference in any instance
    for info, env in zip(cls.infos, cls.envs(), strict=True):
        for nid, sym in cls.ch.items():
            shape = info.nodes[nid].out_shape
            if sym.ast is not None and evaluate(sym.ast, env) != shape[cls.axis.get(nid, 0)]:
                raise AssertionError(
                    f'{cls.where}: channel expression for "{graph.nodes[nid].name}" disagrees with '
                    "shape inference"
                )


def network_arguments(st: PlanningState, cls: ClassDraft) -> tuple[str | None, str | None]:
    """torchvision's constructor arguments for the network: ``num_classes`` where a Linear head makes
    the (vector) output, reached back from Output through layers that keep the channels;
    ``in_channels`` where every consumer of the input is a plain convolution (the stem). Returns the
    head's and the input's node ids (None where the argument does not apply)."""
    graph, rep = cls.graph, cls.rep
    head = None
    out = st.analysis.output_shape
    nid = cls.output_id
    while out is not None and len(out) == 1:
        ins = graph.in_edges(nid)
        if len(ins) != 1:
            break
        nid = ins[0].src
        node = graph.nodes[nid]
        if node.block_name is not None:
            break
        if node.type == "Linear":
            if rep.nodes[nid].out_shape == tuple(out):
                head = nid
            break
        if layer_codegen.get(node.type).channels is not None or len(graph.in_edges(nid)) != 1:
            break
    if head is not None:
        cls.net_args["num_classes"] = int(out[0])
    stem = None
    inputs = graph.nodes_of_type("Input")
    if len(inputs) == 1:
        outs = graph.out_edges(inputs[0].id)
        if outs and all(
            not e.is_shortcut and graph.nodes[e.dst].type == "Conv2d" and len(rep.nodes[e.dst].in_shapes) == 1
            for e in outs
        ):
            stem = inputs[0].id
            cls.net_args["in_channels"] = int(rep.nodes[stem].out_shape[0])
    for name in cls.net_args:
        cls.locals.reserve(name)
        cls.argnames[name] = name
    return head, stem


def specs(st: PlanningState, node: Node) -> tuple[ParamSpec, ...]:
    if node.block_name is not None:
        bdef = st.project.blocks[node.block_name]
        return tuple(
            ParamSpec(k, p.type if p.type in ("int", "float", "bool") else "int", p.default)
            for k, p in bdef.params.items()
        )
    return registry.get(node.type).params


# ---------------------------------------------------------------------------- shortcuts
def plan_shortcuts(st: PlanningState, cls: ClassDraft) -> None:
    for e in cls.graph.edges.values():
        if not e.is_shortcut or e.dst not in cls.reach:
            continue
        applied = {
            info.shortcuts[e.id].applied if e.id in info.shortcuts else "identity" for info in cls.infos
        }
        if applied == {"identity"}:
            continue
        if len(applied) == 1 and static_projection(st, cls, e) is not None:
            cls.static[e.id] = applied.pop()
        else:
            if cls.block is None:
                raise AssertionError("the network has one instance")
            cls.dynamic[e.id] = cls.locals.create(
                e.name or "shortcut", key=("shortcut", e.id), fallback="shortcut"
            )


# ---------------------------------------------------------------------------- forward's needs
def plan_inplace(cls: ClassDraft, classes: dict[str, ClassPlan]) -> None:
    """Which units' values die where (``last_use``), which nodes may not run in place
    (``unsafe_inplace``: an in-place activation must not overwrite memory still needed), and whether
    the class may return (a view of) its input."""
    graph, units = cls.graph, cls.units
    unit_of = {u.last: i for i, u in enumerate(units)}
    last_use: dict[int, int] = {}
    for i, u in enumerate(units):
        for e in graph.in_edges(u.first):
            last_use[unit_of[e.src]] = i
    unsafe: set[str] = set()
    for i, u in enumerate(units):
        node = graph.nodes[u.first]
        if node.type in IO_TYPES:
            continue
        for e in graph.in_edges(u.first):
            if len(graph.out_edges(e.src)) > 1:
                unsafe.add(u.first)
            for src_id in alias_chain(cls, classes, e.src):
                src_node = graph.nodes[src_id]
                if src_node.type in ("Input", "BlockInput") or last_use.get(unit_of.get(src_id, -1), -1) > i:
                    unsafe.add(u.first)
    cls.unit_of = unit_of
    cls.last_use = last_use
    cls.unsafe_inplace = unsafe
    cls.output_aliases_input = any(
        graph.nodes[n].type == "BlockInput" for n in alias_chain(cls, classes, cls.output_id)
    )


def alias_chain(cls: ClassDraft, classes: dict[str, ClassPlan], node_id: str) -> list[str]:
    """``node_id`` and the nodes whose output its output may share memory with (views,
    Identity, Dropout in eval mode, blocks that can return their input)."""
    chain = [node_id]
    while True:
        node = cls.graph.nodes[chain[-1]]
        if node.block_name is not None:
            aliases = classes[node.block_name].output_aliases_input
        else:
            aliases = layer_codegen.get(node.type).aliases_input
        if not aliases:
            return chain
        ins = cls.graph.in_edges(node.id)
        if not ins:
            return chain
        chain.append(ins[0].src)


def forward_names(cls: ClassDraft) -> list[tuple[str, object]]:
    """The attribute names forward reads, in the order it reads them: ``("shortcut", edge id)`` for a
    shortcut's projection module, ``("param", name)`` for a block parameter a functional node uses
    (``x[:, : self.out_planes]``). The planner names them in this order."""
    out: list[tuple[str, object]] = []
    for u in cls.units:
        node = cls.graph.nodes[u.first]
        if node.type in IO_TYPES:
            continue
        for e in cls.graph.in_edges(u.first):
            if e.id in cls.static or e.id in cls.dynamic:
                out.append(("shortcut", e.id))
        if not cls.is_functional(u):
            continue
        for value in cls.params[node.id].values():
            if not isinstance(value, Sym) or value.is_const or cls.block is None:
                continue
            if value.ast is None:
                cls.lit(value, node)  # raises the readable error
            out += [("param", raw) for raw in _names(value.ast)]
    return out


def _names(ast: tuple) -> list[str]:
    """The names in an expression, in the order codegen/symbolic.py renders them."""
    if ast[0] == "name":
        return [ast[1]]
    if ast[0] == "int":
        return []
    return [n for a in ast[1:] for n in _names(a)]


# ---------------------------------------------------------------------------- signature, doc, frozen layers
def init_params(cls: ClassDraft) -> list[str]:
    """The constructor's parameters after ``self``."""
    params: list[str] = []
    if cls.block is None:
        return [f"{name}: int = {value}" for name, value in cls.net_args.items()]
    params.append("in_channels: int")
    for pname, bp in cls.block.params.items():
        t = bp.type if bp.type in ("int", "float", "bool") else "int"
        default = bp.default
        if t == "float" and isinstance(default, int) and not isinstance(default, bool):
            default = float(default)
        ok = (
            isinstance(default, bool)
            if t == "bool"
            else isinstance(default, (int, float)) and not isinstance(default, bool)
        )
        if not ok:
            raise UserError(
                f'block "{cls.block.name}": parameter "{pname}" has default {default!r}, which is not a {t}',
                exit_code=1,
            )
        params.append(f"{cls.argnames[pname]}: {t} = {literal(default)}")
    for argname in [*cls.dynamic.values(), *cls.passed]:
        params.append(f"{argname}: nn.Module | None = None")
    return params


def class_doc(st: PlanningState, cls: ClassDraft) -> str:
    """A block's doc, else ``ResNet-20: 3x32x32 input, 10 outputs, 269,722 parameters.``"""
    if cls.block is not None:
        return doc_text(cls.block.doc) or doc_text(f"{cls.block.name} block.") or "A block."
    a = st.analysis
    inputs = a.project.graph.nodes_of_type("Input")
    shape = a.root.nodes[inputs[0].id].out_shape
    out = a.output_shape
    outputs = f"{out[0]} outputs" if len(out) == 1 else "output " + "x".join(map(str, out))
    facts = f"{'x'.join(map(str, shape))} input, {outputs}, {a.total_params:,} parameters."
    title = doc_text(st.project.name, limit=90 - len(facts))
    return f"{title}: {facts}" if title else facts[0].upper() + facts[1:]


def freeze_targets(cls: ClassDraft) -> list[tuple[str, list[str]]]:
    """Frozen nodes that hold parameters, as (attribute, node ids): one per stage whose members
    are all frozen (or hold none), else one per node."""
    graph = cls.graph

    def weighted(nid: str) -> bool:
        return cls.rep.nodes[nid].num_params > 0

    out: list[tuple[str, list[str]]] = []
    done: set[str] = set()
    for nid in cls.rep.order:
        if not graph.nodes[nid].frozen or nid not in cls.code_paths or not weighted(nid):
            continue
        stage = cls.staged.get(nid)
        if stage is not None and all(graph.nodes[m].frozen or not weighted(m) for m in stage.nodes):
            if stage.name not in done:
                done.add(stage.name)
                out.append((stage_attr(cls, stage), [m for m in stage.nodes if weighted(m)]))
            continue
        out.append((cls.code_paths[nid], [nid]))
    return out


def has_batchnorm(st: PlanningState, cls: ClassDraft, nid: str) -> bool:
    node = cls.graph.nodes[nid]
    if node.type == "BatchNorm2d":
        return True
    seen: set[str] = set()
    todo = [node.block_name] if node.block_name is not None else []
    while todo:
        name = todo.pop()
        if name in seen or name not in st.project.blocks:
            continue
        seen.add(name)
        for inner in st.project.blocks[name].graph.nodes.values():
            if inner.type == "BatchNorm2d":
                return True
            if inner.block_name is not None:
                todo.append(inner.block_name)
    return False
